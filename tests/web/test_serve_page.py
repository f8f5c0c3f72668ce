"""`microexpr serve` in headless Chromium: a streamed, rendered smile lifts the vector face's mouth corners and
the spotted event appears in the feed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"serve exited early: {proc.stderr.read().decode(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail("serve did not start listening")


@pytest.fixture
def serve_smile(smile_video):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "microexpr", "serve", str(smile_video), "--port", str(port), "--wait-s", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ},
    )
    try:
        _wait_port(port, proc)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()


def test_a_streamed_smile_raises_the_mouth_corners_and_lists_the_event(serve_smile, page):
    page.goto(serve_smile)
    page.wait_for_function("window.mx && window.mx.ended && window.mx.events.length > 0", timeout=90_000)
    hist = page.evaluate("window.mx.history")
    assert len(hist) == 90  # every frame of the 3 s clip at 30 fps reached the page
    rest = [r for t, r in hist if t < 1.5]
    apex = [r for t, r in hist if 1.95 < t < 2.25]
    assert max(abs(r) for r in rest) < 2.0, rest  # a resting face: corners at rest (SVG units)
    assert min(apex) > 4.0, apex  # the smile lifts both corners
    # the SVG itself carries the geometry: corner y values of the drawn mouth path, and the path matches them
    mouth = page.locator("#mouth")
    d = mouth.get_attribute("d")
    right_y, left_y = (
        float(mouth.get_attribute("data-corner-right-y")),
        float(mouth.get_attribute("data-corner-left-y")),
    )
    assert d.startswith("M") and f"{right_y:.2f}" in d and f"{left_y:.2f}" in d
    items = page.locator("#events li").all_inner_texts()
    assert items and any("AU12" in s for s in items), items
    ev = page.evaluate("window.mx.events[0]")
    assert 1.4 < ev["onset_s"] < 2.1 and 2.0 < ev["offset_s"] < 3.0
    assert ev["emotion"] == "happiness" and "happiness" in items[-1]  # labelled as analyze labels events
    assert page.locator("#bar-AU12").count() == 1
    assert page.errors == []
