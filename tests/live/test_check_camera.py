"""Capture check on a live source: measured on a file released at its own speed (its real rate is known), on a
source with known gaps, and a missing camera as a one-line error."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from microexpr.live import LiveFrame, LiveSource, open_live
from microexpr.live.check import check_live_source
from tests.cli_checks import assert_one_line_error


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "microexpr", *args], capture_output=True, text=True, timeout=120
    )


def test_a_file_played_in_real_time_measures_its_own_rate(smile_video):
    r = check_live_source(open_live(str(smile_video), realtime=True), 2.0, nominal_fps=30.0)
    assert 1.9 <= r.seconds <= 2.05 and 55 <= r.frames <= 62  # read for 2 s of a 30 fps clip
    assert r.measured_fps == pytest.approx(30.0, rel=0.05)
    assert r.interval_ms == pytest.approx(33.3, abs=2.0)
    assert r.interval_p95_ms >= r.interval_ms and r.jitter_ms >= 0
    assert r.dropped == 0 and r.duplicated == 0
    assert (r.width, r.height) == (640, 480)
    assert r.face_found == 1.0 and r.face_width_px > 50
    assert not r.ok and any("record at 120 fps" in p for p in r.problems)  # 30 fps: the file check's verdict


def test_gaps_and_repeats_in_the_device_times_count_as_dropped_and_duplicated(smile_video):
    import av

    with av.open(str(smile_video)) as c:
        image = next(c.decode(video=0)).to_ndarray(format="rgb24")
    step = 1 / 120
    pts = [k * step for k in range(600)]
    del pts[100:103]  # 3 frames lost by the device
    del pts[300:304]  # and 4 more
    pts.insert(200, pts[199])  # one delivered twice
    frames = (LiveFrame(i, t, 1000.0 + t, image) for i, t in enumerate(pts))
    r = check_live_source(LiveSource(frames, True, "synthetic"), 10.0, nominal_fps=120.0)
    assert r.dropped == 7 and r.duplicated == 1
    assert r.frames == len(pts) and r.interval_ms == pytest.approx(1000 * step, rel=0.01)
    assert not any("fps" in p and "need at least" in p for p in r.problems)  # 120 fps passes


def test_camera_errors_are_one_line(tmp_path, smile_video):
    assert_one_line_error(_cli("check-capture", "--camera", "7"), "/dev/video7")
    assert_one_line_error(_cli("check-capture"), "--camera")
    assert_one_line_error(_cli("check-capture", str(smile_video), "--camera", "0"), "one of the two")
    assert_one_line_error(_cli("check-capture", "--camera", "../etc/passwd"), "--camera")
    assert_one_line_error(_cli("check-capture", "--camera", "0", "--size", "640"), "--size")
    assert_one_line_error(_cli("check-capture", "--camera", "0", "--seconds", "-1"), "--seconds")


def test_fewer_than_two_frames_is_a_clear_error(smile_video):
    from microexpr.errors import InputError

    one = iter([LiveFrame(0, 0.0, 0.0, np.zeros((64, 64, 3), np.uint8))])
    with pytest.raises(InputError, match="fewer than two frames"):
        check_live_source(LiveSource(one, True, "cam"), 1.0)
