"""Back a tree up: python examples/backup_in_15_lines.py DIR VAULT JOURNAL [LOCAL_DIR]"""
import sys

import glacierlib

# Credentials and region: botocore's usual chain (environment, ~/.aws, instance role).
directory, vault, journal, *local = sys.argv[1:]
settings = glacierlib.settings(dir=directory, vault=vault, journal=journal, new=True,
                               replace_modified=True, delete_removed=True,
                               local_dir=local[0] if local else None)  # the built-in server
report = glacierlib.sync(settings)  # a GlacierlibError ends the script: exit 1, a traceback
for failure in report.result.failed:
    print(f"not backed up: {failure.display}: {failure.reason}", file=sys.stderr)
print(f"uploaded {report.result.uploaded} file(s), deleted {report.result.deleted}")
sys.exit(0 if report.ok else 1)
