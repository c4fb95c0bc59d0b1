"""Where a sweep's study lives: a URL or the sweep dir, opened as an Optuna storage.

* no URL: a file in the sweep dir, ``optuna.db`` (SQLite) for one process, or
  ``optuna.journal`` (Optuna's journal file) when several worker processes write;
* ``postgresql://...`` (any SQLAlchemy URL): a server shared by machines, with
  heartbeats to find dead workers, and every call retried with backoff while the
  server restarts (:class:`RetryingStorage`).

Passwords never leave this module unmasked in a message (:func:`mask_password`).
This is also the one module that uses Optuna's private storage names (the
heartbeat thread, the cached RDB storage, a trial's id), each where Optuna has
no public API for it; ``tests/sweep/test_storage.py`` fails if one disappears.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import BaseStorage
from optuna.storages._cached_storage import _CachedStorage  # private: the RDB storage's trial cache
from optuna.storages._heartbeat import BaseHeartbeat, get_heartbeat_thread  # private: no public API
from optuna.trial import FrozenTrial
from tenacity import (
    RetryCallState,
    Retrying,
    retry,
    retry_if_exception,
    retry_if_not_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
)

from cnnsweep.errors import UserError
from cnnsweep.masking import mask_password
from cnnsweep.sweep.settings.frozen import Heartbeat

log = logging.getLogger("cnnsweep")

SQLITE_FILE = "optuna.db"
JOURNAL_FILE = "optuna.journal"
GIVE_UP_AFTER_S = 300.0  # how long calls are retried while a database server is unreachable


@dataclass(frozen=True)
class OpenStorage:
    url: str  # the URL or journal path, unmasked: pass it on only by environment
    storage: Any  # an Optuna storage
    shared: bool  # a server other machines write to (heartbeats find dead workers)
    heartbeat: Heartbeat | None = None  # a shared server's: when a silent machine's trial is lost


def local_url(sweep_dir: Path, several_writers: bool) -> str:
    """The sweep dir's own storage: the file it already has, else SQLite or a journal."""
    sqlite, journal = sweep_dir / SQLITE_FILE, sweep_dir / JOURNAL_FILE
    use_journal = journal.exists() or (several_writers and not sqlite.exists())
    return str(journal) if use_journal else f"sqlite:///{sqlite}"


def open_storage(
    url: str | None, sweep_dir: Path, several_writers: bool, *, heartbeat: Heartbeat
) -> OpenStorage:
    """Open ``url`` (None: the sweep dir's own file) for a sweep.

    A database server gets ``heartbeat``: each running trial writes one every
    interval, and :func:`stale_trials` finds the trials silent for the grace
    period (their machine died). A file of the sweep dir has no other writer to
    watch, and no heartbeats.

    Raises:
        UserError: no driver for the URL, or the server cannot be reached (password masked).
    """
    given = url is not None
    url = url or local_url(sweep_dir, several_writers)
    shared = "://" in url and not url.startswith("sqlite")
    try:
        if "://" not in url:  # a journal file path
            from optuna.storages.journal import JournalFileBackend

            Path(url).parent.mkdir(parents=True, exist_ok=True)
            return OpenStorage(url, optuna.storages.JournalStorage(JournalFileBackend(url)), False)
        kwargs: dict[str, Any] = {}
        if shared:
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            # No stale-trial callback: cnnsweep fails and queues a lost trial itself
            # (cnnsweep.sweep.study.recovery.recover_stale), with the reason and its retry recorded.
            kwargs = dict(
                heartbeat_interval=heartbeat.interval,
                grace_period=heartbeat.grace_period,
                engine_kwargs={"pool_pre_ping": True},
            )
        elif not given:
            sweep_dir.mkdir(parents=True, exist_ok=True)
        # A server that is down at start-up is an error to report now; once the
        # sweep runs, calls are retried while it restarts (RetryingStorage).
        open_rdb = retry(
            stop=stop_after_attempt(4),
            wait=wait_exponential(multiplier=0.5, max=8),
            retry=retry_if_not_exception_type(ImportError),
            reraise=True,
        )(retrying_storage if shared else optuna.storages.RDBStorage)
        return OpenStorage(url, open_rdb(url, **kwargs), shared, heartbeat if shared else None)
    except ImportError:
        raise UserError(
            f"hydra.sweeper.storage={mask_password(url)} needs a database driver "
            "that is not installed. For PostgreSQL: pip install 'cnnsweep[postgres]'.",
            key="hydra.sweeper.storage",
        ) from None
    except Exception as exc:
        reason = str(exc).splitlines()[0][:200]
        raise UserError(
            f"hydra.sweeper.storage={mask_password(url)} cannot be opened "
            f"({type(exc).__name__}: {mask_password(reason)}). Check the URL, "
            "that the server runs, and the credentials.",
            key="hydra.sweeper.storage",
        ) from None


def open_local_study(sweep_dir: Path) -> optuna.Study | None:
    """The one study in a sweep dir's own storage file, for reading; None if there is none."""
    if (sweep_dir / SQLITE_FILE).exists():
        storage: Any = f"sqlite:///{sweep_dir / SQLITE_FILE}"
    elif (sweep_dir / JOURNAL_FILE).exists():
        from optuna.storages.journal import JournalFileBackend

        storage = optuna.storages.JournalStorage(JournalFileBackend(str(sweep_dir / JOURNAL_FILE)))
    else:
        return None
    names = optuna.get_all_study_names(storage)
    if len(names) != 1:
        return None
    return optuna.load_study(study_name=names[0], storage=storage)


def stale_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The running trials whose machine stopped beating for the grace period (shared storage only)."""
    storage = study._storage
    if not isinstance(storage, BaseHeartbeat) or storage.get_heartbeat_interval() is None:
        return []
    ids = set(storage._get_stale_trial_ids(study._study_id))
    if not ids:
        return []
    return [
        t
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        if t._trial_id in ids
    ]


@contextmanager
def heartbeat(study: optuna.Study, trial: optuna.trial.Trial) -> Iterator[None]:
    """Optuna's heartbeat thread for ``trial`` while it runs (a no-op without heartbeats)."""
    thread = get_heartbeat_thread(trial._trial_id, study._storage)
    thread.start()
    try:
        yield
    finally:
        thread.join()


def fail_trial(study: optuna.Study, trial: FrozenTrial, user_attrs: dict[str, Any]) -> None:
    """Mark a trial this process did not ask for (a dead worker's) failed, with ``user_attrs``.

    ``Study.tell`` would also run the sampler's after-trial step for a trial it
    never saw; the storage sets the state alone.

    Raises:
        optuna.exceptions.UpdateFinishedTrialError: the trial had already finished.
    """
    for key, value in user_attrs.items():
        study._storage.set_trial_user_attr(trial._trial_id, key, value)
    study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)


# ---------------------------------------------------------------- retries
def is_transient(exc: BaseException) -> bool:
    """A lost or refused database connection, as opposed to a real storage error."""
    from sqlalchemy import exc as sa_exc

    cause = exc.__cause__ if isinstance(exc, optuna.exceptions.StorageInternalError) else exc
    if isinstance(cause, sa_exc.DBAPIError) and cause.connection_invalidated:
        return True
    return isinstance(cause, sa_exc.OperationalError | sa_exc.InterfaceError)


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    reason = str(getattr(exc, "__cause__", None) or exc).splitlines()[0][:160]
    wait = state.next_action.sleep if state.next_action else 0.0
    log.warning(
        "study storage unreachable (%s); retry %d in %.1fs", mask_password(reason), state.attempt_number, wait
    )


def _retrying(name: str):
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        method = getattr(self._backend, name)
        return self._retry(method, *args, **kwargs)

    call.__name__ = name
    return call


def _storage_methods() -> list[str]:
    names: set[str] = set()
    for base in (BaseStorage, BaseHeartbeat):
        names.update(n for n in vars(base) if callable(getattr(base, n)) and not n.startswith("__"))
    return sorted(names)


def _init(self: Any, backend: BaseStorage, give_up_after_s: float = GIVE_UP_AFTER_S) -> None:
    self._backend = backend
    self._retry = Retrying(
        retry=retry_if_exception(is_transient),
        reraise=True,
        wait=wait_exponential(multiplier=0.5, max=15),
        stop=stop_after_delay(give_up_after_s),
        before_sleep=_log_retry,
    )


def _getattr(self: Any, name: str) -> Any:
    return getattr(self.__dict__["_backend"], name)


RetryingStorage = type(
    "RetryingStorage",
    (BaseStorage, BaseHeartbeat),
    {
        "__doc__": "Every storage call of ``backend``, retried while the database is unreachable.",
        "__init__": _init,
        "__getattr__": _getattr,
        **{name: _retrying(name) for name in _storage_methods()},
    },
)


def retrying_storage(url: str, **kwargs: Any) -> BaseStorage:
    """Optuna's RDB storage for ``url`` (with its trial cache), retried on connection loss."""
    return RetryingStorage(_CachedStorage(optuna.storages.RDBStorage(url, **kwargs)))
