"""Live mode finds what offline `analyze` finds on the same file: the same events, within one frame."""

from __future__ import annotations

import numpy as np
import pytest

from microexpr import analyze_video
from microexpr.live import open_live, run_live

FPS = 60.0


@pytest.fixture(scope="module")
def expressive_clip(tmp_path_factory, face_model):
    """5 s of the astronaut: neutral, a 250 ms brow flash (micro), a 1.2 s smile (macro) and a blink."""
    from microexpr.synth import au_pulse, render_clip, sample_face, write_video

    n = int(5 * FPS)
    curves = {
        "AU01": au_pulse(n, FPS, onset_s=1.8, apex_s=1.92, offset_s=2.05, peak=2.5),
        "AU02": au_pulse(n, FPS, onset_s=1.8, apex_s=1.92, offset_s=2.05, peak=2.5),
        "AU12": au_pulse(n, FPS, onset_s=2.6, apex_s=3.2, offset_s=3.8, peak=3.0),
        "AU45": au_pulse(n, FPS, onset_s=4.3, apex_s=4.38, offset_s=4.45, peak=5.0),
    }
    path = tmp_path_factory.mktemp("agree") / "agree.mp4"
    return write_video(render_clip(sample_face("astronaut"), curves, fps=FPS), path, fps=FPS)


def _key(e) -> tuple:
    return (e.kind, e.onset_frame, e.apex_frame, e.offset_frame)


@pytest.mark.parametrize("neutral", [None, (0.0, 1.0)], ids=["auto-neutral", "given-neutral"])
def test_live_events_are_the_offline_events_within_one_frame(expressive_clip, neutral):
    offline = analyze_video(expressive_clip, neutral=neutral)
    off = [_key(e) for e in offline.events.itertuples()]
    live = []
    st = run_live(
        open_live(str(expressive_clip)),
        workers=2,
        neutral_range=neutral,
        on_frame=lambda fr, events, _lat: live.extend(events),
    )
    on = [_key(e) for e in live]
    assert st.dropped == 0
    kinds = [k[0] for k in off]
    assert "micro" in kinds and "macro" in kinds, off  # the comparison is not vacuous
    assert len(on) == len(off), f"offline {off}\nlive {on}"
    for a, b in zip(sorted(off), sorted(on)):
        assert a[0] == b[0] and np.abs(np.subtract(a[1:], b[1:])).max() <= 1, f"offline {a} live {b}"
