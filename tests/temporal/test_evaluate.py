"""MEGC spotting evaluation: rules, pooling, file formats, and the command."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from microexpr.errors import InputError
from microexpr.temporal.evaluate import (
    evaluate_spotting,
    interval_iou,
    match_intervals,
    normalise_events,
    read_events,
)


def test_iou_of_inclusive_frame_intervals():
    assert interval_iou((10, 19), (10, 19)) == 1.0
    assert interval_iou((0, 9), (5, 14)) == pytest.approx(5 / 15)
    assert interval_iou((0, 9), (10, 19)) == 0.0


def test_each_truth_is_matched_once_and_iou_must_reach_half():
    import numpy as np

    truth = np.array([[100, 119]])
    assert match_intervals(np.array([[100, 119], [101, 120]]), truth) == 1  # a duplicate is a false positive
    assert match_intervals(np.array([[110, 129]]), truth) == 0  # IoU 10/30 < 0.5
    assert match_intervals(np.array([[105, 124]]), truth) == 1  # IoU 15/25


def _table(rows):
    return normalise_events(
        pd.DataFrame(rows, columns=["video", "kind", "onset_frame", "offset_frame"]), source="t"
    )


def test_counts_are_pooled_over_videos_then_scored_per_kind_and_overall():
    truth = _table(
        [("a", "micro", 10, 20), ("a", "macro", 100, 200), ("b", "micro", 50, 60), ("b", "micro", 300, 310)]
    )
    pred = _table(
        [
            ("a", "micro", 11, 20),
            ("a", "micro", 400, 410),
            ("a", "macro", 100, 190),
            ("b", "micro", 50, 61),
            ("a", "blink", 500, 505),
        ]
    )
    s = evaluate_spotting(pred, truth)
    assert (s["micro"].tp, s["micro"].fp, s["micro"].fn) == (2, 1, 1)
    assert (s["macro"].tp, s["macro"].fp, s["macro"].fn) == (1, 0, 0)
    assert s["overall"].tp == 3 and s["overall"].n_pred == 4 and s["overall"].n_truth == 4
    assert s["micro"].f1 == pytest.approx(2 / 3)
    only = evaluate_spotting(pred, truth, kind="macro")
    assert set(only) == {"macro", "overall"} and only["overall"].f1 == 1.0


def test_a_prediction_in_another_video_is_not_a_match():
    s = evaluate_spotting(_table([("b", "micro", 10, 20)]), _table([("a", "micro", 10, 20)]))
    assert s["micro"].tp == 0 and s["micro"].fp == 1 and s["micro"].fn == 1


def test_bad_tables_say_what_is_wrong(tmp_path):
    p = tmp_path / "pred.csv"
    p.write_text("start,end\n1,2\n")
    with pytest.raises(InputError, match="missing column"):
        read_events(p)
    p.write_text("onset_frame,offset_frame\n10,5\n")
    with pytest.raises(InputError, match="reversed"):
        read_events(p)
    with pytest.raises(InputError, match="not found"):
        read_events(tmp_path / "none.csv")


def _casme2_xlsx(path):
    rows = [
        [15, "anger1_1", 557, 572, 608, "4+7", "anger", "macro-expression", "angry"],
        [15, "anger1_1", 1010, 1017, 0, "12", "happy", "micro-expression", "happy"],
    ]
    with pd.ExcelWriter(path) as w:
        pd.DataFrame(rows).to_excel(w, sheet_name="CASFEcode_final", header=False, index=False)
        pd.DataFrame([[15, "s15"]]).to_excel(w, sheet_name="naming rule1", header=False, index=False)


def _samm_xlsx(path):
    pre = [["SAMM Long Videos"] + [""] * 9] + [[""] * 10] * 9
    head = [
        [
            "Subject",
            "Filename",
            "Inducement Code",
            "Onset",
            "Apex",
            "Offset",
            "Duration",
            "Type",
            "Action Units",
            "Notes",
        ]
    ]
    rows = [
        ["006", "006_1_2", 1, 5562, -1, 5631.5, 70, "Micro - 1/2", "R12", ""],
        ["006", "006_1_3", 1, 8000, 8100, 8500, 501, "Macro", "4+7", ""],
    ]
    pd.DataFrame(pre + head + rows).to_excel(path, header=False, index=False)


def test_casme2_and_samm_long_video_sheets_are_read_as_delivered(tmp_path):
    _casme2_xlsx(tmp_path / "CAS(ME)^2code_final.xlsx")
    c = read_events(tmp_path / "CAS(ME)^2code_final.xlsx")
    assert c["kind"].tolist() == ["macro", "micro"] and c["video"].tolist() == ["s15/anger1_1"] * 2
    assert c["offset_frame"].tolist() == [608, 1017]  # offset 0 means the apex
    _samm_xlsx(tmp_path / "SAMM_LongVideos_V3_Release.xlsx")
    s = read_events(tmp_path / "SAMM_LongVideos_V3_Release.xlsx")
    assert s["video"].tolist() == ["006_1", "006_1"] and s["kind"].tolist() == ["micro", "macro"]
    assert s["offset_frame"].tolist() == [5632, 8500]


def test_the_command_prints_and_writes_scores(tmp_path):
    truth = tmp_path / "truth.csv"
    pred = tmp_path / "events.csv"
    pd.DataFrame(
        {
            "kind": ["micro", "macro"],
            "onset_frame": [10, 100],
            "apex_frame": [15, 150],
            "offset_frame": [20, 200],
        }
    ).to_csv(truth, index=False)
    pd.DataFrame(
        {"face_id": [0], "kind": ["micro"], "onset_frame": [10], "apex_frame": [14], "offset_frame": [21]}
    ).to_csv(pred, index=False)
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "microexpr",
            "evaluate-spotting",
            "--pred",
            str(pred),
            "--truth",
            str(truth),
            "--json",
            str(tmp_path / "s.json"),
        ],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["micro"]["f1"] == 1.0 and s["macro"]["recall"] == 0.0 and s["overall"]["tp"] == 1
    assert "micro" in p.stdout
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "microexpr",
            "evaluate-spotting",
            "--pred",
            str(pred),
            "--truth",
            str(truth),
            "--kind",
            "tiny",
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "--kind" in bad.stderr and "Traceback" not in bad.stderr
