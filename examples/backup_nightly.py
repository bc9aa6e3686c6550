"""A nightly backup script that embeds glacierlib instead of shelling out to mtglacier.

    python examples/backup_nightly.py ~/Documents --vault documents --journal ~/documents.journal
    python examples/backup_nightly.py examples/sample --local /tmp/glacier --vault demo \
        --journal /tmp/demo.journal

Uploads new and modified files (tree-hash checked), deletes archives of removed files, logs
progress through the ``logging`` module, and exits 0 only when every file is safely stored:
the kind of wrapper people put in cron. Credentials come from botocore's usual chain (env,
``~/.aws``, instance role) unless ``--local`` points at the built-in server.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import glacierlib
from glacierlib.progress import FileDone, FileSkipped, Notice, ProgressEvent

log = logging.getLogger("backup")


def on_event(event: ProgressEvent) -> None:
    """Called on worker threads: keep it quick and thread-safe (logging is)."""
    if isinstance(event, FileDone):
        log.info("%s %s (%d bytes)", event.action, event.path, event.size)
    elif isinstance(event, FileSkipped):
        (log.error if event.error else log.warning)("skipped %s: %s", event.path, event.reason)
    elif isinstance(event, Notice):
        log.warning("%s", event.message)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--vault", required=True)
    parser.add_argument("--journal", type=Path, required=True)
    parser.add_argument("--region", default=None)
    parser.add_argument("--local", type=Path, default=None,
                        help="use the built-in server storing under this directory")
    parser.add_argument("--concurrency", type=int, default=4)
    opts = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    try:
        settings = glacierlib.settings(  # typed keywords: mypy catches a misspelled option
            dir=opts.dir, vault=opts.vault, journal=opts.journal, region=opts.region,
            local_dir=opts.local, concurrency=opts.concurrency,
            new=True, replace_modified=True, delete_removed=True, detect="mtime-and-treehash",
        )
        report = glacierlib.sync(settings, on_event)
    except glacierlib.JournalLockedError:
        log.error("another backup is still running on %s; try again later", opts.journal)
        return 75
    except glacierlib.GlacierlibError as exc:  # bad settings (ConfigError) included
        log.error("backup failed: %s", exc)
        return 1
    result = report.result
    log.info("uploaded %d files (%d bytes), replaced %d, deleted %d", result.uploaded,
             result.uploaded_bytes, result.replaced, result.deleted)
    for failure in result.failed:
        log.error("not backed up: %s: %s", failure.display, failure.reason)
    for name in result.changed:
        log.warning("changed during upload, retried next run: %s", name)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
