"""The two families of failure cnnsweep knows, each naming the key at fault.

* :class:`UserError` - the input is wrong (a config value, a data file, an output
  directory). Nothing runs; the command stops with one line naming the problem
  and the fix.
* :class:`TrialError` - one training run could not produce a model:
  :class:`Infeasible` (the configuration cannot be built or cannot fit) or
  :class:`TrainingFailed` (NaN loss, out of memory, a full disk). A sweep records
  it as the trial's status and goes on.

Which exit status each ends a command with is decided in one table,
:mod:`cnnsweep.exits`; nothing below the entry points exits the process.
"""

from __future__ import annotations

from enum import StrEnum


class CnnsweepError(Exception):
    """Base class of every error cnnsweep raises on purpose.

    Args:
        message: what is wrong, the rule it broke and the fix, in one line.
        key: the config key at fault (``model.kernel_size``), when there is one.
    """

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class UserError(CnnsweepError):
    """Bad input: stop before anything runs, with this message."""


class ConfigError(UserError):
    """A config value breaks a rule. The message names the key and the fix."""


class DataError(UserError):
    """A dataset cannot be found, or a data file is not in the expected format."""


class TrialError(CnnsweepError):
    """One run could not produce a model; a sweep records why and goes on.

    Args:
        metrics: what the run recorded in ``metrics.json`` before it failed, if it got that far.
    """

    status = "failed"  # the trial status a sweep records (metrics.json, trials.csv)

    def __init__(self, message: str, *, key: str | None = None, metrics: dict | None = None) -> None:
        super().__init__(message, key=key)
        self.metrics = metrics


class Infeasible(TrialError):
    """The configuration cannot be built for these images, or cannot fit in memory."""

    status = "infeasible"


class TrainingFailed(TrialError):
    """Training started and went wrong (NaN loss, out of memory, a full disk)."""

    status = "failed"


class StopReason(StrEnum):
    """Why a sweep ended before its budget; each has its exit status (:mod:`cnnsweep.exits`)."""

    INTERRUPTED = "interrupted"  # Ctrl-C, or SLURM's warning before a time limit
    TERMINATED = "terminated"  # SIGTERM
    TOO_MANY_FAILURES = "too_many_failures"  # hydra.sweeper.max_failure_rate


class SweepStopped(CnnsweepError):
    """A sweep ended before its budget, for ``reason`` (``interrupted``, ``too_many_failures``).

    Its results so far are written; the entry point turns the reason into an exit status.
    """

    def __init__(self, reason: StopReason) -> None:
        super().__init__(f"the sweep stopped early: {reason}")
        self.reason = reason
