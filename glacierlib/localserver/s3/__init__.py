"""The local server's S3 face: buckets and objects over the Glacier face's machinery.

``--local DIR`` and ``mtglacier local-server`` answer both APIs on one port. S3 state lives
beside the vaults (``DIR/s3`` on disk, with the same crash-safe document-plus-log layout) and
reads the same simulated clock, so one ``advance_clock`` moves vault jobs and S3 restores.
"""

from __future__ import annotations

from pathlib import Path

from glacierlib.localserver.clock import SimClock
from glacierlib.localserver.s3.frontend import is_s3_request, serve_s3
from glacierlib.localserver.s3.multipart import S3Api
from glacierlib.localserver.s3.service import RESTORE_TIMES
from glacierlib.localserver.storage_disk import DiskStorage
from glacierlib.localserver.storage_memory import MemoryStorage

__all__ = ["RESTORE_TIMES", "S3Api", "is_s3_request", "open_s3", "serve_s3"]


def open_s3(data_dir: Path | None, clock: SimClock, *, fsync: bool = False) -> S3Api:
    """The S3 face's service: in memory, or under ``data_dir/s3`` (its own lock file; the
    data directory's lock is already held by the Glacier face's storage)."""
    if data_dir is None:
        return S3Api(MemoryStorage(), clock)
    storage = DiskStorage(Path(data_dir) / "s3", fsync=fsync)
    try:
        return S3Api(storage, clock)
    except BaseException:
        storage.close()
        raise
