"""Secrets suite (issue 7): the full cycle with --verbose and botocore DEBUG logging on.

Each command runs in its own ``python -m glacierlib_cli`` style subprocess (a two-line
launcher that turns botocore's and urllib3's loggers to DEBUG first, as a user reporting a bug
would), with ``--verbose`` and explicit ``--key/--secret/--token`` values unique to this test,
against the local server (this process, loopback HTTP, real SigV4 with that key pair). All
stdout and stderr is captured; the secret key, the session token and every signature must be
absent. The launcher also runs with a plain ``logging.basicConfig`` handler of its own on the
root logger, the way a wrapper script would collect logs.
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from glacierlib.localserver import LocalServer, ServerConfig, running_server

from .support import MIB, cli_env, make_tree, read_tree

pytestmark = pytest.mark.slow

VAULT = "secretive"
ACCESS_KEY = "AKIARELIABILITY" + secrets.token_hex(3).upper()
SECRET_KEY = "rel/" + secrets.token_urlsafe(27)
TOKEN = "IQoJrel+" + secrets.token_urlsafe(60) + "/end=="

_LAUNCH = """\
import logging, sys
if sys.argv[1] == "basic":
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
for name in ("botocore", "urllib3"):
    logging.getLogger(name).setLevel(logging.DEBUG)
from glacierlib_cli.main import main
sys.exit(main(sys.argv[2:]))
"""

#: A SigV4 signature (64 hex digits) after "Signature=" or botocore's "Signature:" line.
SIGNATURE = re.compile(r"signature\s*[=:]\s*[0-9a-f]{64}", re.IGNORECASE)
HEX64 = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")


@pytest.fixture
def server() -> Iterator[LocalServer]:
    config = ServerConfig(key_pairs=((ACCESS_KEY, SECRET_KEY),))
    with running_server(config=config) as srv:
        yield srv


def _run(mode: str, args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _LAUNCH, mode, *args], capture_output=True,
                          text=True, timeout=120, env=cli_env(), check=False)


def _leaks(text: str) -> list[str]:
    found = []
    for value in (SECRET_KEY, TOKEN):
        for form in {value, quote(value, safe=""), quote(value, safe="/")}:
            if form in text:
                found.append(f"{value[:6]}... as {form[:10]}...")
    found += [m.group(0)[:40] for m in SIGNATURE.finditer(text)]
    return found


@pytest.mark.parametrize("mode", ["verbose", "basic"])
def test_full_cycle_never_shows_secret_token_or_signature(
    server: LocalServer, tmp_path: Path, mode: str
) -> None:
    creds = ["--endpoint-url", server.endpoint_url, "--key", ACCESS_KEY, "--secret", SECRET_KEY,
             "--token", TOKEN, "--region", server.region, "--protocol", "http", "--verbose"]
    root, journal = tmp_path / "data", tmp_path / "journal.log"
    files = make_tree(root, small=5, big_sizes=(2 * MIB + 3,), seed=31)
    common = ["--dir", str(root), "--vault", VAULT, "--journal", str(journal)]
    outputs: list[str] = []

    def step(args: list[str], expect: int = 0) -> None:
        result = _run(mode, [*args, *creds])
        outputs.append(result.stdout + result.stderr)
        assert result.returncode == expect, (args, result.stderr[-2000:])

    step(["create-vault", VAULT])
    step(["sync", *common, "--partsize", "1"])
    shutil.rmtree(root)
    root.mkdir()
    step(["restore", *common, "--max-number-of-files", "100"])
    step(["restore-completed", *common])
    assert read_tree(root) == files
    check = _run(mode, ["check-local-hash", *common[:2], *common[4:], "--verbose"])
    outputs.append(check.stdout + check.stderr)
    assert check.returncode == 0, check.stderr
    step(["list-vaults"])
    # An authentication failure: the server's message quotes signing material.
    bad = _run(mode, ["list-vaults", *[c if c != SECRET_KEY else SECRET_KEY[::-1]
                                       for c in creds]])
    outputs.append(bad.stdout + bad.stderr)
    assert bad.returncode != 0

    everything = "\n".join(outputs)
    # The debug output is really there (botocore's request dumps and signing steps) ...
    assert "botocore.endpoint" in everything
    assert "botocore.auth" in everything and "StringToSign" in everything
    assert "Signature:" in everything and "<redacted>" in everything
    # ... and none of it carries a secret, a token or a signature.
    assert _leaks(everything) == []
    assert not [h for h in HEX64.findall(everything) if _is_signature_context(everything, h)]


def _is_signature_context(text: str, hex64: str) -> bool:
    """Whether a 64-hex string stands where a signature would (not a tree hash or SHA-256)."""
    at = text.find(hex64)
    before = text[max(0, at - 40):at].lower()
    return "signature" in before
