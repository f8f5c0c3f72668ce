"""Pose decoupling: the pose's leak into a feature is removed, and an expression survives when its frames are
left out of the fit (the analysis's second fit)."""

from __future__ import annotations

import numpy as np

from microexpr.measure.decouple import decoupling_applies, pose_across, remove_pose_coupling


def _track(seconds=15.0, fps=60.0, seed=0, raise_at_turn=True):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fps)) / fps
    deg = np.column_stack(
        [1.8 * np.sin(2 * np.pi * 0.17 * t + 1.0), 3.0 * np.sin(2 * np.pi * 0.23 * t), 0.3 * np.sin(t)]
    )
    deg[t < 2.0] = 0.0  # a still first stretch: the neutral
    pose = np.radians(deg)
    leak = 0.004 * deg[:, 0] - 0.003 * deg[:, 1]  # IOD per degree of pitch and yaw
    # a 2 s brow raise (0.02 IOD) at the head's largest turn, where a fit over every frame takes it for leak
    peak = float(t[np.argmax(np.where(t > 3.0, deg[:, 1], -np.inf))])
    bump = 0.02 * np.clip(1.0 - np.abs(t - peak) / 1.0, 0.0, 1.0) * raise_at_turn
    x = (leak + bump + rng.normal(0.0, 0.0005, len(t)))[:, None]
    return t, pose, x, bump, np.flatnonzero(t < 1.5)


def test_the_pose_leak_is_removed_where_the_face_is_still():
    t, pose, x, bump, neutral = _track()
    out = remove_pose_coupling(x, pose, t, np.ones(len(t), bool), neutral)[:, 0]
    quiet = bump == 0
    assert np.std(x[quiet, 0]) > 0.005  # a 3 degree turn moves the feature by ~0.01 IOD ...
    assert np.std(out[quiet] - np.median(out[neutral])) < 0.002  # ... and the fit takes it out


def test_an_expression_at_the_head_s_largest_turn_is_not_taken_for_its_leak():
    t, pose, x, bump, neutral = _track()
    apex = int(np.argmax(bump))

    def size(out: np.ndarray) -> float:
        return float(out[apex, 0] - np.median(out[neutral, 0]))

    every = np.ones(len(t), bool)
    # Tukey's biweight gives the raise's frames no weight: even a fit over every frame keeps it whole ...
    assert abs(size(remove_pose_coupling(x, pose, t, every, neutral)) - 0.02) < 0.003
    # ... where Huber's weights alone let it pull the fit and ate into it
    assert size(remove_pose_coupling(x, pose, t, every, neutral, redescending=0)) < 0.75 * 0.02
    # and the second fit, which leaves the expression's frames out, keeps it at its full size
    assert abs(size(remove_pose_coupling(x, pose, t, bump == 0, neutral)) - 0.02) < 0.003


def test_nothing_is_learnt_from_a_head_that_holds_still():
    t, pose, x, bump, neutral = _track()
    still = np.radians(np.full_like(pose, 0.2) * np.sin(t)[:, None])  # within 3 degrees: expressions' own
    assert not decoupling_applies(still, np.ones(len(t), bool), neutral)
    assert np.array_equal(remove_pose_coupling(x, still, t, np.ones(len(t), bool), neutral), x)


def test_the_leak_at_an_expression_is_taken_at_the_pose_around_it():
    """An expression moves the stable points too: the measured pitch rises by a degree during a 300 ms brow raise.
    Subtracting the leak at that measured pose takes a third of the raise with it; at the pose interpolated
    across the expression, nearly none."""
    t, pose, x, _, neutral = _track(raise_at_turn=False)
    bump = 0.012 * np.clip(
        1.0 - np.abs(t - 8.0) / 0.15, 0.0, 1.0
    )  # a micro-expression, in the middle of a turn
    x = x + bump[:, None]
    apex = int(np.argmax(bump))
    busy = np.abs(t - 8.0) <= 0.25  # its frames and a margin, as the first pass finds them
    measured = pose.copy()
    measured[:, 0] += np.radians(1.0 * bump / 0.012)  # 1 degree of pitch at the apex
    across = pose_across(measured, busy)
    assert np.abs(np.degrees(across - pose)[busy]).max() < 0.2  # the head's own pose, from either side
    at_measured = remove_pose_coupling(x, measured, t, ~busy, neutral)[:, 0]
    at_across = remove_pose_coupling(x, measured, t, ~busy, neutral, subtract_at=across)[:, 0]

    def size(out: np.ndarray) -> float:
        return float(out[apex] - np.median(out[max(apex - 60, 0) : apex - 20]))

    assert size(at_measured) < 0.012 - 0.003  # 0.004 IOD per degree of pitch taken with it
    assert abs(size(at_across) - 0.012) < 0.0015
