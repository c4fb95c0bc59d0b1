"""``report.html``: one self-contained page (images inline, no network), escaped text."""

from __future__ import annotations

import base64
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
