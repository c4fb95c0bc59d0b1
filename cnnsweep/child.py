"""``python -m cnnsweep ...`` as a child process of a notebook's kernel: started fresh (never
a fork), its output shown as it comes (a progress bar for a sweep), a kernel interrupt
passed on as Ctrl-C, and its error line raised as :class:`CommandFailed`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Sequence

from cnnsweep.errors import UserError

PROGRESS = re.compile(r"\[trial (\d+)\]\s+(\S+).*?(\d+)/(\d+) done")


class CommandFailed(UserError):
    """The child command stopped with an error: its one-line message, as the terminal shows it."""


def run_child(arguments: Sequence[str], progress: str | None) -> tuple[int, list[str], bool]:
    """Run ``python -m cnnsweep ARGUMENTS`` to its end, its output shown as it comes (a progress
    bar for a sweep); Ctrl-C (a kernel interrupt) is passed on as SIGINT and waited for.

    Returns:
        The exit status, the output's lines, and whether it was interrupted.
    """
    from tqdm.auto import tqdm

    command = [sys.executable, "-m", "cnnsweep", *arguments]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True
    )  # its own group: the kernel's signals are not its
    lines: list[str] = []
    bar = None
    interrupted = False
    try:
        assert child.stdout is not None
        for line in child.stdout:
            lines.append(line.rstrip("\n"))
            match = PROGRESS.search(line) if progress else None
            if match:
                done, total = int(match.group(3)), int(match.group(4))
                if bar is None:
                    bar = tqdm(total=total, unit=progress, desc="sweep")
                bar.total = max(total, done)
                bar.n = done
                bar.set_postfix_str(match.group(2))
                bar.refresh()
            elif progress is None or "error" in line.lower() or "best trial" in line:
                print(line, end="" if line.endswith("\n") else "\n", flush=True)
        code = child.wait()
    except KeyboardInterrupt:
        interrupted = True
        child.send_signal(signal.SIGINT)  # the sweep stops as on Ctrl-C: trials kept, records written
        for line in child.stdout or []:
            lines.append(line.rstrip("\n"))
        code = child.wait()
    finally:
        if bar is not None:
            bar.close()
    return code, lines, interrupted


def error_line(lines: Sequence[str], code: int) -> str:
    errors = [line.split("error:", 1)[1].strip() for line in lines if "cnnsweep: error:" in line]
    return errors[-1] if errors else f"the command stopped with exit status {code}: {' '.join(lines[-3:])}"
