"""The one table of exit statuses, and how an error ends a command."""

from __future__ import annotations

import pytest

from cnnsweep import exits
from cnnsweep.errors import ConfigError, DataError, Infeasible, SweepStopped, TrainingFailed


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ConfigError("model.filters=0 must be positive", key="model.filters"), 2),
        (DataError("missing files"), 2),
        (Infeasible("model.kernel_size=9 does not fit"), 2),
        (TrainingFailed("loss became NaN"), 1),
        (SweepStopped("too_many_failures"), 3),
        (SweepStopped("interrupted"), 130),
    ],
)
def test_each_error_has_its_exit_status(error, status):
    assert exits.exit_status(error) == status


def test_a_user_error_ends_as_one_line(capsys):
    with pytest.raises(SystemExit) as ended:
        exits.exit_with(ConfigError("model.padding='x' is not a padding mode."))
    assert ended.value.code == exits.USER_ERROR
    assert capsys.readouterr().err == "cnnsweep: error: model.padding='x' is not a padding mode.\n"


def test_errors_carry_their_key_and_trial_status():
    error = ConfigError("trainer.epochs=-1 must be a positive integer.", key="trainer.epochs")
    assert error.key == "trainer.epochs"
    assert Infeasible("x").status == "infeasible" and TrainingFailed("x").status == "failed"
    assert TrainingFailed("x", metrics={"status": "failed"}).metrics == {"status": "failed"}
