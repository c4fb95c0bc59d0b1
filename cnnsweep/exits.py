"""How a cnnsweep command ends: the one table of exit statuses.

Errors carry what went wrong (:mod:`cnnsweep.errors`); only the entry points
(``python -m cnnsweep``, its Hydra callback and sweeper, ``python -m
cnnsweep.report``) turn them into a line on stderr and one of these statuses.
The sweep's supervisor reads its worker processes' statuses from here too.
"""

from __future__ import annotations

import sys
from typing import NoReturn

from cnnsweep.errors import CnnsweepError, Infeasible, StopReason, SweepStopped, TrialError, UserError

OK = 0
TRAINING_FAILED = 1  # a single run whose training failed (NaN loss, out of memory, disk full)
USER_ERROR = 2  # bad input: nothing ran (also a single run's infeasible architecture)
TOO_MANY_FAILURES = 3  # a sweep stopped by hydra.sweeper.max_failure_rate
INTERRUPTED = 130  # Ctrl-C, as a shell reports it
TERMINATED = 143  # SIGTERM (kill, docker stop, scancel), as a shell reports it

# Error class -> exit status; the first row that matches wins.
ERROR_STATUSES: tuple[tuple[type[CnnsweepError], int], ...] = (
    (UserError, USER_ERROR),
    (Infeasible, USER_ERROR),  # in a single run, the architecture is the user's input
    (TrialError, TRAINING_FAILED),
)
SWEEP_STOPS = {
    StopReason.TOO_MANY_FAILURES: TOO_MANY_FAILURES,
    StopReason.INTERRUPTED: INTERRUPTED,
    StopReason.TERMINATED: TERMINATED,
}


def exit_status(error: CnnsweepError) -> int:
    """The exit status of a command that ended in ``error``."""
    if isinstance(error, SweepStopped):
        return SWEEP_STOPS[error.reason]
    return next((status for kind, status in ERROR_STATUSES if isinstance(error, kind)), TRAINING_FAILED)


def exit_with(error: CnnsweepError, program: str = "cnnsweep", details: str = "") -> NoReturn:
    """End the process for ``error``: one line on stderr (none for a sweep's stop).

    Args:
        error: what ended the command.
        program: the command's name, first on the line.
        details: appended to a failed training's line (where its metrics.json is).
    """
    status = exit_status(error)
    if status == USER_ERROR:
        print(f"{program}: error: {error}", file=sys.stderr)
    elif isinstance(error, TrialError):
        print(f"{program}: training failed: {error}{details}", file=sys.stderr)
    sys.exit(status)
