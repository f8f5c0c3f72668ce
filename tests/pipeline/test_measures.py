"""What users rely on: each AU responds to its own movement, head pose has the right signs."""

from __future__ import annotations

import numpy as np
import pytest

from microexpr import analyze_video
from microexpr.facs import AU_CODES
from tests.conftest import FPS, pulse_schedule

# Pairs where FACS itself links the movements: a jaw drop parts the lips, so AU25 is scored with AU26.
LINKED = {("AU25", "AU26")}


@pytest.fixture(scope="module")
def sweep(au_sweep_video):
    return analyze_video(au_sweep_video)


def response_matrix(result) -> np.ndarray:
    """M[i, j]: mean intensity of AU measure i during the hold of rendered AU j (minus its neutral level)."""
    f = result.frames
    t = f["timestamp"].to_numpy()
    r = f[[f"{c}_r" for c in AU_CODES]].to_numpy()
    neutral = r[t < 1.2].mean(0)
    m = np.zeros((len(AU_CODES), len(AU_CODES)))
    for j, (_code, on, off) in enumerate(pulse_schedule()):
        mid = 0.5 * (on + off)
        hold = (t > mid - 0.1) & (t < mid + 0.1)
        m[:, j] = r[hold].mean(0) - neutral
    return m


def test_each_au_responds_to_its_own_movement_much_more_than_to_others(sweep):
    m = response_matrix(sweep)
    np.set_printoptions(precision=2, suppress=True, linewidth=200)
    for i, code in enumerate(AU_CODES):
        own = m[i, i]
        assert own > 1.0, f"{code} barely responds to its own movement: {own:.2f}\n{m}"
        for j, other in enumerate(AU_CODES):
            if j == i or (code, other) in LINKED:
                continue
            assert own > 2.0 * m[i, j], (
                f"{code} responds to {other} ({m[i, j]:.2f}) nearly as much as to itself ({own:.2f})\n{m}"
            )


def test_presence_marks_the_pulse_and_not_the_neutral(sweep):
    f = sweep.frames
    t = f["timestamp"].to_numpy()
    c = f[[f"{c}_c" for c in AU_CODES]].to_numpy()
    assert c[t < 1.2].sum() == 0
    for j, (code, on, off) in enumerate(pulse_schedule()):
        mid = 0.5 * (on + off)
        hold = np.abs(t - mid) < 0.05
        assert c[hold, j].all(), f"{code} not present at its apex"


def test_neutral_is_found_in_the_still_lead_in(sweep):
    src = sweep.baselines[0].source
    start = float(src.split()[1].split("-")[0])
    assert src.startswith("auto") and start < 1.5 - 1.0 / FPS, src


def test_head_pose_signs_and_size(head_motion_video):
    path, yaw, roll = head_motion_video
    f = analyze_video(path).frames
    still = f["timestamp"] < 0.9
    yawed = (f["timestamp"] > 1.2) & (f["timestamp"] < 1.7)
    rolled = f["timestamp"] > 2.4
    ry = np.degrees(f.loc[yawed, "pose_Ry"].mean() - f.loc[still, "pose_Ry"].mean())
    rz = np.degrees(f.loc[rolled, "pose_Rz"].mean() - f.loc[still, "pose_Rz"].mean())
    rx = np.degrees(f.loc[rolled, "pose_Rx"].mean() - f.loc[still, "pose_Rx"].mean())
    assert 8.0 < ry < 25.0, ry  # rendered +15 deg yaw
    assert 8.0 < rz < 16.0, rz  # rendered +12 deg roll
    assert abs(rx) < 5.0, rx
    # Head motion is mostly not mistaken for expressions: most AUs stay below trace level while the head
    # turns or tilts. Some leak (docs/aus.md lists them: mouth AUs under yaw); none reaches a strong level.
    for moving in (yawed, rolled):
        p95 = np.percentile(f.loc[moving, [f"{c}_r" for c in AU_CODES]].to_numpy(), 95, axis=0)
        assert np.median(p95) < 1.0, dict(zip(AU_CODES, p95.round(1)))
        assert p95.max() < 3.5, dict(zip(AU_CODES, p95.round(1)))
