"""What the PDF sheet keeps from one sheet to the next within a process: wrapped and shortened text, the fonts
each text needs, image sizes, and the images fpdf2 has decoded and compressed, ready to embed again.

A 200-frame storyboard wraps the same notes and embeds the same images at every correction; with these only
what changed is worked out again. Nothing here changes what a sheet looks like, only how fast it is written.
"""

from __future__ import annotations

import os
from pathlib import Path

from fpdf import FPDF

from tools.memo import Memo


LINES = Memo(20_000)
"""(fonts, font, size, text, width) -> the text's wrapped lines, or its shortened form; also a text's fonts and
an image's aspect."""
IMAGES = Memo(400)
"""(image file, what stat says of it) -> fpdf2's decoded and compressed image, ready to embed again."""


def file_stamp(path: str | Path) -> tuple:
    """Return a file's name and what stat says of it; a file written again (same bytes or not) gets another."""
    stat = os.stat(path)
    return os.fspath(path), stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns


class ReusingFPDF(FPDF):
    """An FPDF document that embeds an image file the way an earlier document of this process did."""

    def image(self, name, *args, **kwargs):
        """Embed an image file, reusing what an earlier sheet of this process made of the same file."""
        if not isinstance(name, str) or name in self.image_cache.images:
            return super().image(name, *args, **kwargs)
        try:
            key = file_stamp(name)
        except OSError:
            return super().image(name, *args, **kwargs)
        known = IMAGES.get(key)
        if known is not None:
            self.image_cache.images[name] = type(known)({**known, "i": len(self.image_cache.images) + 1,
                                                         "usages": 0, "iccp_i": None})
        placed = super().image(name, *args, **kwargs)
        info = self.image_cache.images.get(name)
        if known is None and info is not None and info.get("iccp") is None:
            IMAGES.put(key, type(info)({k: v for k, v in info.items() if k not in ("i", "usages", "iccp_i")}))
        return placed
