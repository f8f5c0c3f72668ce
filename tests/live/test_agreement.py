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


@pytest.mark.parametrize(
    "neutral,mode",
    [(None, "video"), ((0.0, 1.0), "video"), (None, "image")],
    ids=["auto-neutral", "given-neutral", "image-mode"],
)
def test_live_events_are_the_offline_events_within_one_frame(expressive_clip, neutral, mode):
    """Default live mode: two landmarker threads, each tracking every other frame in video mode (offline
    tracks every frame), so this measures that the landmarks' small differences move no event boundary by more
    than a frame. In image mode each frame's landmarks are the same in both by construction."""
    offline = analyze_video(expressive_clip, neutral=neutral, landmark_mode=mode)
    off = [_key(e) for e in offline.events.itertuples()]
    live = []
    st = run_live(
        open_live(str(expressive_clip)),
        workers=2,
        neutral_range=neutral,
        mode=mode,
        on_frame=lambda fr, events, _lat: live.extend(events),
    )
    on = [_key(e) for e in live]
    assert st.dropped == 0
    kinds = [k[0] for k in off]
    assert "micro" in kinds and "macro" in kinds, off  # the comparison is not vacuous
    assert len(on) == len(off), f"offline {off}\nlive {on}"
    for a, b in zip(sorted(off), sorted(on)):
        assert a[0] == b[0] and np.abs(np.subtract(a[1:], b[1:])).max() <= 1, f"offline {a} live {b}"


def test_the_commands_agree_too(expressive_clip, tmp_path):
    """What a user runs: `microexpr analyze` and `microexpr live --events`, both told the neutral second."""
    import subprocess
    import sys

    import pandas as pd

    cmd = [sys.executable, "-m", "microexpr"]
    subprocess.run(
        [
            *cmd,
            "analyze",
            str(expressive_clip),
            "-o",
            str(tmp_path / "out"),
            "--neutral",
            "0-1",
            "--no-report",
        ],
        check=True,
        capture_output=True,
    )
    live_csv = tmp_path / "live_events.csv"
    subprocess.run(
        [*cmd, "live", str(expressive_clip), "--neutral", "0-1", "--events", str(live_csv), "-q"],
        check=True,
        capture_output=True,
    )
    cols = ["kind", "onset_frame", "apex_frame", "offset_frame"]
    off = pd.read_csv(tmp_path / "out" / "agree" / "events.csv")[cols].sort_values("onset_frame")
    on = pd.read_csv(live_csv)[cols].sort_values("onset_frame")
    assert len(off) >= 2 and len(on) == len(off), f"{off}\n{on}"
    assert (off["kind"].to_numpy() == on["kind"].to_numpy()).all()
    assert np.abs(off[cols[1:]].to_numpy() - on[cols[1:]].to_numpy()).max() <= 1
