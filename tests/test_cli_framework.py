"""The mtglacier framework: parsing rules, settings, the command interface, exit codes, output.

Most tests run ``main([...])`` in-process against a small command module registered for the
test (``probe``): real code following the command-module interface, so the framework is tested
without depending on the operation commands other modules provide. A few run the real program
in a subprocess.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import io
import os
import signal
import subprocess
import sys
import threading
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from glacierlib.config import Settings
from glacierlib.exceptions import (
    ConfigError,
    JournalError,
    NotFound,
    NothingReadyYet,
    VerificationError,
)
from glacierlib.progress import BytesMoved, FileDone, FileSkipped, FileStarted, Notice, PlanReady
from glacierlib_cli import commands
from glacierlib_cli.command import Command
from glacierlib_cli.commands import COMMANDS, load_command
from glacierlib_cli.errors import UsageError
from glacierlib_cli.exitcodes import ExitCode
from glacierlib_cli.main import exit_code_for, main
from glacierlib_cli.options import CATALOGUE
from glacierlib_cli.output import Ui, terminal_safe
from glacierlib_cli.progress import ProgressDisplay, format_bytes, format_duration

KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
MIB = 1 << 20


class Probe:
    """What the probe command saw, and what it should do."""

    def __init__(self) -> None:
        self.settings: Settings | None = None
        self.args: argparse.Namespace | None = None
        self.action: Callable[[Settings, argparse.Namespace, Ui], int] = lambda s, a, u: 0


@pytest.fixture
def probe(monkeypatch: pytest.MonkeyPatch) -> Iterator[Probe]:
    """Register a ``probe`` command (a network command with a spread of options) and a
    registered-but-missing ``ghost`` command."""
    state = Probe()
    module = types.ModuleType("glacierlib_cli.commands._probe")
    module.__spec__ = importlib.machinery.ModuleSpec(module.__name__, None)
    module.NAME = "probe"  # type: ignore[attr-defined]
    module.SUMMARY = "a command for tests"  # type: ignore[attr-defined]
    module.OPTIONS = (  # type: ignore[attr-defined]
        "vault", "journal", "dir", "concurrency", "partsize", "dry-run", "filter", "include",
        "exclude", "new", "replace-modified", "detect", "max-number-of-files", "max-size",
        "fsync",
    )
    module.REQUIRED = ("vault", "journal", "dir|max-size")  # type: ignore[attr-defined]

    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("extra", nargs="*")

    def run(settings: Settings, args: argparse.Namespace, ui: Ui) -> int:
        state.settings = settings
        state.args = args
        return state.action(settings, args, ui)

    module.add_arguments = add_arguments  # type: ignore[attr-defined]
    module.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "glacierlib_cli.commands._probe", module)
    monkeypatch.setitem(commands._MODULES, "probe", "_probe")
    monkeypatch.setitem(commands._MODULES, "ghost", "_ghost_not_written_yet")
    monkeypatch.setitem(commands.SUMMARIES, "probe", "a command for tests")
    monkeypatch.setattr(commands, "COMMANDS", (*COMMANDS, ("probe", "_probe"),
                                               ("ghost", "_ghost_not_written_yet")))
    for variable in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    yield state


BASE = ["--vault", "v", "--journal", "j.log", "--dir", "/data"]


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv, ui=Ui(tty=False))
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------------------------
# Help and version


def test_help_lists_available_commands_only(probe: Probe, capsys: pytest.CaptureFixture[str]
                                            ) -> None:
    for argv in (["--help"], ["help"], ["-h"], ["h"]):
        code, out, _ = run_main(argv, capsys)
        assert code == 0
        assert "local-server" in out and "probe" in out and "version" in out
        assert "ghost" not in out


def test_command_help(probe: Probe, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["probe", "--help"], ["help", "probe"], ["--vault", "x", "probe", "-h"]):
        code, out, _ = run_main(argv, capsys)
        assert code == 0, argv
        assert "--partsize MiB" in out and "--region REGION" in out and "--filter RULES" in out
        assert "--terminal-encoding" not in out  # legacy options are hidden
        assert "OK DONE" not in out


def test_help_for_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(["help", "nope"], capsys)
    assert code == 2 and "unknown command 'nope'" in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["version"], ["--version"], ["-version"]):
        code, out, _ = run_main(argv, capsys)
        lines = out.splitlines()
        assert code == 0
        assert lines[0].startswith("mtglacier 0.")
        assert [line.split()[0] for line in lines] == ["mtglacier", "python", "botocore", "attrs"]


def test_subprocess_version_and_help() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    result = subprocess.run([sys.executable, "-m", "glacierlib_cli", "version"],
                            capture_output=True, text=True, timeout=60, env=env, check=False)
    assert result.returncode == 0 and result.stdout.startswith("mtglacier ")
    result = subprocess.run([sys.executable, "-m", "glacierlib_cli", "--help"],
                            capture_output=True, text=True, timeout=60, env=env, check=False)
    assert result.returncode == 0 and "local-server" in result.stdout
    assert result.stderr == ""


def test_help_imports_neither_library_nor_botocore() -> None:
    code = ("import sys; from glacierlib_cli.main import main; main(['--help']); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'botocore', 'attrs', 'glacierlib'}), file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0
    assert result.stderr.strip() == "[]"


# ---------------------------------------------------------------------------------------------
# Commands and the registry


def test_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(["synk", "--dir", "x"], capsys)
    assert code == 2 and "unknown command 'synk'" in err and "did you mean sync" in err
    assert out == ""


def test_no_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main([], capsys)[0] == 2
    code, _, err = run_main(["--vault", "x"], capsys)
    assert code == 2 and "no command" in err


def test_registered_but_missing_module(probe: Probe, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(["ghost"], capsys)
    assert code == 2 and "not available" in err


def test_registry_covers_every_command_of_cli_md() -> None:
    names = [name for name, _ in COMMANDS]
    for expected in ("sync", "upload-file", "check-local-hash", "purge-vault", "restore",
                     "restore-completed", "retrieve-inventory", "download-inventory",
                     "check-remote", "list-jobs", "list-uploads", "abort-uploads",
                     "create-vault", "delete-vault", "list-vaults", "local-server", "help",
                     "version"):
        assert expected in names
    assert len(set(names)) == len(names)
    assert set(names) == set(commands.SUMMARIES)


def test_every_existing_command_module_follows_the_interface() -> None:
    for name in commands.available_commands():
        command = load_command(name)
        assert isinstance(command, Command) and command.name == name
        assert command.summary


def test_a_malformed_module_is_reported() -> None:
    module = types.ModuleType("m")
    module.NAME = "other"  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="NAME"):
        Command.from_module("probe", module)
    module.NAME = "probe"  # type: ignore[attr-defined]
    module.SUMMARY = "x"  # type: ignore[attr-defined]
    module.OPTIONS = ("vault",)  # type: ignore[attr-defined]
    module.REQUIRED = ("journal",)  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="journal"):
        Command.from_module("probe", module)
    module.OPTIONS = ("no-such-option",)  # type: ignore[attr-defined]
    module.REQUIRED = ()  # type: ignore[attr-defined]
    with pytest.raises(KeyError):
        Command.from_module("probe", module)


def test_catalogue_settings_options_are_config_file_names() -> None:
    from glacierlib.config import CONFIG_FILE_NAMES, OPTION_FIELDS

    for option in CATALOGUE:
        if option.settings and option.kind != "list":
            assert option.name in CONFIG_FILE_NAMES, option.name
    assert set(OPTION_FIELDS) <= {o.name for o in CATALOGUE}


# ---------------------------------------------------------------------------------------------
# Parsing rules


def test_options_after_and_before_the_command(probe: Probe, capsys: pytest.CaptureFixture[str]
                                              ) -> None:
    assert run_main(["probe", *BASE], capsys)[0] == 0
    assert probe.settings is not None and probe.settings.vault == "v"
    assert run_main(["--vault", "w", "--dry-run", "probe", "--journal", "j", "--dir", "d"],
                    capsys)[0] == 0
    assert probe.settings.vault == "w" and probe.settings.dry_run


def test_equals_form_prefixes_and_single_dash(probe: Probe, capsys: pytest.CaptureFixture[str]
                                              ) -> None:
    code, _, err = run_main(["probe", "--vau=v1", "-journal=j", "--di", "/d", "--conc", "8",
                             "--dry", "--partsize=64"], capsys)
    assert code == 0, err
    s = probe.settings
    assert s is not None
    assert (s.vault, str(s.journal), str(s.dir), s.concurrency, s.dry_run, s.part_size) == (
        "v1", "j", "/d", 8, True, 64 * MIB)


def test_values_that_look_like_options_are_values(probe: Probe,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(["probe", *BASE, "--exclude", "-x*", "--filter", "-*.tmp +"],
                            capsys)
    assert code == 0, err
    assert probe.settings is not None
    assert probe.settings.filters.rules[0].pattern == "-x*"


def test_filter_rules_keep_their_order(probe: Probe, capsys: pytest.CaptureFixture[str]) -> None:
    run_main(["probe", *BASE, "--include", "*.jpg", "--exclude", "*", "--include", "a"], capsys)
    assert probe.settings is not None
    rules = probe.settings.filters.rules
    assert [(r.option, r.pattern) for r in rules] == [
        ("include", "*.jpg"), ("exclude", "*"), ("include", "a")]


def test_positionals(probe: Probe, capsys: pytest.CaptureFixture[str]) -> None:
    run_main(["probe", "one", *BASE, "two", "--", "--three"], capsys)
    assert probe.args is not None and probe.args.extra == ["one", "two", "--three"]


def test_switch_option(probe: Probe, capsys: pytest.CaptureFixture[str]) -> None:
    run_main(["probe", *BASE, "--no-fsync"], capsys)
    assert probe.settings is not None and probe.settings.fsync is False


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["probe", *BASE, "--new-journal", "x"], "--new-journal is not used by command probe"),
        (["--tier", "Bulk", "probe", *BASE], "--tier is not used by command probe"),
        (["probe", *BASE, "--sns", "x"], "--sns-topic is not used by command probe"),
        (["probe", *BASE, "--bogus"], "unknown option '--bogus'"),
        (["probe", *BASE, "--d", "x"], "ambiguous option '--d'"),
        (["probe", *BASE, "--dry-run=1"], "--dry-run takes no value"),
        (["probe", *BASE, "--concurrency"], "--concurrency needs a value"),
        (["probe", "--journal", "j"], "missing mandatory options: --vault, --dir or --max-size"),
        (["probe", *BASE, "--concurrency", "100"], "--concurrency: must be between 1 and 64"),
        (["probe", *BASE, "--detect", "mtime"], "--detect only makes sense"),
        (["local-server", "--journal", "x"], "--journal is not used by command local-server"),
        (["local-server", "--jour", "x"], "--journal is not used by command local-server"),
        (["local-server", "--data-dir", "d", "--region", "eu-west-1"],
         "--region is not used by command local-server"),
        (["local-server", "--data-dir", "d", "extra"], "unrecognized arguments: extra"),
    ],
)
def test_usage_errors_exit_2_naming_the_option(
    probe: Probe, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run_main(argv, capsys)
    assert code == 2
    assert message in err
    assert err.startswith("ERROR: ") and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err and "OK DONE" not in out


def test_mandatory_alternatives(probe: Probe, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(["probe", "--vault", "v", "--journal", "j", "--max-size", "1G"],
                            capsys)
    assert code == 0, err


def test_deprecated_aliases_warn_and_work(probe: Probe, capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    code, _, err = run_main(["probe", "--to-vault", "v", "--journal", "j", "--from-dir", "/a"],
                            capsys)
    assert code == 0
    assert probe.settings is not None
    assert probe.settings.vault == "v" and str(probe.settings.dir) == "/a"
    assert "WARNING: --to-vault is deprecated, use --vault" in err
    assert "WARNING: --from-dir is deprecated, use --dir" in err
    run_main(["probe", "--vault", "v", "--journal", "j", "--to-dir", "/b"], capsys)
    assert str(probe.settings.dir) == "/b"


def test_option_deprecated_for_a_command_is_ignored_with_a_warning(
    probe: Probe, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from glacierlib_cli import options

    assert options.DEPRECATED_FOR_COMMAND == {"purge-vault": ("dir",),
                                              "check-local-hash": ("vault",)}
    monkeypatch.setitem(options.DEPRECATED_FOR_COMMAND, "probe", ("tier",))
    code, _, err = run_main(["probe", *BASE, "--tier", "not-even-valid"], capsys)
    assert code == 0, err
    assert "WARNING: --tier is deprecated for probe and ignored" in err
    assert probe.settings is not None and probe.settings.tier == "Standard"


def test_legacy_options_are_accepted_and_warn(probe: Probe, capsys: pytest.CaptureFixture[str]
                                              ) -> None:
    code, _, err = run_main(["probe", *BASE, "--terminal-encoding", "CP1251",
                             "--leaf-optimization", "0"], capsys)
    assert code == 0
    assert "terminal-encoding" in err and "leaf-optimization" not in err


# ---------------------------------------------------------------------------------------------
# Config file and environment through the command line


def test_config_file_supplies_mandatory_options(probe: Probe, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.cfg"
    cfg.write_text("vault=fromfile\r\njournal=/j\r\ndir=/d\r\nconcurrency=2\r\n"
                   "tier=Bulk\r\n")  # tier: unused by probe, ignored
    code, _, err = run_main(["probe", "--config", str(cfg), "--concurrency", "3"], capsys)
    assert code == 0, err
    s = probe.settings
    assert s is not None and (s.vault, s.concurrency, s.tier) == ("fromfile", 3, "Standard")
    assert s.config_path == cfg


def test_bad_config_line_exits_2_naming_file_and_line(
    probe: Probe, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "c.cfg"
    cfg.write_text("vault=v\nthis is not a line\n")
    code, _, err = run_main(["probe", *BASE, "--config", str(cfg)], capsys)
    assert code == 2 and f"{cfg}, line 2" in err


def test_bad_config_value_exits_2_naming_file_and_line(
    probe: Probe, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "c.cfg"
    cfg.write_text("vault=v\n\npartsize=3\n")
    code, _, err = run_main(["probe", *BASE, "--config", str(cfg)], capsys)
    assert code == 2 and f"{cfg}, line 3: partsize: must be a power of two" in err


def test_world_readable_secret_is_warned_once(probe: Probe, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.cfg"
    cfg.write_text(f"key={KEY}\nsecret={SECRET}\n")
    os.chmod(cfg, 0o644)
    code, out, err = run_main(["probe", *BASE, "--config", str(cfg)], capsys)
    assert code == 0
    assert err.count("chmod 600") == 1
    assert SECRET not in out + err


def test_environment_region(probe: Probe, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    run_main(["probe", *BASE], capsys)
    assert probe.settings is not None and probe.settings.region == "eu-central-1"
    run_main(["probe", *BASE, "--region", "us-west-2"], capsys)
    assert probe.settings.region == "us-west-2"


# ---------------------------------------------------------------------------------------------
# Exit codes and error output


def test_exit_code_table() -> None:
    assert exit_code_for(KeyboardInterrupt()) == ExitCode.INTERRUPTED == 130
    assert exit_code_for(NothingReadyYet("no inventory")) == 75
    assert exit_code_for(ConfigError("x")) == 2
    assert exit_code_for(UsageError("x")) == 2
    assert exit_code_for(JournalError("x")) == 2
    assert exit_code_for(VerificationError("x")) == 1
    assert exit_code_for(NotFound("x")) == 1
    assert exit_code_for(RuntimeError("x")) == 1


@pytest.mark.parametrize(
    ("exc", "code", "line"),
    [
        (NothingReadyYet("no finished inventory yet"), 75, "ERROR: no finished inventory yet"),
        (JournalError("bad record", path="j.log", line=7), 2, "ERROR: j.log, line 7: bad record"),
        (VerificationError("tree hash mismatch for a.txt"), 1,
         "ERROR: tree hash mismatch for a.txt"),
        (KeyboardInterrupt(), 130, "ERROR: interrupted"),
        (RuntimeError("boom"), 1, "ERROR: unexpected RuntimeError: boom"),
    ],
)
def test_errors_from_a_command(probe: Probe, capsys: pytest.CaptureFixture[str],
                               exc: BaseException, code: int, line: str) -> None:
    def fail(settings: Settings, args: argparse.Namespace, ui: Ui) -> int:
        ui.out("partial result")
        raise exc

    probe.action = fail
    got, out, err = run_main(["probe", *BASE], capsys)
    assert got == code
    assert err.splitlines()[0].startswith(line)
    assert "Traceback" not in err
    assert out == "partial result\n"  # no OK DONE


def test_verbose_shows_the_traceback_but_no_secret(probe: Probe,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    def fail(settings: Settings, args: argparse.Namespace, ui: Ui) -> int:
        raise RuntimeError(f"boom with {settings!r}")

    probe.action = fail
    code, out, err = run_main(["probe", *BASE, "--verbose", "--key", KEY, "--secret", SECRET],
                              capsys)
    assert code == 1
    assert "Traceback" in err and "RuntimeError" in err
    assert SECRET not in out + err and KEY not in out + err


def test_ok_done_is_the_last_line_once(probe: Probe, capsys: pytest.CaptureFixture[str]) -> None:
    def work(settings: Settings, args: argparse.Namespace, ui: Ui) -> int:
        ui.out("result")
        return 0

    probe.action = work
    code, out, _ = run_main(["probe", *BASE], capsys)
    assert code == 0 and out == "result\nOK DONE\n"

    def work_done(settings: Settings, args: argparse.Namespace, ui: Ui) -> int:
        ui.done()
        return 0

    probe.action = work_done
    assert run_main(["probe", *BASE], capsys)[1] == "OK DONE\n"


def test_outcome_failure_has_no_ok_done(probe: Probe, capsys: pytest.CaptureFixture[str]) -> None:
    probe.action = lambda s, a, u: 1
    code, out, _ = run_main(["probe", *BASE], capsys)
    assert code == 1 and "OK DONE" not in out


def test_library_warnings_are_shown(probe: Probe, capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    def work(settings: Settings, args: argparse.Namespace, ui: Ui) -> int:
        logging.getLogger("glacierlib.journal").warning("torn line moved aside")
        logging.getLogger("glacierlib.journal").debug("details")
        return 0

    probe.action = work
    _, _, err = run_main(["probe", *BASE], capsys)
    assert "WARNING: torn line moved aside" in err and "details" not in err
    _, _, err = run_main(["probe", *BASE, "--verbose"], capsys)
    assert "details" in err


def test_broken_stdout_pipe_is_quiet() -> None:
    script = ("from glacierlib_cli.main import main; import sys; "
              "sys.argv = ['mtglacier', 'help']; "
              "import glacierlib_cli.main as m; sys.exit(m.main())")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader goes away before anything is written
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 1
    assert b"Traceback" not in err and b"BrokenPipe" not in err


# ---------------------------------------------------------------------------------------------
# Ui and progress


class TtyBuffer(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_ui_streams_and_verbosity() -> None:
    out, err = io.StringIO(), io.StringIO()
    ui = Ui(stdout=out, stderr=err, quiet=True)
    ui.out("result")
    ui.info("chatter")
    ui.debug("detail")
    ui.warn("careful")
    ui.error("bad")
    ui.done()
    ui.done()
    assert out.getvalue() == "result\nOK DONE\n"
    assert err.getvalue() == "WARNING: careful\nERROR: bad\n"
    ui = Ui(stdout=out, stderr=err, verbose=True)
    ui.debug("detail")
    assert err.getvalue().endswith("detail\n")


def test_plain_progress_lines_when_not_a_terminal() -> None:
    out, err = io.StringIO(), io.StringIO()
    ui = Ui(stdout=out, stderr=err, tty=False)
    on_event = ui.progress
    on_event(PlanReady(files=2, bytes=3 * MIB))
    on_event(FileStarted("a.txt", MIB))
    on_event(BytesMoved(MIB, "a.txt"))
    on_event(FileDone("a.txt", MIB))
    on_event(FileSkipped("b.txt", "permission denied", error=True))
    on_event(Notice("part size raised to 32 MiB"))
    ui.close()
    lines = err.getvalue().splitlines()
    assert lines[:-1] == [
        "upload done a.txt (1.0 MiB)",
        "ERROR: b.txt: permission denied",
        "part size raised to 32 MiB",
    ]
    assert lines[-1].startswith("done: 1 file, 1.0 MiB in 0:00:0")
    assert "\r" not in err.getvalue() and out.getvalue() == ""


def test_quiet_progress_keeps_only_problems() -> None:
    err = io.StringIO()
    ui = Ui(stdout=io.StringIO(), stderr=err, tty=False, quiet=True)
    ui.progress(FileDone("a", 1))
    ui.progress(Notice("info"))
    ui.progress(Notice("stale upload found", level="warning"))
    ui.close()
    assert err.getvalue() == "WARNING: stale upload found\n"


def test_live_bar_on_a_terminal() -> None:
    err = TtyBuffer()
    ui = Ui(stdout=err, stderr=err, tty=True, interval=0.01)
    ui.progress(PlanReady(files=4, bytes=8 * MIB))
    ui.progress(BytesMoved(MIB))
    ui.progress(FileDone("a", MIB))
    ui.out("a result line")
    deadline = threading.Event()
    deadline.wait(0.1)
    ui.done()
    text = err.getvalue()
    assert "\r\x1b[K" in text and "files" in text
    assert "a result line\n" in text
    assert text.endswith("OK DONE\n")
    assert "upload done a" not in text  # per-file lines only without a bar


def test_status_line_numbers() -> None:
    now = [0.0]
    display = ProgressDisplay(write=lambda s: None, draw=lambda s: None,
                              lock=threading.RLock(), clock=lambda: now[0])
    display(PlanReady(files=10, bytes=100 * MIB, complete=True))
    display(BytesMoved(0))
    now[0] = 10.0
    display(BytesMoved(50 * MIB))
    display(FileDone("x", 50 * MIB))
    line = display.status_line(width=200)
    assert "[##########----------]" in line and "50%" in line
    assert "1/10 files" in line and "50.0 MiB/100.0 MiB" in line
    assert "5.0 MiB/s" in line and "ETA 0:00:10" in line
    display(BytesMoved(-10 * MIB))  # a retry rewinds
    assert display.bytes_done == 40 * MIB
    assert len(display.status_line(width=30)) <= 29


def test_progress_aggregates_concurrent_events_exactly() -> None:
    display = ProgressDisplay(write=lambda s: None, draw=None, lock=threading.RLock())

    def worker() -> None:
        for _ in range(2000):
            display(BytesMoved(3))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert display.bytes_done == 8 * 2000 * 3


def test_formatting_helpers() -> None:
    assert format_bytes(512) == "512 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(3 << 40) == "3.0 TiB"
    assert format_duration(3725) == "1:02:05"


# ---------------------------------------------------------------------------------------------
# local-server


def test_local_server_serves_until_interrupted(tmp_path: Path) -> None:
    pytest.importorskip("glacierlib.localserver")
    import botocore.session

    data = tmp_path / "vaults"
    proc = subprocess.Popen(
        [sys.executable, "-m", "glacierlib_cli", "local-server", "--data-dir", str(data),
         "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        info: dict[str, str] = {}
        while len(info) < 4:
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else ""
            name, _, value = line.strip().partition(" ")
            info[name] = value
        client: Any = botocore.session.get_session().create_client(
            "glacier", region_name=info["region"], endpoint_url=info["endpoint-url"],
            aws_access_key_id=info["key"], aws_secret_access_key=info["secret"],
        )
        client.create_vault(vaultName="made-by-test")
        names = [v["VaultName"] for v in client.list_vaults()["VaultList"]]
        assert names == ["made-by-test"]
        assert data.is_dir()
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
    assert code == 0


def test_local_server_bad_port(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_main(["local-server", "--data-dir", str(tmp_path), "--port", "99999"],
                            capsys)
    assert code == 2 and "--port" in err


# --------------------------------------------------------------------------- terminal safety


def _acts_on_terminal(ch: str) -> bool:
    code = ord(ch)
    return ((code < 0x20 and ch not in "\t\n") or 0x7F <= code <= 0x9F
            or 0xD800 <= code <= 0xDFFF or ch in "\u061c\u200e\u200f"
            or 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069)


@given(st.text(alphabet=st.characters(codec=None), max_size=60))
def test_terminal_safe_leaves_nothing_a_terminal_acts_on(text: str) -> None:
    shown = terminal_safe(text)
    assert not any(_acts_on_terminal(ch) for ch in shown)
    if not any(_acts_on_terminal(ch) for ch in text):
        assert shown == text  # ordinary text, accents and emoji included, is untouched
    shown.encode("utf-8")  # always printable on a strict UTF-8 stream


def test_terminal_safe_escapes_read_as_the_code_point() -> None:
    assert terminal_safe("a\x1b[2J\u202e\x85\udcff\t\n") == "a\\x1b[2J\\u202e\\x85\\xff\t\n"


# ---------------------------------------------------------------------------------------------
# Habits of a command line (issue 12): suggestions, usage line, filter files


def test_a_mistyped_option_gets_a_suggestion(probe: Probe,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(["probe", *BASE, "--concurency", "8"], capsys)
    assert code == 2
    assert "unknown option '--concurency'" in err and "did you mean --concurrency?" in err
    code, _, err = run_main(["probe", *BASE, "--zzzzzz"], capsys)
    assert code == 2 and "did you mean" not in err


def test_usage_line_shows_mandatory_options_as_mandatory(
    probe: Probe, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_main(["probe", "--help"], capsys)
    assert code == 0
    usage = out.split("\n\n")[0]
    assert usage.startswith("usage: mtglacier probe --vault NAME --journal FILE "
                            "(--dir DIR | --max-size SIZE) [options] [extra ...]"), usage
    assert "[--vault NAME]" not in usage
    code, out, _ = run_main(["sync", "--help"], capsys)
    assert out.startswith("usage: mtglacier sync --dir DIR --vault NAME --journal FILE "
                          "[options]")


def test_filter_from_file_and_config_filters_through_the_command_line(
    probe: Probe, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules.txt"
    rules.write_text("# what cron never backs up\n-*.tmp\n\n- cache/\n")
    cfg = tmp_path / "c.cfg"
    cfg.write_text(f"exclude=*.log\nfilter-from={rules}\n")
    code, _, err = run_main(["probe", *BASE, "--config", str(cfg), "--include", "keep.log",
                             "--filter-from", str(rules)], capsys)
    assert code == 0, err
    assert probe.settings is not None
    got = [(r.action, r.pattern) for r in probe.settings.filters.rules]
    # Command line first, in its order; then the config file's rules, in file order.
    assert got == [("+", "keep.log"), ("-", "*.tmp"), ("-", "cache/"), ("-", "*.log"),
                   ("-", "*.tmp"), ("-", "cache/")]
    rules.write_text("-*.tmp\nnot a rule\n")
    code, _, err = run_main(["probe", *BASE, "--filter-from", str(rules)], capsys)
    assert code == 2 and f"{rules}, line 2" in err


def test_world_readable_config_is_warned_once_in_a_real_process(tmp_path: Path) -> None:
    """In a real process no log handler exists yet when the config file is read: a warning
    record then went to Python's last-resort handler, and the user read it twice."""
    cfg = tmp_path / "c.cfg"
    cfg.write_text(f"key={KEY}\nsecret={SECRET}\n")
    os.chmod(cfg, 0o644)
    (tmp_path / "d").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    result = subprocess.run(
        [sys.executable, "-m", "glacierlib_cli", "check-local-hash", "--config", str(cfg),
         "--dir", str(tmp_path / "d"), "--journal", str(tmp_path / "j.log")],
        capture_output=True, text=True, timeout=60, env=env, check=False)
    assert result.stderr.count("chmod 600") == 1, result.stderr
    assert SECRET not in result.stdout + result.stderr


def test_torn_journal_line_is_warned_once(tmp_path: Path) -> None:
    """The repaired torn line reaches the CLI three ways (log record, event, report)."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "a").write_text("hello")
    journal = tmp_path / "j.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    args = [sys.executable, "-m", "glacierlib_cli", "sync", "--local", str(tmp_path / "lv"),
            "--dir", str(src), "--vault", "v", "--journal", str(journal)]
    first = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env,
                           check=False)
    assert first.returncode == 0, first.stderr
    with journal.open("ab") as f:
        f.write(b"A\t1\tCREATED\tbroken")
    second = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env,
                            check=False)
    assert second.returncode == 0, second.stderr
    assert second.stderr.count("not fully written") == 1, second.stderr


# ---------------------------------------------------------------------------------------------
# Shell completion and the man page, both built from the commands' parsers


def _bash_complete(script: str, line: str) -> list[str]:
    """What the generated bash function offers for the last word of ``line``."""
    words = line.split(" ")
    program = "\n".join([
        script,
        "COMP_WORDS=(" + " ".join(f"'{w}'" for w in words) + ")",
        f"COMP_CWORD={len(words) - 1}",
        "_mtglacier",
        'printf "%s\\n" "${COMPREPLY[@]}"',
    ])
    result = subprocess.run(["bash", "--norc", "--noprofile", "-c", program],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return [w for w in result.stdout.splitlines() if w]


def test_bash_completion_completes_commands_options_and_values(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, script, _ = run_main(["completion", "bash"], capsys)
    assert code == 0 and "OK DONE" not in script
    assert _bash_complete(script, "mtglacier sy") == ["sync"]
    assert _bash_complete(script, "mtglacier --vault x --conc 2 sy") == ["sync"]
    assert _bash_complete(script, "mtglacier sync --conc") == ["--concurrency"]
    assert _bash_complete(script, "mtglacier sync --retry-t") == ["--retry-timeout"]
    assert _bash_complete(script, "mtglacier sync --filter-f") == ["--filter-from"]
    assert "--segment-size" not in _bash_complete(script, "mtglacier sync --")
    assert _bash_complete(script, "mtglacier restore --tier B") == ["Bulk"]
    assert _bash_complete(script, "mtglacier completion z") == ["zsh"]
    assert "restore-completed" in _bash_complete(script, "mtglacier help restore")


def test_zsh_and_fish_completion_cover_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, zsh, _ = run_main(["completion", "zsh"], capsys)
    assert code == 0 and zsh.startswith("#compdef mtglacier") and "bashcompinit" in zsh
    code, fish, _ = run_main(["completion", "fish"], capsys)
    assert code == 0
    for name in commands.available_commands():
        assert f"-a {name} -d" in fish, name
    assert "__fish_seen_subcommand_from sync' -l concurrency -x" in fish
    assert "-l dir -r -F" in fish
    code, _, err = run_main(["completion", "tcsh"], capsys)
    assert code == 2 and "tcsh" in err


def test_man_page_builds_and_documents_every_command_and_option(tmp_path: Path) -> None:
    from glacierlib_cli.commands.completion import command_table

    target = tmp_path / "mtglacier.1"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    result = subprocess.run([sys.executable, "-m", "glacierlib_cli.manpage", str(target)],
                            capture_output=True, text=True, timeout=60, env=env, check=False)
    assert result.returncode == 0, result.stderr
    page = target.read_text(encoding="utf-8")
    assert page.startswith(".TH MTGLACIER 1 ")
    sections = [line[4:] for line in page.splitlines() if line.startswith(".SS ")]
    expected = commands.available_commands()
    assert [s.replace("\\-", "-") for s in sections] == expected
    for command in command_table():
        for option in command.options:
            if option.name != "--help":
                assert f"\\fB{option.name.replace('-', chr(92) + '-')}\\fR" in page, option
    assert not [line for line in page.splitlines() if line.startswith("'")]
