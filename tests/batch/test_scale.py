"""Long videos in parallel time chunks stitched like a single pass, and Ray giving the local outputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from microexpr import analyze_video
from microexpr.batch import BatchOptions, run_batch

CHUNK = 30  # frames: the 4 s clip is cut into 4 chunks dealt to 2 workers


@pytest.fixture(scope="module")
def folder(tmp_path_factory, clips, two_face_long) -> Path:
    d = tmp_path_factory.mktemp("scale") / "in"
    d.mkdir()
    shutil.copy(clips["a"], d / "short.mp4")
    shutil.copy(two_face_long[0], d / "long.mp4")
    return d


def _opts(**kw: object) -> BatchOptions:
    return BatchOptions(workers=2, chunk_frames=CHUNK, analysis={"max_faces": 2}, report=False, **kw)


@pytest.fixture(scope="module")
def local_out(folder, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local")
    rows = run_batch(folder, out, _opts())
    assert [r["status"] for r in rows] == ["ok", "ok"], rows
    return out


@pytest.fixture(scope="module")
def single_pass(two_face_long):
    return analyze_video(two_face_long[0], max_faces=2, workers=1)


def test_a_long_video_is_observed_in_parallel_chunks(local_out):
    meta = json.loads((local_out / "long" / "meta.json").read_text())
    assert meta["parameters"]["workers_used"] == 2
    assert meta["counts"]["frames"] == 120 and meta["counts"]["faces"] == 2
    short = json.loads((local_out / "short" / "meta.json").read_text())
    assert short["parameters"]["workers_used"] == 1  # short inputs are analysed whole, one per worker


def test_stitched_chunks_keep_face_ids_and_events_of_a_single_pass(local_out, single_pass, two_face_long):
    got = pd.read_parquet(local_out / "long" / "frames.parquet")
    ref = single_pass.frames
    pd.testing.assert_frame_equal(
        got[["frame", "face_id", "success"]].reset_index(drop=True),
        ref[["frame", "face_id", "success"]].reset_index(drop=True),
    )
    assert sorted(got["face_id"].unique()) == [0, 1]
    # the same face keeps the same id in every chunk: each id stays on its side of the canvas
    for f in (0, 1):
        x = got.loc[got["face_id"] == f, "x_1"]
        assert x.max() - x.min() < 40
    # landmarks: the landmarker's temporal filter restarts in each chunk (after OVERLAP_FRAMES of settling)
    lm = [f"x_{i}" for i in range(0, 478, 7)]
    assert np.nanmedian(np.abs(got[lm].to_numpy() - ref[lm].to_numpy())) < 0.5

    ev = pd.read_csv(local_out / "long" / "events.csv")
    ref_ev = single_pass.events
    assert len(ev) == len(ref_ev)
    assert ev["face_id"].tolist() == ref_ev["face_id"].tolist()
    assert ev["kind"].tolist() == ref_ev["kind"].tolist()
    assert ev["aus"].tolist() == ref_ev["aus"].tolist()
    for col in ("onset_frame", "apex_frame", "offset_frame"):
        assert np.abs(ev[col].to_numpy() - ref_ev[col].to_numpy()).max() <= 2, col
    # each smile rendered across a chunk border is found exactly once, on its own face, not cut in two
    left = int(got.groupby("face_id")["x_1"].mean().idxmin())
    for panel, on_s, off_s in two_face_long[1]:
        face = left if panel == 0 else 1 - left
        hit = ev[(ev["face_id"] == face) & (ev["onset_s"] < off_s) & (ev["offset_s"] > on_s)]
        assert len(hit) == 1, (panel, ev)
        border = round(hit.iloc[0]["apex_frame"] / CHUNK) * CHUNK
        assert hit.iloc[0]["onset_frame"] < border < hit.iloc[0]["offset_frame"]  # it spans a chunk border


def test_ray_gives_the_same_outputs_as_local_workers(folder, local_out, tmp_path):
    out = tmp_path / "ray"
    rows = run_batch(folder, out, _opts(executor="ray"))
    assert [r["status"] for r in rows] == ["ok", "ok"], rows
    for stem in ("short", "long"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(out / stem / "frames.parquet"),
            pd.read_parquet(local_out / stem / "frames.parquet"),
        )
        pd.testing.assert_frame_equal(
            pd.read_csv(out / stem / "events.csv"), pd.read_csv(local_out / stem / "events.csv")
        )
    assert json.loads((out / "long" / "meta.json").read_text())["parameters"]["workers_used"] == 2
    # the local table and the Ray table agree, and a rerun with either executor skips everything
    assert (
        pd.read_csv(out / "batch.csv")["frames"].tolist()
        == pd.read_csv(local_out / "batch.csv")["frames"].tolist()
    )
    again = run_batch(folder, out, _opts())
    assert [r["status"] for r in again] == ["skipped", "skipped"]
