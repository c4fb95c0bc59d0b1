"""Storage: URLs and sweep-dir files, masked passwords, retries, and Optuna's private names."""

from __future__ import annotations

import optuna
import pytest

from cnnsweep.errors import UserError
from cnnsweep.sweep.study import storage


def test_passwords_are_masked():
    assert storage.mask_password("postgresql://ann:s3cr@t@db:5432/x") == "postgresql://ann:***@db:5432/x"
    assert storage.mask_password("sqlite:////tmp/optuna.db") == "sqlite:////tmp/optuna.db"


def test_the_sweep_dir_gets_sqlite_for_one_writer_and_a_journal_for_several(tmp_path):
    assert storage.local_url(tmp_path, several_writers=False) == f"sqlite:///{tmp_path / storage.SQLITE_FILE}"
    assert storage.local_url(tmp_path, several_writers=True) == str(tmp_path / storage.JOURNAL_FILE)
    (tmp_path / storage.SQLITE_FILE).touch()  # a resumed sweep keeps the file it has
    assert storage.local_url(tmp_path, several_writers=True).startswith("sqlite:///")


def test_an_unreachable_server_is_a_user_error_without_the_password(tmp_path):
    with pytest.raises(UserError) as err:
        storage.open_storage(
            "postgresql://ann:hunter2@127.0.0.1:1/db",
            tmp_path,
            several_writers=False,
            heartbeat=storage.Heartbeat(interval=10, grace_period=40),
        )
    assert "hunter2" not in str(err.value) and "ann:***@" in str(err.value)
    assert err.value.key == "hydra.sweeper.storage"


def test_transient_errors_are_retried_and_real_ones_are_not():
    from sqlalchemy.exc import OperationalError

    calls = []

    class Flaky(optuna.storages.InMemoryStorage):
        def get_all_studies(self):
            calls.append(1)
            if len(calls) < 3:
                raise OperationalError("SELECT", {}, Exception("server closed the connection"))
            return []

        def get_study_id_from_name(self, name):
            calls.append(name)
            raise KeyError(name)

    retrying = storage.RetryingStorage(Flaky(), give_up_after_s=10)
    assert retrying.get_all_studies() == [] and len(calls) == 3
    with pytest.raises(KeyError):
        retrying.get_study_id_from_name("x")
    assert calls[3:] == ["x"]  # tried once


def test_optunas_private_names_are_still_there(tmp_path):
    """storage.py and study.py reach into Optuna where it has no public API; if a release
    renames one of these, this fails before a sweep does."""
    from optuna.storages._cached_storage import _CachedStorage  # noqa: F401
    from optuna.storages._heartbeat import BaseHeartbeat, get_heartbeat_thread  # noqa: F401

    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'x.db'}")
    trial = study.ask()
    frozen = study.get_trials(deepcopy=False)[0]
    assert isinstance(frozen._trial_id, int) and hasattr(study._storage, "set_trial_state_values")
    assert hasattr(study, "_thread_local") and hasattr(study, "_stop_flag")
    assert isinstance(study._study_id, int) and hasattr(BaseHeartbeat, "_get_stale_trial_ids")
    assert storage.stale_trials(study) == []  # SQLite has no heartbeats: nothing is ever stale
    storage.fail_trial(study, frozen, {"why": "test"})
    assert study.get_trials()[0].state == optuna.trial.TrialState.FAIL
    assert study.get_trials()[0].user_attrs == {"why": "test"}
    with storage.heartbeat(study, trial):
        pass
