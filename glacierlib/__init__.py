"""glacierlib: Amazon Glacier vaults from Python, compatible with mt-aws-glacier journals.

The public surface is re-exported here; submodules hold one concept each (``treehash``,
``journal``, ``metadata``, ``storage``, ``client``, ``operations``, ``localserver``).
"""

from __future__ import annotations

from glacierlib.exceptions import (
    AuthFailed,
    ConfigError,
    GlacierlibError,
    InvalidRequest,
    JournalError,
    JournalLockedError,
    MetadataError,
    NoLongerSupported,
    NotFound,
    NothingReadyYet,
    ServiceError,
    ServiceUnavailable,
    Throttled,
    UnsafeNameError,
    VerificationError,
)
from glacierlib.treehash import ByteRange, TreeHash, TreeHasher, tree_hash_file

__version__ = "0.1.0"

__all__ = [
    "AuthFailed",
    "ByteRange",
    "ConfigError",
    "GlacierlibError",
    "InvalidRequest",
    "JournalError",
    "JournalLockedError",
    "MetadataError",
    "NoLongerSupported",
    "NotFound",
    "NothingReadyYet",
    "ServiceError",
    "ServiceUnavailable",
    "Throttled",
    "TreeHash",
    "TreeHasher",
    "UnsafeNameError",
    "VerificationError",
    "__version__",
    "tree_hash_file",
]
