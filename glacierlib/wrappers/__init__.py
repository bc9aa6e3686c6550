"""Store wrappers: each adds one concern around any ``VaultStore`` and forwards the rest.

``ForwardingStore`` forwards every call explicitly; ``LoggedStore`` logs calls without secrets;
``RetryingStore`` resumes broken job-output streams (botocore retries whole requests).
``install_secret_redaction`` keeps credentials out of every log record.
"""

from __future__ import annotations

from glacierlib.wrappers.forwarding import ForwardingStore
from glacierlib.wrappers.logged import LoggedStore
from glacierlib.wrappers.redaction import SecretRedactingFilter, install_secret_redaction, redact
from glacierlib.wrappers.retrying import RetryingStore, RetryPolicy

__all__ = [
    "ForwardingStore",
    "LoggedStore",
    "RetryPolicy",
    "RetryingStore",
    "SecretRedactingFilter",
    "install_secret_redaction",
    "redact",
]
