"""Stream a database dump (or any pipe) into a vault without a temporary file.

    pg_dump mydb | python examples/backup_database_dump.py --vault dumps \
        --journal ~/dumps.journal --name "mydb/$(date +%F).sql"
    tar c examples/sample | python examples/backup_database_dump.py --local /tmp/glacier \
        --vault demo --journal /tmp/dumps.journal --name sample.tar

The stream is read one part at a time (memory stays within concurrency x part size whatever
its length) and recorded in the journal under ``--name``, like ``mtglacier upload-file
--stdin``. The same name is refused twice: put the date in it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import glacierlib


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vault", required=True)
    parser.add_argument("--journal", type=Path, required=True)
    parser.add_argument("--name", required=True, help="the name to record, e.g. db/2024.sql")
    parser.add_argument("--local", type=Path, default=None)
    parser.add_argument("--region", default=None)
    parser.add_argument("--expected-max-gib", type=int, default=None,
                        help="largest size expected: lets the part size grow to fit")
    opts = parser.parse_args(argv)
    try:
        settings = glacierlib.settings(
            vault=opts.vault, journal=opts.journal, local_dir=opts.local, region=opts.region,
            stdin=True, set_rel_filename=opts.name, part_size_mib=16,
            check_max_file_size_mib=opts.expected_max_gib * 1024 if opts.expected_max_gib
            else None,
        )
        report = glacierlib.upload_file(settings, stream=sys.stdin.buffer)
    except glacierlib.GlacierlibError as exc:
        print(f"upload failed: {exc}", file=sys.stderr)
        return 1
    print(f"stored {report.name}: {report.size} bytes, archive {report.archive_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
