"""``report.html``: one self-contained page (images inline, no network), escaped text."""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup


def data_uri(png: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")


def trusted(html: str) -> Markup:
    """HTML built by pandas with escape=True: safe to insert as is."""
    return Markup(html)


def render(context: dict[str, Any]) -> str:
    env = Environment(
        loader=PackageLoader("cnnsweep.report", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    return env.get_template("report.html.j2").render(**context)


def shown_path(folder: Path, page_dir: Path) -> str:
    """How the page names ``folder``: relative to the page's own folder, never as an absolute
    path of the machine that wrote it (the page is shared, moved, attached)."""
    relative = os.path.relpath(Path(folder).resolve(), Path(page_dir).resolve())
    return f"{Path(folder).resolve().name} (this folder)" if relative == "." else relative


def without_local_paths(page: str, folders: Sequence[Path], page_dir: Path) -> str:
    """``page`` with every absolute path of ``folders`` (in errors, commands, settings) written
    relative to the page, and the home folder as ``~``."""
    for folder in sorted(
        {Path(f).resolve() for f in folders} | {Path(f).absolute() for f in folders},
        key=lambda p: -len(str(p)),
    ):
        relative = os.path.relpath(folder, Path(page_dir).resolve())
        page = page.replace(str(folder), "." if relative == "." else relative)
    home = str(Path.home())
    return page.replace(home + os.sep, "~" + os.sep) if len(home) > 1 else page
