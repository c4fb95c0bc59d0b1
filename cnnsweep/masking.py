"""Passwords out of URLs before they reach a line, a file or a tracker."""

from __future__ import annotations

import re


def mask_password(url: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user:***@host/db``."""
    return re.sub(r"(://[^:/@]+:)[^/]*@", r"\1***@", url)
