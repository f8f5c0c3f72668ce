"""Capture check: measured frame timing, face measures, and a verdict that says what to change."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from microexpr.capture import check_capture, frame_timing


def test_timing_counts_drops_duplicates_and_measures_the_rate():
    t = np.arange(100) / 120.0
    t = np.delete(t, [40, 41, 42])  # three frames lost
    t = np.insert(t, 10, t[10])  # one repeated
    fps, jitter, dropped, dup = frame_timing(t)
    assert abs(fps - 120.0) < 1e-6 and dropped == 3 and dup == 1 and jitter > 0


def test_a_120_fps_close_up_passes_and_a_30_fps_small_face_is_told_what_to_change(tmp_path, face_model):
    from microexpr.synth import render_clip, sample_face, write_video

    close = sample_face("astronaut", size=(640, 480), iod_px=130)
    good = write_video(render_clip(close, {}, fps=120.0, n_frames=90), tmp_path / "good.mp4", fps=120.0)
    r = check_capture(good)
    assert r.ok, r.problems
    assert abs(r.measured_fps - 120) < 0.01 and r.dropped == 0 and r.face_width_px > 150

    small = sample_face("astronaut", size=(640, 480), iod_px=50)
    bad = write_video(render_clip(small, {}, fps=30.0, n_frames=30), tmp_path / "bad.mp4", fps=30.0)
    r = check_capture(bad)
    assert not r.ok
    text = " ".join(r.problems)
    assert "30 fps" in text and "120 fps" in text and "px wide" in text

    p = subprocess.run(
        [sys.executable, "-m", "microexpr", "check-capture", str(bad), "--json", str(tmp_path / "r.json")],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0 and "not good for micro-expressions" in p.stdout, p.stderr
    assert json.loads((tmp_path / "r.json").read_text())["ok"] is False
