"""Synthetic spotting clips: the truth matches what was rendered, nuisances are where they are said to be."""

from __future__ import annotations

import json

import av
import numpy as np
import pandas as pd
import pytest

from microexpr.errors import OptionError
from microexpr.synth.scenario import LEAD_S, plan_events, plan_nuisances, synth_video


def test_events_follow_the_definitions_and_never_overlap():
    ev = plan_events(seconds=30, seed=3, n_micro=5, n_macro=2, n_blinks=3)
    assert sorted(e.kind for e in ev) == ["blink"] * 3 + ["macro"] * 2 + ["micro"] * 5
    for e in ev:
        dur = e.offset_s - e.onset_s
        if e.kind == "micro":
            assert 0.15 <= dur <= 0.45 and 1 <= len(e.aus) <= 3 and max(p for _, p in e.aus) <= 2.0
        elif e.kind == "macro":
            assert 0.8 <= dur <= 3.0
        else:
            assert e.aus == (("AU45", 5.0),)
        assert e.onset_s < e.apex_s < e.offset_s and e.onset_s >= LEAD_S
    starts = sorted((e.onset_s, e.offset_s) for e in ev)
    assert all(b[0] - a[1] >= 0.5 - 1e-9 for a, b in zip(starts, starts[1:]))
    assert plan_events(seconds=30, seed=3, n_micro=5, n_macro=2, n_blinks=3) == ev  # seeded


def test_impossible_requests_are_refused():
    with pytest.raises(OptionError, match="too short"):
        plan_events(seconds=5, seed=0, n_micro=2, n_macro=3, n_blinks=0)
    with pytest.raises(OptionError, match="unknown nuisance"):
        plan_nuisances({"rain"}, seconds=10, seed=0)


def test_the_clip_and_its_truth_agree(tmp_path, face_model):
    video, truth = synth_video(
        tmp_path / "c.mp4",
        fps=60,
        seconds=8,
        n_micro=2,
        n_macro=1,
        n_blinks=1,
        nuisances={"flicker", "occlusion"},
        seed=1,
    )
    t = pd.read_csv(truth)
    assert len(t) == 4 and set(t.columns) >= {
        "kind",
        "onset_frame",
        "apex_frame",
        "offset_frame",
        "onset_s",
        "aus",
    }
    assert (t["onset_frame"] == (t["onset_s"] * 60).round().astype(int)).all()
    with av.open(str(video)) as c:
        frames = [f.to_ndarray(format="gray") for f in c.decode(video=0)]
    assert len(frames) == 480
    nus = json.loads((tmp_path / "c.nuisances.json").read_text())
    flash = next(n for n in nus if n["kind"] == "flash")
    k = int(np.ceil(flash["start_s"] * 60))
    assert frames[k].mean() > frames[k - 3].mean() + 10  # the flash is really there
    occ = next(n for n in nus if n["kind"] == "occlusion")
    inside = frames[int(occ["start_s"] * 60) + 2]
    before = frames[int(LEAD_S * 60) - 1]
    assert np.abs(inside.astype(int) - before.astype(int)).max() > 50  # something covers part of the face
