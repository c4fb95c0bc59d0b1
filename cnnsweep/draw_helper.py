"""The sweep's drawing helper: a process at the lowest CPU priority that draws the trials'
``curves.png`` (:func:`plot_curves_later`, then :func:`wait_for_plots` before the records and
report), so drawing never slows the next trial, and at the sweep's end shares the report's
figures (:func:`share_with_helper`): the two cores draw at once.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import importlib
import json
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from cnnsweep.curves import plot_curves

log = logging.getLogger("cnnsweep")


class CurvesDrawer:
    """Draws a sweep's ``curves.png`` files in a helper process at the lowest CPU priority.

    A trial's plot costs about 80 ms of CPU; drawn in the sweep's own process it competes
    with the next trial's training (and holds the GIL). The helper, ``python -m
    cnnsweep.draw_helper``, answers one JSON line per request line (a plot, or a :meth:`call`)
    and runs only when the cores are otherwise idle. What it did not answer is done here.
    """

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._unanswered: dict[int, dict[str, Any]] = {}
        self._refused: list[dict[str, Any]] = []  # plots the helper answered with an error
        self._calls: dict[int, Future] = {}
        self._answering = False  # the reader is reading the helper's answers
        self._next_id = 0
        self._process: subprocess.Popen | None = None
        self._started = False
        self._reader: threading.Thread | None = None
        self._imports: list[str] = []  # modules the helper imports while it idles

    def submit(self, history: Mapping[str, Sequence[float]], target: Path, **kwargs: Any) -> None:
        request = {
            "history": {key: list(map(float, values)) for key, values in history.items()},
            "target": os.path.abspath(target),
            **kwargs,
        }
        with self._lock:
            process = self._helper()
            if process is not None:
                self._next_id += 1
                self._unanswered[self._next_id] = request
                line = json.dumps({"id": self._next_id, **request}) + "\n"
        if process is None:
            self._draw_here([request])
            return
        try:  # outside the lock: a full pipe must not stop the answers being read
            assert process.stdin is not None
            process.stdin.write(line)
            process.stdin.flush()
        except (OSError, ValueError):  # the helper is gone: wait() draws the rest here
            pass

    def wait(self) -> None:
        """Block until every submitted plot is written; log the ones that failed."""
        with self._lock:
            while (
                self._unanswered
                and self._process is not None
                and self._process.poll() is None
                and self._reader is not None
                and self._reader.is_alive()
            ):
                self._lock.wait(timeout=0.5)
            left = list(self._unanswered.values()) + self._refused
            self._unanswered.clear()
            self._refused = []
        self._draw_here(left)

    def call(self, function: Callable[..., Any], args: tuple) -> Future | None:
        """``function(*args)`` in the running helper (none is started for it): a future of its
        result, of what it raised there (:class:`HelperError`), or :class:`HelperGone`. None
        where no helper runs or the call does not pickle: the caller runs it here."""
        try:
            payload = base64.b64encode(pickle.dumps((function, args))).decode("ascii")
        except Exception:  # a local function or an open file: not for another process
            return None
        with self._lock:
            process = self._process
            if process is None or not self._answering:  # no helper, or its answers have ended
                return None
            self._next_id += 1
            number, future = self._next_id, Future[Any]()
            self._calls[number] = future
        try:
            assert process.stdin is not None
            process.stdin.write(json.dumps({"id": number, "call": payload}) + "\n")
            process.stdin.flush()
        except (OSError, ValueError):  # it ended since: the reader settles the future
            pass
        return future

    def close(self) -> None:
        self.wait()
        with self._lock:
            process, self._process = self._process, None
        if process is not None and process.stdin is not None:
            process.stdin.close()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()

    def _helper(self) -> subprocess.Popen | None:
        if not self._started:
            self._started = True
            # Found wherever this process found cnnsweep; the fault tests' faults are this process's.
            env = {key: value for key, value in os.environ.items() if key != "CNNSWEEP_FAULT"}
            env["PYTHONPATH"] = os.pathsep.join(
                filter(None, [str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH")])
            )
            try:
                self._process = subprocess.Popen(
                    [sys.executable, "-m", "cnnsweep.draw_helper", *self._imports],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    bufsize=1,
                    env=env,
                )
            except OSError as exc:
                log.debug("curves are drawn in this process: %s", exc)
                return None
            self._reader = threading.Thread(
                target=self._read_answers, args=(self._process,), daemon=True, name="cnnsweep-curves"
            )
            self._answering = True
            self._reader.start()
        if self._process is not None and self._process.poll() is not None:
            return None
        return self._process

    def _read_answers(self, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            try:
                answer = json.loads(line)
                answer["id"]
            except (ValueError, TypeError, KeyError):  # not an answer (something a library printed)
                continue
            with self._lock:
                request = self._unanswered.pop(answer["id"], None)
                future = self._calls.pop(answer["id"], None)
                self._lock.notify_all()
            if future is not None:  # settled outside the lock: its callbacks may call again
                try:
                    if "error" in answer:
                        raise HelperError(answer["error"])
                    result = pickle.loads(base64.b64decode(answer["result"]))
                except Exception as exc:  # an error, or an answer this process cannot read
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            elif answer.get("error") and request is not None:  # drawn again here by wait()
                log.debug("the helper could not draw %s: %s", request["target"], answer["error"])
                with self._lock:
                    self._refused.append(request)
        with self._lock:
            self._lock.notify_all()  # the helper ended: wait() draws what it left here
            left, self._calls, self._answering = list(self._calls.values()), {}, False
        for future in left:
            future.set_exception(HelperGone("the helper process ended before answering"))

    @staticmethod
    def _draw_here(requests: list[dict[str, Any]]) -> None:
        for request in requests:
            request = dict(request)
            try:
                plot_curves(request.pop("history"), Path(request.pop("target")), **request)
            except Exception as exc:  # a plot is a convenience, never worth a crash
                log.warning("a curves plot could not be written: %s", exc)


class HelperError(RuntimeError):
    """What a call raised in the helper, as ``TypeName: message``."""


class HelperGone(RuntimeError):
    """The helper ended before it answered a call: run it here."""


_drawer = CurvesDrawer()


def plot_curves_later(history: Mapping[str, Sequence[float]], target: Path, **kwargs: Any) -> None:
    """Draw :func:`plot_curves` in the background helper process (call :func:`wait_for_plots`)."""
    _drawer.submit(history, target, **kwargs)


def warm_up(modules: Iterable[str]) -> None:
    """Have the helper, once started, import ``modules`` while it idles, so the calls that
    need them later start at once (a helper already running is left as it is)."""
    _drawer._imports.extend(modules)


def wait_for_plots() -> None:
    """Block until every background plot is written; log the ones that failed."""
    _drawer.wait()


atexit.register(_drawer.close)


def share_with_helper(jobs: Sequence[tuple[Callable[..., Any], tuple]]) -> list[Future]:
    """Run every ``function(*args)`` of ``jobs`` in this process and the sweep's running helper
    at once: this one takes jobs from the front, the helper from the back (the next as soon as
    it answers). Returns a done future per job, in ``jobs``'s order, with its result or its
    exception. Without a helper, or once it ends, the jobs left (and any it took and never
    answered) run here."""
    outcomes: list[Future] = [Future() for _ in jobs]
    left, state = deque(range(len(jobs))), threading.Condition()
    helper = {"holds": 0, "takes": True}  # jobs sent and not answered; whether it takes more

    def send_next() -> None:
        with state:
            if not (left and helper["takes"]):
                return
            number = left.pop()
            helper["holds"] += 1
        future = _drawer.call(*jobs[number])
        if future is None:
            answered(number, None)
        else:
            future.add_done_callback(lambda done: answered(number, done))

    def answered(number: int, done: Future | None) -> None:
        with state:
            helper["holds"] -= 1
            if done is None or isinstance(done.exception(), HelperGone):
                helper["takes"] = False  # this process takes it back, with every job still left
                left.append(number)
                done = None
            else:
                outcomes[number] = done
            state.notify_all()
        if done is not None:
            send_next()

    send_next()
    while True:
        with state:
            while not left and helper["holds"]:
                state.wait()
            if not left:
                break
            number = left.popleft()
        function, args = jobs[number]
        try:
            outcomes[number].set_result(function(*args))
        except Exception as exc:
            outcomes[number].set_exception(exc)
    return outcomes


def _serve(imports: Sequence[str]) -> None:
    """The helper's loop: one request per stdin line (a curves plot, or a pickled
    :meth:`CurvesDrawer.call`), one answer per stdout line; ``imports`` imported meanwhile.

    Ctrl-C is ignored: it reaches the helper with the sweep (a terminal's process group,
    ``scancel --signal=INT`` of a SLURM job's step) and would otherwise break a plot midway,
    even turn into an import's error. The sweep stops, then ends the helper by closing its
    input; a helper that dies (SIGTERM, SIGKILL) leaves its plots to the sweep's process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.nice(19)
    threading.Thread(target=_import_all, args=(imports,), daemon=True).start()
    try:
        for line in sys.stdin:
            request = json.loads(line)
            answer: dict[str, Any] = {"id": request.pop("id")}
            try:
                if "call" in request:
                    function, args = pickle.loads(base64.b64decode(request["call"]))
                    answer["result"] = base64.b64encode(pickle.dumps(function(*args))).decode("ascii")
                else:
                    plot_curves(request.pop("history"), Path(request.pop("target")), **request)
            except Exception as exc:
                answer["error"] = f"{type(exc).__name__}: {exc}"
            print(json.dumps(answer), flush=True)
    except BrokenPipeError:
        os._exit(0)  # the sweep's process is gone: nobody reads the answers any more


def _import_all(modules: Iterable[str]) -> None:
    with contextlib.suppress(Exception):  # a call that needs one imports it again, and says why not
        for module in modules:
            importlib.import_module(module)


if __name__ == "__main__":
    _serve(sys.argv[1:])
