"""Noise filtering on rendered video: flicker, head motion, blur and occlusion never create events, and
each is flagged and bridged (short) or excluded (long) in the frames table."""

from __future__ import annotations

import numpy as np
import pytest

from microexpr.synth.scenario import Nuisance
from microexpr.temporal.spotting import BRIDGED, EXCLUDED, USED

FPS = 60


def _clip(tmp_path_factory, name, plan, seconds=4.0):
    from microexpr.synth.scenario import synth_video

    path = tmp_path_factory.mktemp(name) / f"{name}.mp4"
    video, _ = synth_video(
        path, fps=FPS, seconds=seconds, n_micro=0, n_macro=0, n_blinks=0, nuisance_plan=plan, seed=3
    )
    return video


def _analyse(video):
    from microexpr import analyze_video

    r = analyze_video(video)
    return r.frames, r.events


def _span(frames, column):
    t = frames["timestamp"].to_numpy()
    on = frames[column].to_numpy() > 0
    return (float(t[on].min()), float(t[on].max())) if on.any() else None


def test_flicker_and_a_flash_create_no_event(tmp_path_factory, face_model):
    video = _clip(
        tmp_path_factory, "flicker", [Nuisance("flicker", 1.5, 4.0, 0.04), Nuisance("flash", 2.5, 2.55, 0.25)]
    )
    frames, events = _analyse(video)
    assert len(events) == 0, events
    on, off = _span(frames, "flag_lighting")
    assert 2.49 <= on and off <= 2.6  # the flash is flagged, the slow ripple is not
    st = frames["spot_state"].to_numpy()
    t = frames["timestamp"].to_numpy()
    assert (st[(t >= 2.5) & (t < 2.55)] == BRIDGED).all()  # 50 ms: interpolated, not trusted


@pytest.mark.parametrize(("ms", "state"), [(80, BRIDGED), (300, EXCLUDED)])
def test_motion_blur_is_flagged_and_bridged_or_excluded(tmp_path_factory, face_model, ms, state):
    video = _clip(tmp_path_factory, f"blur{ms}", [Nuisance("blur", 2.0, 2.0 + ms / 1000.0, 3.0)])
    frames, events = _analyse(video)
    assert len(events) == 0, events
    on, off = _span(frames, "flag_blur")
    assert abs(on - 2.0) < 0.02 and abs(off - (2.0 + ms / 1000.0)) < 0.04
    t, st = frames["timestamp"].to_numpy(), frames["spot_state"].to_numpy()
    assert (st[(t >= 2.0) & (t < 2.0 + ms / 1000.0)] == state).all()
    assert (st[t < 1.9] == USED).all() and (st[t > 2.7] == USED).all()


@pytest.mark.parametrize(("ms", "state"), [(80, BRIDGED), (500, EXCLUDED)])
def test_a_hand_over_the_mouth_is_detected_and_never_makes_an_event(tmp_path_factory, face_model, ms, state):
    video = _clip(tmp_path_factory, f"occ{ms}", [Nuisance("occlusion", 2.0, 2.0 + ms / 1000.0, 1.0)])
    frames, events = _analyse(video)
    assert len(events) == 0, events
    on, off = _span(frames, "flag_occlusion")
    assert abs(on - 2.0) < 0.02 and abs(off - (2.0 + ms / 1000.0)) < 0.04
    assert frames["occlusion"].max() > 0.6 and frames["occlusion"][frames["timestamp"] < 1.9].max() < 0.3
    t, st = frames["timestamp"].to_numpy(), frames["spot_state"].to_numpy()
    assert (st[(t >= 2.0) & (t < 2.0 + ms / 1000.0)] == state).all()


def test_a_fast_head_turn_is_suppressed_and_recorded_on_the_frames(tmp_path_factory, face_model):
    from microexpr.synth import render_clip, sample_face, write_video

    n = 4 * FPS
    t = np.arange(n) / FPS
    yaw = np.where(
        (t >= 2.0) & (t < 2.3), 20 * np.sin(np.pi * (t - 2.0) / 0.3), 0.0
    )  # out and back, ~130 deg/s
    path = tmp_path_factory.mktemp("turn") / "turn.mp4"
    write_video(render_clip(sample_face("astronaut"), {}, fps=FPS, yaw_deg=yaw), path, fps=FPS)
    frames, events = _analyse(path)
    assert len(events) == 0, events
    ft, st = frames["timestamp"].to_numpy(), frames["spot_state"].to_numpy()
    assert (st[(ft > 2.03) & (ft < 2.3)] == EXCLUDED).all()  # recorded on the frames
    assert frames["AU25_r"].max() > 1.0  # the turn did disturb the AUs: suppression is what kept it out
