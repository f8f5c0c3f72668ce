"""`microexpr live --dashboard` in headless Chromium: the video updates, AU bars move with a rendered smile,
the spotted event reaches the feed, the latency and drop figures are numbers."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"live exited early: {proc.stderr.read().decode(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail("the dashboard did not start listening")


def _live(video, *extra: str):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "microexpr", "live", str(video), "--realtime", "--dashboard",
         "--port", str(port), "--once", "--wait-s", "60", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    _wait_port(port, proc)
    return proc, f"http://127.0.0.1:{port}/"


def _stop(proc: subprocess.Popen) -> int:
    try:
        return proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_the_dashboard_shows_video_au_bars_pose_events_and_figures(smile_video, page):
    proc, url = _live(smile_video)
    try:
        page.goto(url)
        page.wait_for_function("window.mx && window.mx.video >= 3", timeout=90_000)
        first_src = page.get_attribute("#video", "src")
        page.wait_for_function("window.mx.ended && window.mx.events.length > 0", timeout=90_000)
    finally:
        code = _stop(proc)
    assert code == 0  # --once: the command ends with the source
    mx = page.evaluate("({video: mx.video, faces: mx.faces, history: mx.history, stats: mx.stats})")
    # video: JPEG frames replaced the image many times (at most ~15 a second: 3 s -> <= ~50)
    assert 10 <= mx["video"] <= 60, mx["video"]
    assert page.get_attribute("#video", "src") != first_src
    w = page.evaluate("document.getElementById('video').naturalWidth")
    assert 0 < w <= 320
    # AU bars: AU12 rises with the smile (1.6-2.6 s, apex 2.1 s) and the bar is drawn from it
    au12 = [(t, a.get("AU12") or 0.0) for t, a in mx["history"]]
    rest = [v for t, v in au12 if t < 1.4]
    apex = [v for t, v in au12 if 1.9 < t < 2.3]
    assert rest and apex and max(apex) > max(rest) + 1.0, au12
    assert page.locator("#bar-AU12").count() == 1 and page.locator("#bar-AU12").evaluate("e => e.style.width")
    # head pose in degrees: a face looking at the camera
    yaw = float(page.inner_text("#pose-yaw"))
    assert abs(yaw) < 20
    # the event feed
    items = page.locator("#events li").all_inner_texts()
    assert any("AU12" in s for s in items), items
    # latency and drop figures are numbers, and agree with the run
    st = mx["stats"]
    assert st["frames"] + st["dropped"] == 90 and st["latency_ms"]["p95"] > 0
    for el in ("#stat-p50", "#stat-p95", "#stat-fps", "#stat-frames", "#stat-dropped", "#stat-drop-ratio"):
        float(page.inner_text(el))  # raises on "–" or text
    assert page.errors == []


def test_no_video_sends_no_frames_but_everything_else(smile_video, page):
    proc, url = _live(smile_video, "--no-video")
    try:
        page.goto(url)
        page.wait_for_function("window.mx && window.mx.ended", timeout=90_000)
    finally:
        assert _stop(proc) == 0
    assert page.evaluate("mx.video") == 0 and page.evaluate("mx.faces") > 10
    assert page.is_hidden("#video") and page.is_visible("#no-video")
    assert page.errors == []
