"""No secret key, session token, signature or Authorization header in logs, errors or reprs.

Real operations against the local server with DEBUG on for every logger (botocore's own
request/signing dumps included), every record captured as a handler would format it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest

from glacierlib.client import Connection, GlacierStore, make_session, open_store
from glacierlib.exceptions import AuthFailed, GlacierlibError, NotFound
from glacierlib.localserver import LocalServer
from glacierlib.storage import PartBody
from glacierlib.treehash import MIB
from glacierlib.wrappers import RetryPolicy
from glacierlib.wrappers.redaction import REDACTED, install_secret_redaction, redact

TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE/session+token=ZZtopSECRETtoken0123456789"
VAULT = "secrets"


class Capture(logging.Handler):
    """Formats every record the way a real handler would (message and traceback)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.texts: list[str] = []
        self.names: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))
        self.names.add(record.name)


@pytest.fixture
def captured() -> Iterator[Capture]:
    handler = Capture()
    root = logging.getLogger()
    touched = {name: logging.getLogger(name).level
               for name in ("", "botocore", "urllib3", "glacierlib")}
    root.addHandler(handler)
    for name in touched:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for name, level in touched.items():
            logging.getLogger(name).setLevel(level)


class Signatures:
    """Records the Authorization header of every request the store sends."""

    def __init__(self) -> None:
        self.values: list[str] = []

    def __call__(self, request: Any, **_: Any) -> None:
        auth = request.headers.get("Authorization")
        if auth:
            text = auth.decode() if isinstance(auth, bytes) else str(auth)
            self.values.append(text)

    def signatures(self) -> list[str]:
        return [re.search(r"Signature=([0-9a-f]{64})", v).group(1)  # type: ignore[union-attr]
                for v in self.values]


def watch(store: GlacierStore) -> Signatures:
    sigs = Signatures()
    # Observing what goes on the wire: a public botocore event, registered on our client.
    store._client.meta.events.register("before-send.glacier", sigs)
    return sigs


def exercise(store: Any, server: LocalServer) -> list[GlacierlibError]:
    """A bit of everything: uploads, listing, a retried request, failures."""
    errors: list[GlacierlibError] = []
    store.create_vault(VAULT)
    store.upload_archive(VAULT, PartBody.from_bytes(b"small archive"), "d")
    upload_id = store.initiate_multipart_upload(VAULT, MIB, "m")
    server.control.inject_fault("UploadMultipartPart", "error", 1, status=500)
    store.upload_part(VAULT, upload_id, 0, PartBody.from_bytes(b"p" * 1000))
    list(store.list_parts(VAULT, upload_id))
    list(store.list_vaults())
    try:
        store.describe_vault("missing-vault")
    except NotFound as exc:
        errors.append(exc)
    return errors


def assert_clean(texts: list[str], secrets: list[str], signatures: list[str]) -> None:
    assert signatures, "no request was observed"
    for text in texts:
        for secret in secrets:
            assert secret not in text
        for signature in signatures:
            assert signature not in text
        assert not re.search(r"Signature=[0-9a-f]{16}", text)
        assert not re.search(r"Authorization['\"]?: b?['\"]AWS4", text)


def test_debug_logging_of_every_logger_holds_no_secret(
    local_server: LocalServer, captured: Capture
) -> None:
    conn = Connection(region=local_server.region, endpoint_url=local_server.endpoint_url,
                      protocol="http", timeout=20, access_key=local_server.access_key,
                      secret_key=local_server.secret_key, session_token=TOKEN)
    store = GlacierStore(make_session(conn), conn, retry=RetryPolicy(max_attempts=3))
    sigs = watch(store)
    errors = exercise(store, local_server)
    # A wrong secret makes the server log the canonical request (with the token) at DEBUG.
    wrong = Connection(region=conn.region, endpoint_url=conn.endpoint_url, protocol="http",
                       access_key=conn.access_key, secret_key="Wrong" + "Secret/Key+0" * 3,
                       session_token=TOKEN)
    with GlacierStore(make_session(wrong), wrong) as bad:
        wrong_sigs = watch(bad)
        with pytest.raises(AuthFailed) as caught:
            bad.describe_vault(VAULT)
    errors.append(caught.value)
    store.close()

    assert local_server.secret_key
    secrets = [local_server.secret_key, TOKEN, wrong.secret_key or ""]
    texts = [*captured.texts, *(str(e) for e in errors), *(repr(e) for e in errors),
             repr(store), repr(conn), repr(wrong)]
    assert_clean(texts, secrets, sigs.signatures() + wrong_sigs.signatures())
    # The test saw what it claims to: botocore's signing and request dumps, redacted.
    assert {"botocore.auth", "botocore.endpoint"} <= captured.names
    joined = "\n".join(captured.texts)
    assert "StringToSign" in joined
    assert REDACTED in joined


def test_secrets_from_the_credential_chain_are_redacted(
    local_server: LocalServer, captured: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain_token = "ChainOnlyTokenValue/Never+Passed=Explicitly0123456789"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", local_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", local_server.secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", chain_token)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    conn = Connection(region=local_server.region, endpoint_url=local_server.endpoint_url,
                      protocol="http", timeout=20)
    store = open_store(conn)
    base = store.inner.inner  # type: ignore[attr-defined]
    sigs = watch(base)
    errors = exercise(store, local_server)
    store.close()  # type: ignore[attr-defined]
    texts = [*captured.texts, *(str(e) for e in errors)]
    assert any("x-amz-security-token" in t.lower() for t in texts)  # the token was logged...
    assert_clean(texts, [local_server.secret_key, chain_token], sigs.signatures())  # ...masked


def test_handler_filter_covers_loggers_created_later(captured: Capture) -> None:
    secret = "LateLoggerSecretValue/0123456789+abc"
    install_secret_redaction([secret], handlers=[captured])
    logging.getLogger("thirdparty.created.later").warning("key is %s", secret)
    assert captured.texts
    assert secret not in captured.texts[-1]
    assert REDACTED in captured.texts[-1]


@pytest.mark.parametrize(
    "text",
    [
        "headers={'Authorization': b'AWS4-HMAC-SHA256 Credential=AKID/x, SignedHeaders=host, "
        "Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'}",
        "Authorization: AWS4-HMAC-SHA256 Credential=AKID/x, Signature=ab12",
        "Signature:\n0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "x-amz-security-token:SomeUnregisteredTokenValue\nhost:example",
        "{'X-Amz-Security-Token': b'AnotherUnregisteredToken'}",
        "https://h/p?X-Amz-Signature=deadbeefdeadbeef&X-Amz-Security-Token=tok123456",
    ],
)
def test_redact_patterns(text: str) -> None:
    cleaned = redact(text)
    assert REDACTED in cleaned
    for leaked in ("0123456789abcdef0123", "SomeUnregisteredTokenValue",
                   "AnotherUnregisteredToken", "deadbeefdeadbeef", "tok123456",
                   "Credential=AKID/x, Signature=ab12"):
        assert leaked not in cleaned


def test_connection_repr_hides_secrets() -> None:
    conn = Connection(region="us-east-1", access_key="AKIDVISIBLE", secret_key="S" * 40,
                      session_token="T" * 40)
    assert "S" * 40 not in repr(conn)
    assert "T" * 40 not in repr(conn)


# ---------------------------------------------------------------------------------------------
# The command line (issue 11, item 14): no secret echoed in an error, no option as a value


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from glacierlib_cli.main import main
    from glacierlib_cli.output import Ui

    code = main(argv, ui=Ui(tty=False))
    out, err = capsys.readouterr()
    return code, out + err


CLI_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_a_secret_typed_without_its_option_is_not_echoed(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--secret`` forgotten: the secret lands among the arguments, and the error about an
    unexpected argument must not print it (a terminal, a CI log, a cron mail)."""
    base = ["check-local-hash", "--dir", str(tmp_path), "--journal", str(tmp_path / "j")]
    code, text = _cli([*base, CLI_SECRET], capsys)
    assert code == 2 and "unrecognized arguments" in text
    assert CLI_SECRET not in text and "bPxRfiCY" not in text
    code, text = _cli([*base, "--" + CLI_SECRET.replace("/", "")], capsys)
    assert code == 2 and "unknown option" in text and "bPxRfiCY" not in text
    code, text = _cli([*base, "short"], capsys)  # what cannot be a secret is still shown
    assert code == 2 and "unrecognized arguments: short" in text


@pytest.mark.parametrize("option", ["--token", "--secret", "--key", "--vault"])
def test_an_option_is_never_taken_as_the_value_of_another(
    local_server: LocalServer, tmp_path: Any, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    """``--token --region us-east-1``: the token was '--region' and the region was lost."""
    code, text = _cli(["list-jobs", option, "--region", "us-east-1",
                       "--endpoint-url", local_server.endpoint_url], capsys)
    assert code == 2
    assert f"option {option} needs a value" in text and "--region" in text
    code, text = _cli(["list-jobs", f"{option}", "-region", "us-east-1"], capsys)
    assert code == 2 and f"option {option} needs a value" in text


def test_a_value_starting_with_dashes_is_given_with_equals(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "j").write_bytes(b"")
    base = ["check-local-hash", "--dir", str(tmp_path), "--journal", str(tmp_path / "j"),
            "--dry-run"]
    code, text = _cli([*base, "--exclude=--odd-name"], capsys)
    assert code == 0, text
    code, text = _cli([*base, "--exclude", "-*.tmp"], capsys)  # one dash: a pattern
    assert code == 0, text


def test_options_before_the_command_follow_the_same_rules(
    capsys: pytest.CaptureFixture[str]
) -> None:
    code, text = _cli(["--token", "--region", "us-east-1", "list-vaults"], capsys)
    assert code == 2 and "option --token needs a value" in text
    # A secret standing where the command should be is not echoed either.
    code, text = _cli(["--key", "AKIAIOSFODNN7EXAMPLE", CLI_SECRET, "list-vaults"], capsys)
    assert code == 2 and "unknown command" in text and "bPxRfiCY" not in text
