"""report.html: one self-contained page that a real browser opens offline with its plots and images."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest


@pytest.fixture(scope="module")
def analysed(smile_video):
    from microexpr import analyze_video

    return analyze_video(smile_video)


def _images(html_text: str) -> list[np.ndarray]:
    from PIL import Image

    out = []
    for m in re.finditer(
        r'<img class="\w+" alt="\w+" src="data:image/(?:png|gif);base64,([A-Za-z0-9+/=]+)"', html_text
    ):
        im = Image.open(io.BytesIO(base64.b64decode(m.group(1))))
        out.append(np.asarray(im.convert("L"), np.float64))
    return out


def test_every_analysis_writes_a_report_that_opens_offline_with_plots_and_events(analysed, tmp_path, page):
    folder = analysed.save(tmp_path)
    report = folder / "report.html"
    text = report.read_text(encoding="utf-8")
    assert "<script src=" not in text and "https://" not in text.split("<script>")[0]  # nothing fetched
    page.route(
        "**/*",
        lambda route: route.abort() if not route.request.url.startswith("file:") else route.continue_(),
    )
    page.goto(report.as_uri())
    page.wait_for_function("window.microexprPlots >= 3", timeout=30000)
    assert page.errors == []
    assert page.locator(".plot .main-svg").count() >= 3  # AU, head pose and quality plots drew
    ev = analysed.events
    assert page.locator("#events tbody tr.event").count() == len(ev) >= 1
    smile = page.locator("#events tbody tr.event.macro")
    assert smile.count() == 1 and "AU12" in smile.inner_text()
    sizes = page.eval_on_selector_all("img.thumb", "els => els.map(e => e.naturalWidth)")
    assert len(sizes) == 3 * len(ev) and min(sizes) > 0  # onset / apex / offset thumbnails decode
    shapes = page.evaluate("document.getElementById('plot-0').layout.shapes.length")
    assert shapes == len(ev)  # each event shaded on the AU timeline


def test_blur_faces_pixelates_every_image(analysed):
    plain = _images(analysed.report_html())
    blurred = _images(analysed.report_html(blur_faces=True))
    assert len(plain) == len(blurred) >= 3
    cells = (128 // 12) ** 2
    for a, b in zip(plain, blurred):
        # nothing finer than 12 px blocks of the 128 px crop is left: at most one grey level per block
        assert len(np.unique(a)) > 2 * cells and len(np.unique(b)) <= cells
        # ... and it is still the same picture, coarsely (the movement stays readable)
        a_small = a[:: a.shape[0] // 8, :: a.shape[1] // 8].ravel()
        b_small = b[:: b.shape[0] // 8, :: b.shape[1] // 8].ravel()
        assert np.corrcoef(a_small, b_small)[0, 1] > 0.6


def test_a_micro_expression_gets_a_magnified_replay():
    from microexpr.report.html import magnified_replay

    yy, xx = np.mgrid[0:64, 0:64]
    frames = [
        (128 + 100 * np.exp(-((xx - 32 - s) ** 2 + (yy - 32) ** 2) / 40.0)).astype(np.uint8) for s in (0, 1)
    ]
    mag = magnified_replay(frames, 4.0)
    peak = [int(np.argmax(m[32])) for m in mag]
    assert peak[0] == 32 and 34 <= peak[1] <= 38  # a 1 px shift is shown as about 4 px
