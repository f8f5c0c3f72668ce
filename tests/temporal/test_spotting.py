"""Offline spotting on rendered clips with known truth."""

from __future__ import annotations

import numpy as np
import pytest

from microexpr.temporal.evaluate import interval_iou
from microexpr.temporal.spotting import EXCLUDED, USED, SpotOptions, spot_face
from tests.temporal.series import pulse_series


def test_a_rendered_smile_is_one_macro_event_at_the_right_time(smile_video):
    from microexpr import analyze_video

    ev = analyze_video(smile_video).events
    ev = ev[ev["kind"] != "blink"]
    assert len(ev) == 1, ev
    e = ev.iloc[0]
    assert e["kind"] == "macro" and "AU12" in e["aus"].split("+")
    assert abs(e["apex_s"] - 2.1) < 0.1
    assert (
        interval_iou((e["onset_frame"], e["offset_frame"]), (48, 78)) >= 0.5
    )  # rendered 1.6-2.6 s at 30 fps


def _series(fps, pulses, n_s=6.0, noise=0.05, seed=0):
    return pulse_series(fps, pulses, n_s, noise, seed)


@pytest.mark.parametrize("fps", [30, 60, 120, 200])
def test_the_same_settings_find_the_same_events_at_any_frame_rate(fps):
    # AU12 (index 8) for 300 ms, AU04 (index 2) for 1.5 s, a blink (AU45, index 16) for 150 ms
    t, au = _series(fps, [(8, 2.0, 2.3, 1.5), (2, 3.0, 4.5, 3.0), (16, 5.0, 5.15, 5.0)])
    track = spot_face(0, np.arange(len(t)), t, au, np.ones(len(t), bool), np.flatnonzero(t < 1.5))
    events, suppressed = track.events, track.suppressed
    kinds = [(e.kind, e.au_codes) for e in events]
    assert kinds == [("micro", ("AU12",)), ("macro", ("AU04",)), ("blink", ("AU45",))], kinds
    assert abs(events[0].apex_s - 2.15) <= 1.5 / fps + 0.02 and suppressed == 0


def test_a_blink_begins_where_the_lids_do_not_where_a_brow_before_it_began():
    """A faint brow lowering (under its threshold) already under way when the lids close, and dragged over its
    threshold by them: the blink is the blink's, and it begins where AU45 rose."""
    fps = 120
    t, au = _series(fps, [(2, 1.8, 2.6, 0.8), (2, 2.1, 2.35, 1.5), (16, 2.2, 2.35, 5.0)])
    track = spot_face(0, np.arange(len(t)), t, au, np.ones(len(t), bool), np.flatnonzero(t < 1.5))
    assert [(e.kind, e.au_codes) for e in track.events] == [("blink", ("AU45",))], track.events
    assert abs(track.events[0].onset_s - 2.2) < 0.05  # the brow was over half its threshold 225 ms earlier


def test_frames_marked_unusable_cannot_carry_an_event():
    t, au = _series(60, [(8, 2.0, 2.3, 1.5)])
    usable = ~((t > 1.9) & (t < 2.4))  # e.g. a flash or a fast head turn
    track = spot_face(0, np.arange(len(t)), t, au, usable, np.flatnonzero(t < 1.5), SpotOptions())
    assert track.events == [] and track.suppressed == 1
    assert (track.state[(t > 1.9) & (t < 2.4)] == EXCLUDED).all() and (track.state[t < 1.8] == USED).all()


def test_a_gap_only_keeps_a_macro_whose_onset_was_seen_and_marks_it_truncated():
    # AU04 (index 2) held 2.0-4.0 s, AU12 (index 8) 5.0-5.4 s; a hand covers the face 3.2-3.6 s and 5.2-5.6 s
    t, au = _series(60, [(2, 2.0, 4.0, 3.0), (8, 5.0, 5.4, 2.0)], n_s=7.0)
    usable = ~(((t > 3.2) & (t < 3.6)) | ((t > 5.2) & (t < 5.6)))
    track = spot_face(0, np.arange(len(t)), t, au, usable, np.flatnonzero(t < 1.5), SpotOptions())
    # the AU04 macro's first 1.2 s were seen: a macro for certain, cut where the face was lost; what follows
    # the gap has no onset of its own; the AU12 movement was cut after 200 ms: its kind is unknown
    assert [(e.kind, e.au_codes, e.truncated) for e in track.events] == [("macro", ("AU04",), True)]
    e = track.events[0]
    assert abs(e.onset_s - 2.0) < 0.15 and 3.0 < e.offset_s <= 3.2
    assert track.suppressed == 2


def test_the_micro_macro_boundary_is_configurable(smile_video):
    from microexpr import analyze_video

    ev = analyze_video(smile_video, micro_max_ms=2000).events  # the 1 s smile counts as micro now
    ev = ev[ev["kind"] != "blink"]
    assert list(ev["kind"]) == ["micro"] and "AU12" in ev.iloc[0]["aus"]


@pytest.fixture(scope="module")
def blink_then_smile(tmp_path_factory, face_model):
    """4 s at 60 fps: a blink at 2.0-2.2 s, then a small quick smile (AU12) at 2.75-3.1 s."""
    from microexpr.synth import au_pulse, render_clip, sample_face, write_video

    fps, n = 60.0, 240
    curves = {
        "AU45": au_pulse(n, fps, onset_s=2.0, apex_s=2.09, offset_s=2.2, peak=5.0),
        "AU12": au_pulse(n, fps, onset_s=2.75, apex_s=2.9, offset_s=3.1, peak=2.0),
    }
    path = tmp_path_factory.mktemp("blink") / "blink_smile.mp4"
    return write_video(render_clip(sample_face("astronaut"), curves, fps=fps), path, fps=fps)


def test_a_blink_ends_with_the_lids_and_does_not_swallow_what_follows(blink_then_smile):
    from microexpr import analyze_video

    ev = analyze_video(blink_then_smile).events
    blinks, others = ev[ev["kind"] == "blink"], ev[ev["kind"] != "blink"]
    assert len(blinks) == 1, ev
    b = blinks.iloc[0]
    # the landmarker's lids settle for ~1 s after a blink; that tail is neither the blink nor an expression
    assert b["aus"] == "AU45" and b["offset_s"] <= 2.2 + 0.15, b.to_dict()
    assert len(others) == 1, ev
    m = others.iloc[0]
    assert m["kind"] == "micro" and "AU12" in m["aus"].split("+"), m.to_dict()
    assert interval_iou((m["onset_frame"], m["offset_frame"]), (165, 186)) >= 0.5, m.to_dict()
