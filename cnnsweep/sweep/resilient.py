"""A study storage that rides out a database restart.

A sweep on PostgreSQL talks to the server for every ask, tell, epoch report and
heartbeat. When the server restarts (or the network blips) those calls fail
with a connection error; :func:`retrying_storage` wraps the storage so each call
is retried with exponential backoff until the server is back, instead of
failing the trial that happened to be talking to it.
"""

from __future__ import annotations

import logging
from typing import Any

import optuna
from optuna.storages import BaseStorage
from optuna.storages._heartbeat import BaseHeartbeat
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_delay, wait_exponential

log = logging.getLogger("cnnsweep")

GIVE_UP_AFTER_S = 300.0


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
    log.warning("study storage unreachable (%s); retry %d in %.1fs", reason, state.attempt_number, wait)


def _retrying(name: str):
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        method = getattr(self._backend, name)
        return self._retry(method, *args, **kwargs)

    call.__name__ = name
    return call


def _storage_methods() -> list[str]:
    names = set()
    for base in (BaseStorage, BaseHeartbeat):
        names.update(n for n in vars(base) if callable(getattr(base, n)) and not n.startswith("__"))
    return sorted(names)


def _init(self: Any, backend: BaseStorage, give_up_after_s: float = GIVE_UP_AFTER_S) -> None:
    self._backend = backend
    self._retry = Retrying(retry=retry_if_exception(is_transient), reraise=True,
                           wait=wait_exponential(multiplier=0.5, max=15),
                           stop=stop_after_delay(give_up_after_s), before_sleep=_log_retry)


def _getattr(self: Any, name: str) -> Any:
    return getattr(self.__dict__["_backend"], name)


RetryingStorage = type("RetryingStorage", (BaseStorage, BaseHeartbeat), {
    "__doc__": "Every storage call of ``backend``, retried while the database is unreachable.",
    "__init__": _init,
    "__getattr__": _getattr,
    **{name: _retrying(name) for name in _storage_methods()},
})


def retrying_storage(url: str, **kwargs: Any) -> BaseStorage:
    """Optuna's RDB storage for ``url`` (with its trial cache), retried on connection loss."""
    from optuna.storages._cached_storage import _CachedStorage

    return RetryingStorage(_CachedStorage(optuna.storages.RDBStorage(url, **kwargs)))
