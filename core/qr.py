"""QR encodings of tag URLs. Pure functions of the URL, so their results are cached per process."""

from __future__ import annotations

import io
import re
from functools import lru_cache

import qrcode
import qrcode.constants
from qrcode.image.svg import SvgPathFillImage

# M recovers ~15% damage: a scuffed sticker still scans, and a tag URL stays at version 4 or so.
ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_M
# The quiet zone the QR spec requires (ISO/IEC 18004: four modules); scanners struggle without it.
BORDER = 4
_SIZE = re.compile(r' (?:width|height)="[^"]*"')
# qrcode names its path `id="qr-path"`: several codes on one page (a label sheet) would repeat the id.
_PATH_ID = re.compile(r' id="qr-path"')


def _qr(url: str, **kwargs) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=ERROR_CORRECTION, border=BORDER, **kwargs)
    code.add_data(url)
    code.make(fit=True)
    return code


def matrix(url: str) -> list[list[bool]]:
    """The modules (quiet zone included), True for dark."""
    return _qr(url).get_matrix()


@lru_cache(maxsize=512)
def png_bytes(url: str, box_size: int = 10) -> bytes:
    buffer = io.BytesIO()
    _qr(url, box_size=box_size).make_image().save(buffer)
    return buffer.getvalue()


@lru_cache(maxsize=512)
def svg_text(url: str) -> str:
    """A standalone SVG document, scalable for print: a white square under the whole code, then one <path>.

    The white is part of the code: without it the SVG is transparent, and dark modules on a dark page, label or
    phone in dark mode have nothing to contrast with, the quiet zone included (tests/core/test_qr.py)."""
    return _qr(url, image_factory=SvgPathFillImage).make_image().to_string(encoding="unicode")


def svg_inline(url: str) -> str:
    """The SVG element without its fixed millimetre size, for embedding in HTML and sizing with CSS."""
    return _PATH_ID.sub("", _SIZE.sub("", svg_text(url).split("?>", 1)[-1].strip(), count=2))
