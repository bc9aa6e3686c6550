"""Benchmark: ``decode_description`` per mt2 description, this checkout against another.

    git show REV:glacierlib/metadata.py > /tmp/old_metadata.py
    python benchmarks/decode_descriptions.py [--old /tmp/old_metadata.py] [--count 50000]

Both modules are loaded into this one process and timed in turns, so the ratio holds on a
busy machine. ``download-inventory`` decodes one description per archive.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path
from types import ModuleType

from glacierlib import metadata


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("old_metadata", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--old", type=Path, help="an older glacierlib/metadata.py")
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    opts = parser.parse_args()
    texts = [metadata.encode_mt2(f"dir{i % 100}/file{i}.txt", 1_600_000_000 + i)
             for i in range(opts.count)]
    modules = [("this checkout", metadata)]
    if opts.old:
        modules.insert(0, (str(opts.old), _load(opts.old)))
    for _ in range(opts.rounds):
        cells = []
        for name, module in modules:
            started = time.perf_counter()
            for text in texts:
                module.decode_description(text)
            cells.append(f"{name}: {(time.perf_counter() - started) / len(texts) * 1e6:.1f} us")
        print("  ".join(cells))


if __name__ == "__main__":
    main()
