"""The two kinds of failure cnnsweep knows.

* :class:`UserError` - the input is wrong (a config value, a data file, an output
  directory). Nothing is trained; the command stops with one line naming the
  problem and the fix.
* :class:`TrialError` - one training run went wrong in a way a sweep should
  record and move past (NaN loss, out of memory).

:class:`InfeasibleArchitecture` is a user error in a single run, and the sweeper
records it as an ``infeasible`` trial instead of stopping.
"""


class CnnsweepError(Exception):
    """Base class of every error cnnsweep raises on purpose."""


class UserError(CnnsweepError):
    """Bad input: stop before training with this message."""


class ConfigError(UserError):
    """A config value breaks a rule. The message names the key and the fix."""


class InfeasibleArchitecture(ConfigError):
    """The CNN cannot be built for the dataset's input shape."""


class DataError(UserError):
    """A dataset cannot be found, or a data file is not in the expected format."""


class TrialError(CnnsweepError):
    """One training run failed for a reason worth recording (NaN loss, OOM)."""
