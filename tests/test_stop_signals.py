"""SIGTERM and SIGHUP stop mtglacier like Ctrl-C (issue 11, item 5); the library installs no
signal handler of its own."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from glacierlib_cli.exitcodes import ExitCode
from glacierlib_cli.main import HungUp, Terminated, exit_code_for

ROOT = Path(__file__).resolve().parent.parent


def test_exit_codes_are_128_plus_the_signal() -> None:
    assert exit_code_for(Terminated()) == ExitCode.TERMINATED == 128 + signal.SIGTERM
    assert exit_code_for(HungUp()) == ExitCode.HANGUP == 128 + signal.SIGHUP
    assert exit_code_for(KeyboardInterrupt()) == ExitCode.INTERRUPTED == 128 + signal.SIGINT


def _run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script), *args],
                          capture_output=True, text=True, timeout=60, cwd=ROOT, check=False)


# A command that signals itself, then checks the stop arrived as an exception it can clean up
# after (the ``finally`` runs), exactly where Ctrl-C's KeyboardInterrupt would.
_SELF_SIGNAL = """
    import os, signal, sys
    import glacierlib_cli.commands.version as version
    from glacierlib_cli.main import main

    def run(settings, args, ui):
        try:
            os.kill(os.getpid(), getattr(signal, sys.argv[1]))
            signal.pause()  # not reached when the handler raises
        finally:
            print("cleanup ran", flush=True)
        return 0

    version.run = run
    code = main(["version"])
    print("handler after run:", signal.getsignal(signal.SIGTERM) is signal.SIG_DFL,
          signal.getsignal(signal.SIGHUP) is signal.SIG_DFL, flush=True)
    sys.exit(code)
"""


@pytest.mark.parametrize(("name", "code"), [("SIGTERM", 143), ("SIGHUP", 129)])
def test_a_stop_signal_unwinds_the_command_and_exits_128_plus_n(name: str, code: int) -> None:
    done = _run(_SELF_SIGNAL, name)
    assert done.returncode == code, done.stderr
    assert "cleanup ran" in done.stdout
    assert f"ERROR: stopped by {name}" in done.stderr
    assert "Traceback" not in done.stderr
    # The handlers are the CLI's for the run only.
    assert "handler after run: True True" in done.stdout


def test_an_ignored_sighup_stays_ignored() -> None:
    """``nohup mtglacier sync ...`` must survive the terminal closing."""
    script = ("import signal\nsignal.signal(signal.SIGHUP, signal.SIG_IGN)\n"
              + textwrap.dedent(_SELF_SIGNAL).replace("signal.pause()", "print('survived')"))
    done = _run(script, "SIGHUP")
    assert done.returncode == 0, done.stderr
    assert "survived" in done.stdout


def test_the_library_installs_no_signal_handler() -> None:
    done = _run("""
        import signal
        before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)}
        import glacierlib, glacierlib.operations.sync, glacierlib.operations.upload_file
        import glacierlib.operations.restore_completed, glacierlib.executor, glacierlib.download
        after = {s: signal.getsignal(s) for s in before}
        print(before == after)
    """)
    assert done.stdout.strip() == "True", done.stderr


def test_a_stop_after_the_work_is_done_does_not_kill_the_console_script() -> None:
    """The console script keeps its handlers to the end: a SIGTERM landing between the end of
    the command and the exit is ignored (exit 0), not the default kill (-15)."""
    done = _run("""
        import os, signal
        from glacierlib_cli.main import _stop_on_signals
        with _stop_on_signals(restore=False):
            pass
        os.kill(os.getpid(), signal.SIGTERM)
        print("exited normally")
    """)
    assert done.returncode == 0, done.stderr
    assert "exited normally" in done.stdout
