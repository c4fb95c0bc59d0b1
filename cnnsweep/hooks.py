"""What a running trial may ask of whoever runs it, passed down to the training.

A single run gets :class:`TrialHooks` itself: no pruner listens and nothing asks
it to stop. A sweep passes its own subclass, which reports each epoch to the
study's pruner and answers ``should_stop`` after a Ctrl-C. The training never
learns which kind it has, so the core knows nothing of Optuna or Hydra.
"""

from __future__ import annotations

from collections.abc import Mapping


class TrialHooks:
    """The quiet default: a run that nobody prunes or stops."""

    @property
    def reports_epochs(self) -> bool:
        """Whether :meth:`report_epoch` is worth calling (a pruner listens)."""
        return False

    @property
    def can_stop(self) -> bool:
        """Whether :meth:`should_stop` is worth asking after every batch."""
        return False

    @property
    def memory_share(self) -> int:
        """How many processes share this machine's memory with this run (a sweep's worker
        processes): a null ``trainer.memory_limit_mb`` is half the RAM divided among them."""
        return 1

    @property
    def searched_values(self) -> dict[str, object]:
        """The values a sweep chose for this run (TensorBoard's HParams); empty for a single run."""
        return {}

    @property
    def wants_epoch_logs(self) -> bool:
        """Whether :meth:`epoch_logged` is worth calling (an experiment tracker listens)."""
        return False

    def epoch_logged(self, epoch: int, logs: Mapping[str, float]) -> None:
        """Hand over every metric Keras logged for ``epoch`` (1-based), the learning rate included."""

    def report_epoch(self, epoch: int, value: float, epochs_seen: float | None = None) -> bool:
        """Hand over the monitored value after ``epoch`` (1-based) and the training images
        seen so far, in epochs (less than ``epoch`` after subset epochs); True means prune now."""
        return False

    def should_stop(self) -> bool:
        """True when the run must stop at the next batch (the sweep was interrupted)."""
        return False

    def out_of_time(self, next_epoch_seconds: float) -> bool:
        """True when an epoch of ``next_epoch_seconds`` would end past the run's deadline:
        the run then ends now, as complete, with its best epoch so far."""
        return False
