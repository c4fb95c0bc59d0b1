"""A run's ``curves.png``: the lesson's loss and accuracy plot, in fonts for any script.

A single run draws its plot at once. A sweep's trials hand theirs to a helper
process at the lowest CPU priority (:class:`CurvesDrawer`), so drawing never
slows the next trial; :func:`wait_for_plots` before the records and report.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cnnsweep.atomic import save_atomically

log = logging.getLogger("cnnsweep")


# Okabe-Ito: distinguishable with every common colour-vision deficiency.
TRAIN_COLOUR = "#0072B2"
VAL_COLOUR = "#D55E00"


# Fonts tried in turn for every character of a plot's text: Latin, Greek and Cyrillic in
# DejaVu Sans (matplotlib's own), Chinese, Japanese and Korean in the first CJK font found
# (scripts/system-deps.sh installs WenQuanYi Zen Hei), so names in any of them render.
FONT_FALLBACKS = (
    "DejaVu Sans",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK JP",
    "Noto Sans CJK KR",
    "Noto Sans CJK SC",
    "Source Han Sans",
    "NanumGothic",
    "UnDotum",
)


class _QuietFontWeights(logging.Filter):
    """WenQuanYi Zen Hei comes in one weight (500); matplotlib warns at every lookup of
    "normal" that it uses 500 instead, which is what a plot wants anyway."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("findfont: Failed to find font weight")


# Words in the file names of the fallback fonts' files (fonts-wqy-zenhei, fonts-noto-cjk, ...).
CJK_FILE_WORDS = ("wqy", "cjk", "sourcehan", "nanum", "undotum", "unfonts")


def wide_fonts(fig: Any) -> None:
    """Give every text of ``fig`` the installed fonts of :data:`FONT_FALLBACKS`, in order."""
    from matplotlib import font_manager
    from matplotlib.text import Text

    font_log = logging.getLogger("matplotlib.font_manager")
    if not any(isinstance(f, _QuietFontWeights) for f in font_log.filters):
        font_log.addFilter(_QuietFontWeights())
    installed = {font.name for font in font_manager.fontManager.ttflist}
    if not installed.intersection(FONT_FALLBACKS[1:]):
        installed |= _fonts_installed_since_the_cache(font_manager)
    families = [name for name in FONT_FALLBACKS if name in installed] or ["sans-serif"]
    for text in fig.findobj(Text):
        text.set_fontfamily(families)


_looked_on_disk = False


def _fonts_installed_since_the_cache(font_manager: Any) -> set[str]:
    """The CJK fonts on disk that matplotlib's font cache does not know (installed after it was
    built, e.g. ``apt-get install fonts-wqy-zenhei`` after a first plot): added to this process's
    font manager, so nobody has to delete ``~/.cache/matplotlib``. Looked for once per process."""
    global _looked_on_disk
    if _looked_on_disk:
        return set()
    _looked_on_disk = True
    known = {font.fname for font in font_manager.fontManager.ttflist}
    added: set[str] = set()
    for path in font_manager.findSystemFonts():
        if path in known or not any(word in Path(path).name.lower() for word in CJK_FILE_WORDS):
            continue
        before = len(font_manager.fontManager.ttflist)
        try:
            font_manager.fontManager.addfont(path)  # every face of a collection (.ttc)
        except (OSError, RuntimeError, ValueError):
            continue  # unreadable font file: matplotlib would skip it too
        added |= {font.name for font in font_manager.fontManager.ttflist[before:]}
    return added


def plot_curves(
    history: Mapping[str, Sequence[float]], target: Path, *, best_epoch: int | None = None, title: str = ""
) -> Path:
    """The lesson's plot: loss / val_loss and acc / val_acc per epoch, best epoch marked.

    Args:
        history: Keras's ``history.history`` (lists per log key).
        target: the PNG to write.
        best_epoch: 1-based epoch to mark with a vertical line.
        title: figure title.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(10, 4))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.84 if title else 0.9, wspace=0.22)
    for ax, metric, label in ((axes[0], "loss", "loss"), (axes[1], "acc", "accuracy")):
        for key, colour, style in ((metric, TRAIN_COLOUR, "-"), (f"val_{metric}", VAL_COLOUR, "--")):
            values = history.get(key)
            if values:
                ax.plot(
                    range(1, len(values) + 1),
                    values,
                    style,
                    color=colour,
                    marker="o",
                    markersize=3,
                    label=key,
                )
        if best_epoch is not None:
            ax.axvline(best_epoch, color="0.4", linestyle=":", label=f"best epoch ({best_epoch})")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.set_title(label)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right" if metric == "loss" else "lower right")
    if title:
        fig.suptitle(title)
    wide_fonts(fig)
    save_atomically(target, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    return target


class CurvesDrawer:
    """Draws a sweep's ``curves.png`` files in a helper process at the lowest CPU priority.

    A trial's plot costs about 80 ms of CPU; drawn in the sweep's own process it
    competes with the next trial's training (and holds the GIL). The helper,
    ``python -m cnnsweep.curves``, reads one JSON request per line, answers one
    line each, and runs only when the cores are otherwise idle. If it cannot
    start or dies, the plots it did not answer are drawn here.
    """

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._unanswered: dict[int, dict[str, Any]] = {}
        self._next_id = 0
        self._process: subprocess.Popen | None = None
        self._started = False
        self._reader: threading.Thread | None = None

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
            left = list(self._unanswered.values())
            self._unanswered.clear()
        self._draw_here(left)

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
                    [sys.executable, "-m", "cnnsweep.curves"],
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
            self._reader.start()
        if self._process is not None and self._process.poll() is not None:
            return None
        return self._process

    def _read_answers(self, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            try:
                answer = json.loads(line)
            except ValueError:  # not an answer (something printed by a library)
                continue
            with self._lock:
                request = self._unanswered.pop(answer["id"], None)
                self._lock.notify_all()
            if answer.get("error") and request is not None:
                log.warning("%s could not be drawn: %s", request["target"], answer["error"])
        with self._lock:
            self._lock.notify_all()  # the helper ended: wait() draws what it left here

    @staticmethod
    def _draw_here(requests: list[dict[str, Any]]) -> None:
        for request in requests:
            request = dict(request)
            try:
                plot_curves(request.pop("history"), Path(request.pop("target")), **request)
            except Exception as exc:  # a plot is a convenience, never worth a crash
                log.warning("a curves plot could not be written: %s", exc)


_drawer = CurvesDrawer()


def plot_curves_later(history: Mapping[str, Sequence[float]], target: Path, **kwargs: Any) -> None:
    """Draw :func:`plot_curves` in the background helper process (call :func:`wait_for_plots`)."""
    _drawer.submit(history, target, **kwargs)


def wait_for_plots() -> None:
    """Block until every background plot is written; log the ones that failed."""
    _drawer.wait()


atexit.register(_drawer.close)


def _serve_curves() -> None:
    """The helper's loop: one request per stdin line, one answer per stdout line."""
    os.nice(19)
    try:
        for line in sys.stdin:
            request = json.loads(line)
            answer: dict[str, Any] = {"id": request.pop("id")}
            try:
                plot_curves(request.pop("history"), Path(request.pop("target")), **request)
            except Exception as exc:
                answer["error"] = f"{type(exc).__name__}: {exc}"
            print(json.dumps(answer), flush=True)
    except (BrokenPipeError, KeyboardInterrupt):
        os._exit(0)  # the sweep's process is gone or stopping: nobody reads the answers any more


if __name__ == "__main__":
    _serve_curves()
