"""The one table of exit statuses, and how an error ends a command."""

from __future__ import annotations

import pytest

from cnnsweep import exits
from cnnsweep.errors import ConfigError, DataError, Infeasible, StopReason, SweepStopped, TrainingFailed


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ConfigError("model.filters=0 must be positive", key="model.filters"), 2),
        (DataError("missing files"), 2),
        (Infeasible("model.kernel_size=9 does not fit"), 2),
        (TrainingFailed("loss became NaN"), 1),
        (SweepStopped(StopReason.TOO_MANY_FAILURES), 3),
        (SweepStopped(StopReason.INTERRUPTED), 130),
        (SweepStopped(StopReason.TERMINATED), 143),
    ],
)
def test_each_error_has_its_exit_status(error, status):
    assert exits.exit_status(error) == status


def test_every_reason_a_sweep_stops_for_has_its_own_status():
    statuses = {reason: exits.exit_status(SweepStopped(reason)) for reason in StopReason}
    assert statuses == {
        StopReason.INTERRUPTED: 130,
        StopReason.TERMINATED: 143,
        StopReason.TOO_MANY_FAILURES: 3,
    }


def test_a_user_error_ends_as_one_line(capsys):
    with pytest.raises(SystemExit) as ended:
        exits.exit_with(ConfigError("model.padding='x' is not a padding mode."))
    assert ended.value.code == 2  # the README's table: bad input exits 2
    assert capsys.readouterr().err == "cnnsweep: error: model.padding='x' is not a padding mode.\n"


def test_errors_carry_their_key_and_trial_status():
    error = ConfigError("trainer.epochs=-1 must be a positive integer.", key="trainer.epochs")
    assert error.key == "trainer.epochs"
    assert Infeasible("x").status == "infeasible" and TrainingFailed("x").status == "failed"
    assert TrainingFailed("x", metrics={"status": "failed"}).metrics == {"status": "failed"}
