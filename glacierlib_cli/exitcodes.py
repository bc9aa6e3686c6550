"""The exit codes of mtglacier: the contract scripts rely on (``cli.md``, "Output and exit codes").

0 and 1 are what mt-aws-glacier used; 2 separates "you typed or configured something wrong"
from a failed run, 75 (``EX_TEMPFAIL``) tells a cron job to simply try again later, 66
(``EX_NOINPUT``) that restore-completed found no retrieval job for any missing file (run
restore first: waiting will not help), and 130, 129 and 143 are the shell's convention
(128 + signal number) for a run stopped by Ctrl-C (SIGINT), SIGHUP and SIGTERM.
"""

from __future__ import annotations

import enum

__all__ = ["ExitCode"]


class ExitCode(enum.IntEnum):
    OK = 0
    FAILURE = 1
    USAGE = 2
    NO_RETRIEVAL_JOB = 66
    NOT_READY = 75
    HANGUP = 129
    INTERRUPTED = 130
    TERMINATED = 143
