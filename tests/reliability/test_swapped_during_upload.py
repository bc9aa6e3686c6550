"""A file replaced by a FIFO or by a link to another file after the walk: never a hang or a read.

Found by attacking the merged product: the upload opened the walked path with a blocking
``open``, so a FIFO put in a file's place between the walk and the upload hung ``sync``
forever, and a symlink to another file (say a secret outside ``--dir``) had its bytes read, and
for a multipart file sent as parts, before the final identity check refused it. The rule: the
upload opens the path without blocking and checks that it is a regular file with the walk's
inode before reading a byte; anything else is "changed while uploaded", retried by the next run.

The swap happens at a deterministic moment: the ``FileStarted`` event, emitted just before the
file is opened; the sync is the library's, against the project's local server over real HTTP.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from glacierlib.config import Settings
from glacierlib.journal import read_journal
from glacierlib.operations.sync import SyncReport, sync
from glacierlib.progress import BytesMoved, FileStarted, ProgressEvent

MIB = 1 << 20


def _swap_at_start(victim: Path, kind: str, secret: Path,
                   sent: list[int]):  # type: ignore[no-untyped-def]
    def on_event(event: ProgressEvent) -> None:
        if isinstance(event, BytesMoved):
            sent.append(event.delta)
        if isinstance(event, FileStarted) and victim.exists() and not victim.is_fifo():
            victim.unlink()
            if kind == "fifo":
                os.mkfifo(victim)
            else:
                victim.symlink_to(secret)
    return on_event


@pytest.mark.parametrize("size", [5000, 2 * MIB + 1], ids=["one-part", "multipart"])
@pytest.mark.parametrize("kind", ["fifo", "link"])
def test_swapped_file_is_changed_not_read(tmp_path: Path, kind: str, size: int) -> None:
    src = tmp_path / "src"
    src.mkdir()
    victim = src / "data.bin"
    victim.write_bytes(os.urandom(size))
    secret = tmp_path / "secret"
    secret.write_bytes(b"s" * size)
    settings = Settings(local_dir=tmp_path / "glacier", vault="v", journal=tmp_path / "journal",
                        dir=src, part_size=MIB, concurrency=2)
    result: list[SyncReport] = []
    sent: list[int] = []
    runner = threading.Thread(target=lambda: result.append(
        sync(settings, on_event=_swap_at_start(victim, kind, secret, sent))), daemon=True)
    runner.start()
    runner.join(60)
    if runner.is_alive():  # release the reader blocked in open() so the test can end
        os.close(os.open(victim, os.O_WRONLY | os.O_NONBLOCK))
        runner.join(60)
        pytest.fail("sync hung opening a FIFO swapped in after the walk")
    (report,) = result
    assert report.result.changed == ("data.bin",)
    assert report.result.uploaded == 0
    assert read_journal(settings.journal).latest_by_name() == {}
    # Nothing of the swapped-in file was sent: not one part (a multipart upload used to send
    # the secret's parts before its final check), and no upload is left pending.
    assert [d for d in sent if d > 0] == []
    assert not (tmp_path / "journal.uploads").exists()
