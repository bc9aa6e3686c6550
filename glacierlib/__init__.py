"""glacierlib: Amazon Glacier vaults from Python, compatible with mt-aws-glacier journals.

The public surface is re-exported here; submodules hold one concept each (``treehash``,
``journal``, ``metadata``, ``storage``, ``client``, ``operations``, ``localserver``).
"""

from __future__ import annotations

from glacierlib.config import Settings, read_config_file, resolve_settings
from glacierlib.exceptions import (
    AuthFailed,
    ConfigError,
    GlacierlibError,
    InvalidRequest,
    InventoryError,
    JournalError,
    JournalLockedError,
    LimitExceeded,
    MetadataError,
    NoLongerSupported,
    NotFound,
    NothingReadyYet,
    PolicyEnforced,
    ServiceError,
    ServiceUnavailable,
    Throttled,
    UnsafeNameError,
    VerificationError,
)
from glacierlib.journal import JournalState, JournalWriter, read_journal
from glacierlib.treehash import ByteRange, TreeHash, TreeHasher, tree_hash_file

__version__ = "0.2.0"  # the one place: pyproject.toml and the User-Agent read it

__all__ = [
    "AuthFailed",
    "ByteRange",
    "ConfigError",
    "GlacierlibError",
    "InvalidRequest",
    "InventoryError",
    "JournalError",
    "JournalLockedError",
    "JournalState",
    "JournalWriter",
    "LimitExceeded",
    "MetadataError",
    "NoLongerSupported",
    "NotFound",
    "NothingReadyYet",
    "PolicyEnforced",
    "ServiceError",
    "ServiceUnavailable",
    "Settings",
    "Throttled",
    "TreeHash",
    "TreeHasher",
    "UnsafeNameError",
    "VerificationError",
    "__version__",
    "read_config_file",
    "read_journal",
    "resolve_settings",
    "tree_hash_file",
]
