"""Fonts for any script in a plot: names in Latin, Greek, Cyrillic, Chinese, Japanese or
Korean render, wherever matplotlib's font cache was built before a font was installed."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

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
