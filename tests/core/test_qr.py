"""Tag QR codes scan wherever they are shown or printed: on a dark page, a dark label sheet, a phone in dark mode.

An SVG with no background is transparent, so dark modules on a dark page vanish, quiet zone and all. The SVGs are
rendered by a real browser engine (headless Chromium, as the browser tests use) onto a dark page and decoded with
zxing-cpp; the PNG is decoded directly.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from core import qr

URL = "https://things.example.org/t/Q7fXk2mWb9pLr4sTv8yZa1cDe3gHj5nR"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DARK = "#121212"
SVG = "{http://www.w3.org/2000/svg}"


def decode(image: Image.Image) -> list[str]:
    zxingcpp = pytest.importorskip("zxingcpp", reason="pip install -r requirements-dev.txt (zxing-cpp)")
    return [result.text for result in zxingcpp.read_barcodes(image)]


def screenshot(html: str, tmp_path: Path) -> Image.Image:
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Chromium to render the SVG (make chromium)")
    page = tmp_path / "page.html"
    page.write_text(html, encoding="utf-8")
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=480,480",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return Image.open(shot).convert("RGB")


def dark_page(body: str) -> str:
    page = f'<body style="margin:0;background:{DARK}"><div style="padding:40px">{body}</div></body>'
    return f"<!doctype html><html>{page}</html>"


def test_inline_svg_decodes_on_a_dark_page(tmp_path):
    image = screenshot(dark_page(f'<div style="width:320px;height:320px">{qr.svg_inline(URL)}</div>'), tmp_path)
    assert image.getpixel((5, 5)) == (18, 18, 18)  # the page really is dark around the code
    assert decode(image) == [URL]


def test_downloaded_svg_decodes_on_a_dark_page(tmp_path):
    data = base64.b64encode(qr.svg_text(URL).encode()).decode()
    image = screenshot(dark_page(f'<img width="320" height="320" src="data:image/svg+xml;base64,{data}">'), tmp_path)
    assert decode(image) == [URL]


def test_png_decodes(tmp_path):
    path = tmp_path / "qr.png"
    path.write_bytes(qr.png_bytes(URL))
    assert decode(Image.open(path).convert("RGB")) == [URL]


@pytest.mark.parametrize("render", [qr.svg_text, qr.svg_inline])
def test_svg_paints_a_white_background_under_the_whole_code_quiet_zone_included(render):
    root = ET.fromstring(render(URL))
    width = height = len(qr.matrix(URL))
    assert root.get("viewBox") == f"0 0 {width} {height}"
    background, *modules = list(root)
    assert background.tag == f"{SVG}rect"
    assert background.get("fill") in {"white", "#fff", "#ffffff"}
    assert (background.get("x"), background.get("y")) == ("0", "0")
    assert (background.get("width"), background.get("height")) == ("100%", "100%")
    # The modules start after the four-module quiet zone (ISO/IEC 18004), which the background covers.
    assert modules and modules[0].get("d", "").startswith(f"M{qr.BORDER},{qr.BORDER}")


def test_inline_svgs_carry_no_element_id_so_a_label_sheet_has_no_duplicate_ids():
    assert ' id="' not in qr.svg_inline(URL)
