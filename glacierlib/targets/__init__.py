"""Storage targets: one narrow interface (``base``), one implementation per kind of target.

``base`` and ``refs`` are botocore-free values and protocols the planner and executor may use;
``glacier`` adapts the existing ``VaultStore`` stack and ``s3`` talks to S3 over botocore.
Nothing is re-exported here, so importing ``glacierlib.targets.base`` never loads botocore.
"""
