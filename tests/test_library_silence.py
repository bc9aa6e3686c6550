"""The library never prints: a whole sync, upload and check under ``capsys`` write nothing.

Also no logging handler is installed by the library (root logger left as the test found it).
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from glacierlib.config import Settings
from glacierlib.operations.check_local_hash import check_local_hash
from glacierlib.operations.purge_vault import purge_vault
from glacierlib.operations.sync import sync
from glacierlib.operations.upload_file import upload_file
from glacierlib.progress import ProgressEvent

MIB = 1 << 20


def test_operations_are_silent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"a")
    (root / "sub" / "big").write_bytes(b"b" * (2 * MIB + 1))
    (root / "bad\nname").write_bytes(b"c")
    (root / "empty").write_bytes(b"")
    handlers_before = list(logging.getLogger().handlers)
    events: list[ProgressEvent] = []
    settings = Settings(local_dir=tmp_path / "g", vault="v", journal=tmp_path / "j.log",
                        dir=root, part_size=MIB, concurrency=2)
    report = sync(settings, events.append)
    assert report.result.uploaded == 2
    assert not report.ok  # the bad name
    upload_file(Settings(local_dir=tmp_path / "g", vault="v", journal=tmp_path / "j.log",
                         stdin=True, set_rel_filename="stream"),
                stream=io.BytesIO(b"s" * 100))
    check = check_local_hash(Settings(dir=root, journal=tmp_path / "j.log"))
    assert [(r.name, r.status) for r in check.results] == [
        ("a.txt", "OK"), ("stream", "MISSED"), ("sub/big", "OK")]
    purge = purge_vault(Settings(local_dir=tmp_path / "g", vault="v",
                                 journal=tmp_path / "j.log"))
    assert purge.result.deleted == 3
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""
    assert events  # the progress went to the callback instead
    assert logging.getLogger().handlers == handlers_before
