"""Shared test set-up and builders of rendered clips with known truth (session-scoped: rendering costs seconds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from microexpr.facs import AU_CODES
from microexpr.track.model import model_path, require_model

FPS = 30.0
LEAD_S = 1.5  # neutral lead-in
PULSE_S = 0.6
GAP_S = 0.5
PEAK = 3.0


@pytest.fixture(scope="session")
def face_model():
    """The installed, hash-checked face model. Tests that need it fail (not skip) when it is missing."""
    try:
        return require_model()
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"{e} (expected at {model_path()})")


def pulse_schedule() -> list[tuple[str, float, float]]:
    """(AU, onset_s, offset_s) for one pulse of each AU, one after another."""
    out, t = [], LEAD_S
    for code in AU_CODES:
        out.append((code, t, t + PULSE_S))
        t += PULSE_S + GAP_S
    return out


@pytest.fixture(scope="session")
def au_sweep_video(tmp_path_factory, face_model) -> Path:
    """One clip of the astronaut in which each AU rises to intensity 3 and falls, one at a time."""
    from microexpr.synth import au_pulse, render_clip, sample_face, write_video

    sched = pulse_schedule()
    n = int(round((sched[-1][2] + GAP_S) * FPS))
    curves = {}
    for code, on, off in sched:
        mid = 0.5 * (on + off)
        curves[code] = au_pulse(n, FPS, onset_s=on, apex_s=mid, offset_s=off, peak=PEAK)
    path = tmp_path_factory.mktemp("sweep") / "sweep.mp4"
    return write_video(render_clip(sample_face("astronaut"), curves, fps=FPS), path, fps=FPS)


@pytest.fixture(scope="session")
def head_motion_video(tmp_path_factory, face_model) -> tuple[Path, np.ndarray, np.ndarray]:
    """A clip that holds still, then yaws to +15 deg, back, then rolls to +12 deg (truth arrays returned)."""
    from microexpr.synth import render_clip, sample_face, write_video

    n = 90
    t = np.arange(n) / FPS
    yaw = np.where((t >= 1.0) & (t < 1.8), 15.0, 0.0)
    roll = np.where(t >= 2.2, 12.0, 0.0)
    path = tmp_path_factory.mktemp("head") / "head.mp4"
    write_video(render_clip(sample_face("astronaut"), {}, fps=FPS, yaw_deg=yaw, roll_deg=roll), path, fps=FPS)
    return path, yaw, roll


@pytest.fixture(scope="session")
def smile_video(tmp_path_factory, face_model) -> Path:
    """3 s of the astronaut: 1.5 s neutral, then a smile (AU12) rising to 3 and back."""
    from microexpr.synth import au_pulse, render_clip, sample_face, write_video

    n = int(3 * FPS)
    curves = {"AU12": au_pulse(n, FPS, onset_s=1.6, apex_s=2.1, offset_s=2.6, peak=3.0)}
    path = tmp_path_factory.mktemp("smile") / "smile.mp4"
    return write_video(render_clip(sample_face("astronaut"), curves, fps=FPS), path, fps=FPS)


@pytest.fixture(scope="session")
def no_face_video(tmp_path_factory) -> Path:
    """A second of moving noise with no face in it."""
    from microexpr.synth import write_video

    rng = np.random.default_rng(0)
    frames = (rng.integers(0, 255, (160, 200, 3), dtype=np.uint8) // 3 + k for k in range(30))
    path = tmp_path_factory.mktemp("noface") / "noface.mp4"
    return write_video(frames, path, fps=FPS)


@pytest.fixture(scope="session")
def two_face_video(tmp_path_factory, face_model) -> Path:
    """Two real faces side by side; the right one (hopper) is hidden for 0.5 s in the middle."""
    from microexpr.synth import render_clip, sample_face, write_video

    n = int(3 * FPS)
    t = np.arange(n) / FPS
    visible_b = ~((t >= 1.2) & (t < 1.7))
    photos = [
        sample_face("astronaut", size=(400, 400), iod_px=70),
        sample_face("hopper", size=(400, 400), iod_px=70),
    ]
    curves = [{}, {}]
    frames = render_clip(photos, curves, fps=FPS, visible=[np.ones(n, bool), visible_b])
    path = tmp_path_factory.mktemp("two") / "two.mp4"
    return write_video(frames, path, fps=FPS)


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium from Debian's `chromium` package driven by Playwright (`make test` installs it).

    Fails, not skips, when the browser is missing: a page nobody opened is not tested."""
    import shutil

    from playwright.sync_api import sync_playwright

    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("Debian's chromium is not installed (make browser, or apt-get install chromium)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):
    """A fresh page that records console errors and page errors in `page.errors` (list of str)."""
    ctx = browser.new_context()
    pg = ctx.new_page()
    pg.errors = []
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    try:
        yield pg
    finally:
        ctx.close()
