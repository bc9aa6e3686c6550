"""glacierlib: Amazon Glacier vaults from Python, compatible with mt-aws-glacier journals.

The public surface is re-exported here; submodules hold one concept each (``treehash``,
``journal``, ``metadata``, ``storage``, ``client``, ``operations``, ``localserver``)::

    import glacierlib

    settings = glacierlib.settings(dir="/srv/data", vault="nightly", journal="nightly.journal")
    report = glacierlib.sync(settings)

The operations (``sync``, ``restore``, ``restore_file``...) and their reports are loaded on
first use (PEP 562), so ``import glacierlib`` stays quick and does not import botocore;
``glacierlib.testing`` (pytest fixtures) is never imported from here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from glacierlib.config import Settings, read_config_file, resolve_settings
from glacierlib.exceptions import (
    AuthFailed,
    ConfigError,
    GlacierlibError,
    InvalidRequest,
    InvalidSetting,
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
from glacierlib.options import Detect, FilterKind, InventoryFormat, Scheme, Tier, settings
from glacierlib.treehash import ByteRange, TreeHash, TreeHasher, tree_hash_file

if TYPE_CHECKING:  # what __getattr__ below loads on first use, spelled out for type checkers
    from glacierlib.api import FileRestore, NotInJournal, RestoreFailed, restore_file
    from glacierlib.operations.check_local_hash import CheckLocalHashReport, check_local_hash
    from glacierlib.operations.check_remote import CheckRemoteReport, check_remote
    from glacierlib.operations.inventory import (
        DownloadInventoryReport,
        InventoryJobStarted,
        download_inventory,
        retrieve_inventory,
    )
    from glacierlib.operations.jobs import JobsReport, list_jobs
    from glacierlib.operations.purge_vault import PurgeReport, purge_vault
    from glacierlib.operations.restore import RestoreReport, restore
    from glacierlib.operations.restore_completed import RestoreCompletedReport, restore_completed
    from glacierlib.operations.sync import SyncReport, sync
    from glacierlib.operations.upload_file import UploadReport, upload_file
    from glacierlib.operations.uploads import (
        AbortUploadsReport,
        UploadsReport,
        abort_uploads,
        list_uploads,
    )
    from glacierlib.operations.vaults import create_vault, delete_vault, list_vaults

#: Name -> module of everything loaded on first use.
_LAZY: dict[str, str] = {
    **dict.fromkeys(("FileRestore", "NotInJournal", "RestoreFailed", "restore_file"),
                    "glacierlib.api"),
    **dict.fromkeys(("CheckLocalHashReport", "check_local_hash"),
                    "glacierlib.operations.check_local_hash"),
    **dict.fromkeys(("CheckRemoteReport", "check_remote"), "glacierlib.operations.check_remote"),
    **dict.fromkeys(("DownloadInventoryReport", "InventoryJobStarted", "download_inventory",
                     "retrieve_inventory"), "glacierlib.operations.inventory"),
    **dict.fromkeys(("JobsReport", "list_jobs"), "glacierlib.operations.jobs"),
    **dict.fromkeys(("PurgeReport", "purge_vault"), "glacierlib.operations.purge_vault"),
    **dict.fromkeys(("RestoreReport", "restore"), "glacierlib.operations.restore"),
    **dict.fromkeys(("RestoreCompletedReport", "restore_completed"),
                    "glacierlib.operations.restore_completed"),
    **dict.fromkeys(("SyncReport", "sync"), "glacierlib.operations.sync"),
    **dict.fromkeys(("UploadReport", "upload_file"), "glacierlib.operations.upload_file"),
    **dict.fromkeys(("AbortUploadsReport", "UploadsReport", "abort_uploads", "list_uploads"),
                    "glacierlib.operations.uploads"),
    **dict.fromkeys(("create_vault", "delete_vault", "list_vaults"),
                    "glacierlib.operations.vaults"),
}


def __getattr__(name: str) -> Any:
    """Load an operation (and botocore with it) only when the caller first uses one."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'glacierlib' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is an ordinary one
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__version__ = "0.2.0"  # the one place: pyproject.toml and the User-Agent read it

__all__ = [
    "AbortUploadsReport",
    "AuthFailed",
    "ByteRange",
    "CheckLocalHashReport",
    "CheckRemoteReport",
    "ConfigError",
    "Detect",
    "DownloadInventoryReport",
    "FileRestore",
    "FilterKind",
    "GlacierlibError",
    "InvalidRequest",
    "InvalidSetting",
    "InventoryError",
    "InventoryFormat",
    "InventoryJobStarted",
    "JobsReport",
    "JournalError",
    "JournalLockedError",
    "JournalState",
    "JournalWriter",
    "LimitExceeded",
    "MetadataError",
    "NoLongerSupported",
    "NotFound",
    "NotInJournal",
    "NothingReadyYet",
    "PolicyEnforced",
    "PurgeReport",
    "RestoreCompletedReport",
    "RestoreFailed",
    "RestoreReport",
    "Scheme",
    "ServiceError",
    "ServiceUnavailable",
    "Settings",
    "SyncReport",
    "Throttled",
    "Tier",
    "TreeHash",
    "TreeHasher",
    "UnsafeNameError",
    "UploadReport",
    "UploadsReport",
    "VerificationError",
    "__version__",
    "abort_uploads",
    "check_local_hash",
    "check_remote",
    "create_vault",
    "delete_vault",
    "download_inventory",
    "list_jobs",
    "list_uploads",
    "list_vaults",
    "purge_vault",
    "read_config_file",
    "read_journal",
    "resolve_settings",
    "restore",
    "restore_completed",
    "restore_file",
    "retrieve_inventory",
    "settings",
    "sync",
    "tree_hash_file",
    "upload_file",
]
