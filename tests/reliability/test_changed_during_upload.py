"""A file rewritten in place while it uploads, with its size and mtime kept, is not recorded.

Found by attacking the merged product: a 3-part file whose first part was rewritten (same
size) after that part had been read and sent, its mtime then put back (``rsync --inplace -t``,
``touch -r``, a database or disk image that keeps its timestamps), was journaled with the old
bytes' tree hash. Every later sync then saw the same size and mtime and never uploaded the new
content: the backup silently stayed the old one. The rule: a file's identity while it uploads
includes its ctime, which no user-space program can set back; any change to it means "changed
while uploaded": not recorded, uploaded again by the next run.

The change is made at a deterministic moment (the progress event of the first part sent); the
sync is the library's, against the project's local server over real HTTP.
"""

from __future__ import annotations

import os
from pathlib import Path

from glacierlib.config import Settings
from glacierlib.journal import read_journal
from glacierlib.operations.sync import sync
from glacierlib.progress import BytesMoved, ProgressEvent
from glacierlib.treehash import tree_hash_file

MIB = 1 << 20


def test_rewrite_in_place_keeping_mtime_during_upload_is_not_recorded(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    big = src / "big.img"
    big.write_bytes(os.urandom(3 * MIB))
    settings = Settings(local_dir=tmp_path / "glacier", vault="v", journal=tmp_path / "journal",
                        dir=src, part_size=MIB, concurrency=1)
    fired: list[int] = []

    def rewrite_first_part(event: ProgressEvent) -> None:
        if isinstance(event, BytesMoved) and not fired:
            st = big.stat()
            fd = os.open(big, os.O_WRONLY)
            try:
                os.pwrite(fd, os.urandom(4096), 0)  # bytes already read and sent
            finally:
                os.close(fd)
            os.utime(big, ns=(st.st_atime_ns, st.st_mtime_ns))
            fired.append(event.delta)

    report = sync(settings, on_event=rewrite_first_part)
    assert fired == [MIB]
    assert report.result.changed == ("big.img",)
    assert "big.img" not in read_journal(settings.journal).latest_by_name()

    again = sync(settings)
    assert again.result.uploaded == 1
    entry = read_journal(settings.journal).latest_by_name()["big.img"]
    assert entry.tree_hash == tree_hash_file(big)
