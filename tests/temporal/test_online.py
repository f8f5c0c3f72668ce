"""Online spotting: the same events as offline, each known within the stated delay of its offset."""

from __future__ import annotations

import numpy as np
import pytest

from microexpr.temporal.online import OnlineSpotter
from microexpr.temporal.spotting import (
    BRIDGED,
    EXCLUDED,
    USED,
    FaceSpotter,
    Noise,
    SpotOptions,
    condition,
    spot_face,
)
from tests.temporal.series import pulse_series


def _series(fps, pulses, n_s=8.0, noise=0.05, seed=0):
    return pulse_series(fps, pulses, n_s, noise, seed)


PULSES = [(8, 2.0, 2.3, 1.5), (2, 3.0, 4.5, 3.0), (16, 5.0, 5.15, 5.0), (4, 6.0, 6.25, 2.0)]


@pytest.mark.parametrize("fps", [30, 120, 200])
def test_frame_by_frame_finds_the_offline_events_within_the_stated_delay(fps):
    t, au = _series(fps, PULSES)
    usable = np.ones(len(t), bool)
    neutral = np.flatnonzero(t < 1.5)
    offline = spot_face(0, np.arange(len(t)), t, au, usable, neutral).events
    assert [e.kind for e in offline] == ["micro", "macro", "blink", "micro"]

    d, _ = condition(t, au, usable)
    sp = FaceSpotter(0, SpotOptions(), Noise.of(d[neutral]))
    online, emitted_at = [], []
    for i in range(len(t)):
        got = sp.push(i, t[i], au[i])
        online += got
        emitted_at += [t[i]] * len(got)
    online += sp.finish()
    assert online == offline
    for e, at in zip(online, emitted_at):
        assert at - e.offset_s <= SpotOptions().delay_ms / 1000.0 + 2.0 / fps + 1e-9


def test_a_short_tracking_gap_is_bridged_and_a_long_one_breaks_the_event():
    fps = 60
    t, au = _series(fps, [(8, 2.0, 2.4, 2.0)])
    neutral = np.flatnonzero(t < 1.5)
    short = ~((t >= 2.15) & (t < 2.23))  # 80 ms lost at the apex (a hand passing, a blur)
    track = spot_face(0, np.arange(len(t)), t, au, short, neutral)
    assert [e.au_codes for e in track.events] == [("AU12",)]
    last = t[~short].max()
    settle = (t > last) & (t < last + SpotOptions().settle_ms / 1000.0 - 1e-6)  # the landmarker recovering
    assert (track.state[~short | settle] == BRIDGED).all() and (track.state[short & ~settle] == USED).all()

    long = ~((t >= 2.1) & (t < 2.3))  # 200 ms: longer than the 100 ms bridge
    track = spot_face(0, np.arange(len(t)), t, au, long, neutral)
    assert track.events == [] and track.suppressed >= 1
    assert (track.state[~long] == EXCLUDED).all() and (track.state[t < 2.0] == USED).all()


def test_no_event_is_invented_across_frames_that_are_missing():
    fps = 60
    t, au = _series(fps, [(8, 2.0, 2.4, 2.0)])
    keep = ~((t >= 2.1) & (t < 2.35))  # the face was not found at all for 250 ms
    track = spot_face(0, np.arange(len(t))[keep], t[keep], au[keep], np.ones(keep.sum(), bool), np.arange(60))
    assert track.events == []


@pytest.mark.parametrize("fps", [30, 120])
def test_a_macro_seen_rising_before_a_gap_and_going_on_after_it_is_one_macro(fps):
    """A blur or a hand over the face in the middle of a 1.6 s expression: its onset was seen, it is still on
    after the gap and the whole lasts longer than a micro-expression, so it is reported once, across the gap."""
    t, au = _series(fps, [(2, 2.0, 3.6, 3.0)])
    neutral = np.flatnonzero(t < 1.5)
    usable = ~((t >= 2.3) & (t < 2.7))  # 400 ms untrusted, longer than the 100 ms bridge
    track = spot_face(0, np.arange(len(t)), t, au, usable, neutral)
    assert [e.kind for e in track.events] == ["macro"] and track.suppressed == 0
    e = track.events[0]
    assert abs(e.onset_s - 2.0) < 0.15 and abs(e.offset_s - 3.6) < 0.2 and not e.truncated
    assert (track.state[~usable] == EXCLUDED).all()  # the frames table still says what was not seen
    # a second gap cuts it again before its end: still one macro, marked truncated at the last frame seen
    cut_again = usable & ~((t >= 3.2) & (t < 4.0))
    track = spot_face(0, np.arange(len(t)), t, au, cut_again, neutral)
    assert [(e.kind, e.truncated) for e in track.events] == [("macro", True)]
    assert abs(track.events[0].onset_s - 2.0) < 0.15 and track.events[0].offset_s < 3.2

    # a gap longer than join_gap_ms: the part after it may be another expression, so nothing is reported
    t, au = _series(fps, [(2, 2.0, 4.4, 3.0)])
    usable = ~((t >= 2.3) & (t < 3.3))
    assert spot_face(0, np.arange(len(t)), t, au, usable, neutral).events == []
    # and two expressions of different AUs on either side of a gap are not joined
    t, au = _series(fps, [(2, 2.0, 2.5, 3.0), (8, 2.65, 3.6, 3.0)])
    usable = ~((t >= 2.3) & (t < 2.7))
    assert spot_face(0, np.arange(len(t)), t, au, usable, neutral).events == []


def test_online_spotting_of_a_rendered_smile(smile_video):
    from microexpr.pipeline import iter_analyze

    sp = OnlineSpotter()
    events, frames = [], 0
    for fr in iter_analyze(smile_video):
        frames += 1
        for e in sp.push(fr):
            events.append((e, fr.t_s))
    events += [(e, None) for e in sp.flush()]
    found = [(e, at) for e, at in events if e.kind != "blink"]
    assert len(found) == 1, found
    e, at = found[0]
    assert "AU12" in e.au_codes and abs(e.apex_s - 2.1) < 0.15
    assert (
        at is not None and at - e.offset_s <= sp.delay_ms / 1000.0 + 2.0 / 30 + 1e-9
    )  # emitted as it closed


@pytest.mark.parametrize("neutral_at", [(0.0, 1.5), (6.6, 7.6)])
def test_given_the_neutral_frames_online_spotting_is_offline_spotting(neutral_at):
    """What live mode relies on: told which frames are neutral, the online spotter holds frames until their
    noise is known, then finds exactly the offline events, gaps and untrusted frames included."""
    t, au = _series(120, PULSES)
    usable = np.ones(len(t), bool)
    usable[(t > 3.4) & (t < 3.45)] = False  # a bridged blip inside the macro
    usable[(t > 0.5) & (t < 0.8)] = False  # a broken stretch inside the first neutral window
    neutral = np.flatnonzero((t >= neutral_at[0]) & (t <= neutral_at[1]))
    offline = spot_face(0, np.arange(len(t)), t, au, usable, neutral)
    assert len(offline.events) == 4
    sp = FaceSpotter(0, SpotOptions(), neutral_frames=neutral)
    online = []
    for i in range(len(t)):
        online += sp.push(i, t[i], au[i], usable[i])
    online += sp.finish()
    assert online == offline.events
    assert sp.states == offline.state.tolist()
