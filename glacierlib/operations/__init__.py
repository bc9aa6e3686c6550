"""One public function per command; each takes a ``Settings`` and returns a frozen report.

Operations reach Glacier only through a ``VaultStore`` obtained from
:func:`glacierlib.operations._store.store_for`, which also starts the built-in local server
for ``--local DIR``. Import the command modules directly (``glacierlib.operations.sync``);
this package stays import-light so that loading one command does not load them all.
"""

from __future__ import annotations
