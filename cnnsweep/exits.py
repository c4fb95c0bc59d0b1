"""How a cnnsweep command ends: the one table of exit statuses.

Errors carry what went wrong (:mod:`cnnsweep.errors`); only the entry points
(``python -m cnnsweep``, its Hydra callback and sweeper, ``python -m
cnnsweep.report``) turn them into a line on stderr and one of these statuses.
"""

from __future__ import annotations

import sys
from typing import NoReturn

from cnnsweep.errors import CnnsweepError, Infeasible, SweepStopped, TrialError, UserError

OK = 0
TRAINING_FAILED = 1  # a single run whose training failed (NaN loss, out of memory, disk full)
USER_ERROR = 2  # bad input: nothing ran (also a single run's infeasible architecture)
TOO_MANY_FAILURES = 3  # a sweep stopped by hydra.sweeper.max_failure_rate
INTERRUPTED = 130  # Ctrl-C, as a shell reports it

SWEEP_STOPS = {"too_many_failures": TOO_MANY_FAILURES, "interrupted": INTERRUPTED}


def exit_status(error: CnnsweepError) -> int:
    """The exit status a command that ended in ``error`` returns."""
    if isinstance(error, SweepStopped):
        return SWEEP_STOPS[error.reason]
    if isinstance(error, UserError | Infeasible):
        return USER_ERROR
    if isinstance(error, TrialError):
        return TRAINING_FAILED
    return TRAINING_FAILED


def exit_with(error: CnnsweepError, program: str = "cnnsweep", details: str = "") -> NoReturn:
    """End the process for ``error``: one line on stderr (none for a sweep's stop)."""
    if isinstance(error, UserError | Infeasible):
        print(f"{program}: error: {error}", file=sys.stderr)
    elif isinstance(error, TrialError):
        print(f"{program}: training failed: {error}{details}", file=sys.stderr)
    sys.exit(exit_status(error))
