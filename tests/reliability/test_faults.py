"""Faults suite (issue 7): sync 200 files, some multipart, with 20% of requests failing.

The local server runs in this process (``running_server``) and the CLI runs in-process
(``glacierlib_cli.main.main``), talking to it over loopback HTTP with real signatures. The
failures are scripted per operation through the control plane (:class:`FaultScript`): 500,
503, 408, 400 ThrottlingException, reset connections and truncated replies, one in five
requests of every operation the sync uses, spread through the run. The sync must complete,
the vault must hold exactly the journal's live archives, and a full restore through the same
kinds of faults must give byte-identical files.

Truncated replies to the two calls that *create* something (UploadArchive,
InitiateMultipartUpload) are scripted separately: the work is done server-side but the client
never learns of it, and the retry creates a second one. A stray multipart upload is aborted at
the end of the run; a second archive from a lost UploadArchive reply cannot be found without an
inventory (the API has no idempotency token), so it is reported by name, and
``--multipart-only`` (every upload idempotent) is proven to leave none under every fault kind.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from glacierlib.journal import read_journal
from glacierlib.localserver import LocalServer, ServerConfig, running_server
from glacierlib.metadata import decode_description
from glacierlib_cli.main import main

from .support import (
    FAILURE_KINDS,
    MIB,
    Endpoint,
    FaultScript,
    assert_vault_matches_journal,
    make_tree,
    orphans,
    read_tree,
    resume_lines,
    vault_archive_ids,
    vault_state,
)

pytestmark = pytest.mark.slow

VAULT = "faults"
SMALL_FILES = 188
BIG_SIZES = (int(1.5 * MIB), 2 * MIB, 3 * MIB - 5, int(2.5 * MIB)) * 3  # 12 multipart files
FRACTION = 0.2
#: The one reply whose loss cannot be made harmless: a single-request upload has no
#: idempotency token (see test_lost_upload_archive_reply_leaves_no_orphan). Never truncated in
#: the main run; a lost InitiateMultipartUpload reply is (its stray upload is aborted).
CREATING = ("UploadArchive",)
NO_LOST_CREATE = tuple(k for k in FAILURE_KINDS if k != "truncate")


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with running_server(config=ServerConfig()) as srv:
        yield srv


def _sync(ep: Endpoint, root: Path, journal: Path, *extra: str) -> int:
    return main(["sync", "--dir", str(root), "--vault", VAULT, "--journal", str(journal),
                 "--partsize", "1", "--concurrency", "4", *extra, *ep.args()])


def _sync_to_the_end(ep: Endpoint, root: Path, journal: Path, *extra: str) -> int:
    """Sync once: with a retry budget measured in minutes a run through one failure in five
    never needs a rerun (5 attempts per request needed one in about 12 runs). Returns the
    number of reruns, always 0."""
    assert _sync(ep, root, journal, *extra) == 0
    return 0


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoff of milliseconds instead of seconds: the retry decisions stay the same, the
    tests do not wait (the policy a run builds from --retry-timeout reads these defaults)."""
    from glacierlib.wrappers import retrying

    monkeypatch.setattr(retrying, "DEFAULT_BASE_DELAY", 0.005)
    monkeypatch.setattr(retrying, "DEFAULT_MAX_DELAY", 0.02)


#: A request meeting every fault kind twice in a row before it gets through: ten failures,
#: twice what five attempts per request survived.
STREAK = ("500", "503", "408", "throttle", "reset") * 2


def test_a_request_failing_ten_times_in_a_row_is_carried_by_the_time_budget(
    server: LocalServer, tmp_path: Path, fast_backoff: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ep = Endpoint.of(server)
    root = tmp_path / "data"
    journal = tmp_path / "journal.log"
    make_tree(root, small=1, big_sizes=(), seed=2)
    assert main(["create-vault", VAULT, *ep.args()]) == 0
    FaultScript({"UploadArchive": (*STREAK, "ok")}).arm(server.control)
    server.control.reset_stats()
    assert _sync(ep, root, journal) == 0
    assert server.control.stats()["requests"]["UploadArchive"] == len(STREAK) + 1
    assert_vault_matches_journal(server.control, VAULT, journal)
    capsys.readouterr()


def test_an_outage_longer_than_retry_timeout_fails_the_request_in_that_time(
    server: LocalServer, tmp_path: Path, fast_backoff: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--retry-timeout is the budget: a request failing without end is given up once it has
    failed for that long (here 1 s: dozens of attempts at millisecond backoff), not sooner."""
    ep = Endpoint.of(server)
    root = tmp_path / "data"
    journal = tmp_path / "journal.log"
    make_tree(root, small=1, big_sizes=(), seed=2)
    assert main(["create-vault", VAULT, *ep.args()]) == 0
    server.control.inject_fault("UploadArchive", "error", 100_000, status=503,
                                code="ServiceUnavailableException")
    server.control.reset_stats()
    started = time.monotonic()
    assert _sync(ep, root, journal, "--retry-timeout", "1s") == 1
    elapsed = time.monotonic() - started
    attempts = server.control.stats()["requests"]["UploadArchive"]
    assert elapsed >= 1.0  # not given up before the budget was spent ...
    assert 5 < attempts < 100_000, attempts  # ... nor after a count of attempts
    server.control.clear_faults()
    assert _sync(ep, root, journal, "--retry-timeout", "0") == 0
    capsys.readouterr()


@pytest.mark.parametrize("source", ["environment", "profile", "option", "config"])
def test_max_attempts_is_honoured_wherever_it_is_set(
    server: LocalServer, tmp_path: Path, fast_backoff: None, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], source: str,
) -> None:
    """botocore's max_attempts (AWS_MAX_ATTEMPTS, the profile) caps the attempts below
    --max-attempts and max-attempts= in the config file, which win over it."""
    ep = Endpoint.of(server)
    root = tmp_path / "data"
    journal = tmp_path / "journal.log"
    make_tree(root, small=1, big_sizes=(), seed=2)
    aws_config = tmp_path / "aws-config"
    aws_config.write_text("[default]\nmax_attempts = 4\n" if source == "profile" else "")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(aws_config))
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    extra: list[str] = []
    expected = {"environment": 2, "profile": 4, "option": 3, "config": 5}[source]
    if source == "environment":
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    elif source == "option":
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
        extra = ["--max-attempts", "3"]
    elif source == "config":
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
        config = tmp_path / "mtglacier.conf"
        config.write_text("max-attempts = 5\n")
        extra = ["--config", str(config)]
    assert main(["create-vault", VAULT, *ep.args()]) == 0
    server.control.inject_fault("UploadArchive", "error", 50, status=500, code="InternalFailure")
    server.control.reset_stats()
    assert _sync(ep, root, journal, *extra) == 1
    assert server.control.stats()["requests"]["UploadArchive"] == expected
    capsys.readouterr()


def _rate(script: FaultScript, server: LocalServer) -> tuple[int, int]:
    """(requests scripted so far, failures among them) over all scripted operations."""
    used = script.consumed(server.control)
    return (sum(n for n, _ in used.values()),
            sum(sum(c.values()) for _, c in used.values()))


def test_sync_and_restore_through_20_percent_faults(
    server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ep = Endpoint.of(server)
    root = tmp_path / "data"
    journal = tmp_path / "journal.log"
    files = make_tree(root, small=SMALL_FILES, big_sizes=BIG_SIZES, seed=7)
    assert len(files) == 200
    assert main(["create-vault", VAULT, *ep.args()]) == 0

    # Expected requests: one per small file, (1 + parts + 1) per big one; scripts run a
    # little longer than that so the whole run, retries included, meets faults.
    parts = sum(-(-size // MIB) for size in BIG_SIZES)
    script = FaultScript.build(
        {"UploadArchive": 260, "InitiateMultipartUpload": 16, "UploadMultipartPart": parts + 10,
         "CompleteMultipartUpload": 16},
        fraction=FRACTION, seed=11,
        kinds={op: NO_LOST_CREATE for op in CREATING},
    )
    script.arm(server.control)
    reruns = _sync_to_the_end(ep, root, journal)
    requests, failures = _rate(script, server)
    used = script.consumed(server.control)
    kinds = {k for _, c in used.values() for k in c}
    with capsys.disabled():
        print(f"\nsync: {requests} requests, {failures} failed ({failures / requests:.0%}), "
              f"reruns {reruns}: {dict(used)}")
    server.control.clear_faults()
    # The run met the faults it was meant to: about a fifth of its requests, every kind.
    assert failures >= 0.15 * requests, (failures, requests)
    assert kinds == set(FAILURE_KINDS)
    assert_vault_matches_journal(server.control, VAULT, journal)
    assert vault_state(server.control, VAULT)["uploads"] == []
    assert len(vault_archive_ids(server.control, VAULT)) == 200

    # Restore everything through InitiateJob and GetJobOutput faults.
    shutil.rmtree(root)
    root.mkdir()
    restore_script = FaultScript.build(
        {"InitiateJob": 260, "GetJobOutput": 300}, fraction=FRACTION, seed=13,
        kinds={"InitiateJob": NO_LOST_CREATE},
    )
    restore_script.arm(server.control)
    common = ["--dir", str(root), "--vault", VAULT, "--journal", str(journal),
              "--concurrency", "4", *ep.args()]
    restore = ["restore", "--max-number-of-files", "1000", *common]
    code = main(restore)
    if code != 0:
        code = main(restore)
    assert code == 0
    code = main(["restore-completed", "--segment-size", "1", *common])
    if code != 0:
        code = main(["restore-completed", "--segment-size", "1", *common])
    assert code == 0
    requests, failures = _rate(restore_script, server)
    with capsys.disabled():
        print(f"restore: {requests} requests, {failures} failed ({failures / requests:.0%}): "
              f"{dict(restore_script.consumed(server.control))}")
    server.control.clear_faults()
    assert failures >= 0.15 * requests, (failures, requests)
    assert read_tree(root) == files
    capsys.readouterr()


def test_lost_upload_archive_reply_is_reported_by_name(
    server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The default single-request upload: a reply lost after the service stored the archive
    leaves an extra copy that no API call can find; the run says which files are concerned."""
    ep = Endpoint.of(server)
    root = tmp_path / "data"
    journal = tmp_path / "journal.log"
    files = make_tree(root, small=10, big_sizes=(), seed=3)
    assert main(["create-vault", VAULT, *ep.args()]) == 0
    FaultScript({"UploadArchive": ("ok", "truncate") * 5}).arm(server.control)
    capsys.readouterr()
    assert _sync(ep, root, journal) == 0
    out, err = capsys.readouterr()
    extra = orphans(server.control, VAULT, journal)
    assert len(extra) == 5  # one per lost reply: the journal has every file exactly once
    assert sorted(e.name for e in read_journal(journal).archives.values()) == sorted(files)
    # The files named in the summary are exactly those the extra copies belong to.
    concerned = {decode_description(a["description"]).name
                 for a in vault_state(server.control, VAULT)["archives"]
                 if a["archive_id"] in extra}
    lines = out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("POSSIBLE EXTRA COPIES"))
    assert lines[head].startswith(f"POSSIBLE EXTRA COPIES: {len(concerned)} file(s)")
    assert {line.strip() for line in lines[head + 1 : head + 1 + len(concerned)]} == concerned
    assert "the reply to an earlier upload attempt was lost" in err + out

    # Once an inventory lists them, check-remote names each extra copy as safe to delete.
    server.control.take_inventory(VAULT)
    assert main(["retrieve-inventory", "--vault", VAULT, *ep.args()]) == 0
    capsys.readouterr()
    assert main(["check-remote", "--vault", VAULT, "--journal", str(journal),
                 *ep.args()]) == 1
    report = capsys.readouterr().out.splitlines()
    copies = [line for line in report if "deleting it loses nothing" in line]
    assert {next(a for a in extra if a in line) for line in copies} == extra


def test_multipart_only_leaves_no_orphan_when_creating_replies_are_lost(
    server: LocalServer, tmp_path: Path
) -> None:
    """``--multipart-only``: the same lost replies, and on every call that creates something;
    Complete is idempotent and a stray upload is aborted, so the vault matches the journal."""
    ep = Endpoint.of(server)
    root = tmp_path / "data"
    journal = tmp_path / "journal.log"
    make_tree(root, small=10, big_sizes=(2 * MIB,), seed=3)
    assert main(["create-vault", VAULT, *ep.args()]) == 0
    FaultScript({"InitiateMultipartUpload": ("ok", "truncate") * 3,
                 "CompleteMultipartUpload": ("ok", "truncate") * 3}).arm(server.control)
    assert _sync(ep, root, journal, "--multipart-only") == 0
    assert server.control.stats()["requests"].get("UploadArchive", 0) == 0
    assert orphans(server.control, VAULT, journal) == set()
    assert_vault_matches_journal(server.control, VAULT, journal)
    assert vault_state(server.control, VAULT)["uploads"] == []


def test_multipart_only_through_20_percent_faults_of_every_kind(
    server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every fault kind on every operation, truncated replies to creating calls included."""
    ep = Endpoint.of(server)
    root = tmp_path / "data"
    journal = tmp_path / "journal.log"
    make_tree(root, small=40, big_sizes=(int(1.5 * MIB), 2 * MIB), seed=9)
    assert main(["create-vault", VAULT, *ep.args()]) == 0
    script = FaultScript.build(
        {"InitiateMultipartUpload": 60, "UploadMultipartPart": 60,
         "CompleteMultipartUpload": 60},
        fraction=FRACTION, seed=17,
    )
    script.arm(server.control)
    reruns = _sync_to_the_end(ep, root, journal, "--multipart-only")
    requests, failures = _rate(script, server)
    used = script.consumed(server.control)
    with capsys.disabled():
        print(f"\nsync --multipart-only: {requests} requests, {failures} failed "
              f"({failures / requests:.0%}), reruns {reruns}: {dict(used)}")
    server.control.clear_faults()
    assert failures >= 0.15 * requests, (failures, requests)
    assert {k for _, c in used.values() for k in c} == set(FAILURE_KINDS)
    assert_vault_matches_journal(server.control, VAULT, journal)
    assert orphans(server.control, VAULT, journal) == set()
    assert vault_state(server.control, VAULT)["uploads"] == []
    assert len(vault_archive_ids(server.control, VAULT)) == 42


def test_lost_initiate_reply_leaves_no_stale_upload(
    server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ep = Endpoint.of(server)
    root = tmp_path / "data"
    journal = tmp_path / "journal.log"
    make_tree(root, small=0, big_sizes=(2 * MIB,), seed=4)
    assert main(["create-vault", VAULT, *ep.args()]) == 0
    FaultScript({"InitiateMultipartUpload": ("truncate",)}).arm(server.control)
    assert _sync(ep, root, journal) == 0
    assert_vault_matches_journal(server.control, VAULT, journal)
    # Never forgotten: list-uploads shows what is left (this part holds today) ...
    stale = vault_state(server.control, VAULT)["uploads"]
    capsys.readouterr()
    assert main(["list-uploads", "--vault", VAULT, *ep.args()]) == 0
    listed = capsys.readouterr().out
    assert all(u["upload_id"] in listed for u in stale)
    # ... and sync cleans up its own: the stray left by the lost reply was aborted.
    assert stale == []


def test_network_outage_fails_the_run_and_the_rerun_resumes(
    server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], fast_backoff: None,
) -> None:
    """An outage longer than the retry budget: the run ends with exit 1, nothing recorded
    wrongly; the rerun sends only the missing parts of the interrupted upload."""
    ep = Endpoint.of(server)
    root = tmp_path / "data"
    journal = tmp_path / "journal.log"
    size = 3 * MIB + 100
    files = make_tree(root, small=1, big_sizes=(size,), seed=5)
    assert main(["create-vault", VAULT, *ep.args()]) == 0
    # The first two parts go through, then the network is gone for every upload request.
    server.control.inject_fault("UploadMultipartPart", "delay", 2, delay=0.0)
    for operation in ("UploadMultipartPart", "UploadArchive"):
        server.control.inject_fault(operation, "reset", 100_000)
    assert main(["sync", "--dir", str(root), "--vault", VAULT, "--journal", str(journal),
                 "--partsize", "1", "--concurrency", "3", "--retry-timeout", "0.5",
                 *ep.args()]) == 1
    server.control.clear_faults()
    assert read_journal(journal, strict=True).archives == {}
    uploads = vault_state(server.control, VAULT)["uploads"]
    assert len(uploads) == 1 and len(uploads[0]["parts"]) == 2
    done = sum(int(part[1]) for part in uploads[0]["parts"].values())
    assert len(resume_lines(journal)) == 1  # the upload is recorded for the next run
    server.control.reset_stats()
    assert _sync(ep, root, journal) == 0
    sent = server.control.stats()["bytes_received"]["UploadMultipartPart"]
    assert sent == size - done  # only the missing parts
    assert_vault_matches_journal(server.control, VAULT, journal)
    assert vault_state(server.control, VAULT)["uploads"] == []
    assert resume_lines(journal) == []
    assert {e.name for e in read_journal(journal).archives.values()} == set(files)
    capsys.readouterr()
