"""The bias audit: MEGC UF1/UAR per group, tracking and AU SNR from real analyses, the HTML page in Chromium."""

from __future__ import annotations

import json

import pytest

from microexpr.errors import InputError
from microexpr.ethics.bias import bias_audit, uf1_uar

from ..store.conftest import assert_one_line_error, run_cli


def test_uf1_uar_by_hand():
    # class a: tp 2 fn 1 fp 1 -> F1 4/6, recall 2/3; class b: tp 1 fn 1 fp 1 -> F1 2/4, recall 1/2
    # class c: tp 1 fn 0 fp 0 -> F1 1, recall 1; class d never occurs: left out
    t = ["a", "a", "a", "b", "b", "c"]
    p = ["a", "a", "b", "a", "b", "c"]
    uf1, uar = uf1_uar(t, p, ["a", "b", "c", "d"])
    assert uf1 == pytest.approx((4 / 6 + 2 / 4 + 1) / 3)
    assert uar == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    assert uf1_uar(["a"], ["a"], ["a", "b"]) == (1.0, 1.0)


def _results(tmp_path):
    preds = []
    # s01, s02 (group F): all right; s03 (group M): half wrong
    for subj, pairs in {
        "s01": [("happy", "happy"), ("sad", "sad")],
        "s02": [("happy", "happy"), ("surprise", "surprise")],
        "s03": [("happy", "sad"), ("sad", "sad"), ("surprise", "happy"), ("happy", "happy")],
        "s99": [("happy", "happy")],  # not in groups.csv
    }.items():
        for i, (t, p) in enumerate(pairs):
            preds.append({"id": f"{subj}_{i}", "group": subj, "fold": 0, "y_true": t, "y_pred": p})
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"classes": ["happy", "sad", "surprise"], "predictions": preds}))
    return path


HOSTILE = "<script>alert('x')</script>"


def _groups(tmp_path):
    path = tmp_path / "groups.csv"
    path.write_text(
        f'subject,sex,skin_tone,folder\ns01,F,I-II,smile\ns02,F,"{HOSTILE}",\ns03,M,V-VI,noface\n'
    )
    return path


@pytest.fixture(scope="module")
def analyses(tmp_path_factory, smile_video, no_face_video):
    """Two real analyze output folders: a tracked face (smile) and a clip with no face (noface)."""
    from microexpr.pipeline import AnalyzeOptions, analyze_video

    root = tmp_path_factory.mktemp("frames")
    for src, name in ((smile_video, "smile"), (no_face_video, "noface")):
        r = analyze_video(src, AnalyzeOptions(workers=1))
        folder = r.save(root, report=False, csv=False)
        folder.rename(root / name) if folder.name != name else None
    return root


def test_per_group_figures(tmp_path, analyses):
    rep = bias_audit(_results(tmp_path), _groups(tmp_path), analyses)
    rows = {(r.column, r.group): r for r in rep.rows}
    f, m = rows[("sex", "F")], rows[("sex", "M")]
    assert (f.n_samples, f.uf1, f.uar) == (4, 1.0, 1.0)
    exp_uf1, exp_uar = uf1_uar(["happy", "sad", "surprise", "happy"], ["sad", "sad", "happy", "happy"],
                               ["happy", "sad", "surprise"])  # fmt: skip
    assert m.n_samples == 4 and m.uf1 == pytest.approx(exp_uf1) and m.uar == pytest.approx(exp_uar)
    assert rep.ratios["sex"]["uf1"] == pytest.approx(exp_uf1 / 1.0)
    assert rep.unmatched == 1
    assert f.tracking_rate == 1.0 and m.tracking_rate == 0.0  # real analyses: face found vs none
    assert f.au_snr_db > 6  # the rendered smile stands well above frame-to-frame jitter
    assert rep.ratios["sex"]["tracking_rate"] == 0.0
    assert rows[("skin_tone", HOSTILE)].n_samples == 2


def test_bad_inputs(tmp_path):
    g = _groups(tmp_path)
    (tmp_path / "r.json").write_text('{"classes": ["a"]}')
    with pytest.raises(InputError, match="not a results file"):
        bias_audit(tmp_path / "r.json", g)
    (tmp_path / "g.csv").write_text("name,sex\nx,F\n")
    with pytest.raises(InputError, match="needs a 'subject' or 'id' column"):
        bias_audit(_results(tmp_path), tmp_path / "g.csv")
    with pytest.raises(InputError, match="not found"):
        bias_audit(tmp_path / "missing.json", g)
    assert_one_line_error(
        run_cli("audit", "bias", "--results", str(tmp_path / "r.json"), "--groups", str(g)),
        "not a results file",
    )


def test_cli_writes_table_json_and_a_page_that_loads(tmp_path, analyses, page):
    out = tmp_path / "audit"
    p = run_cli("audit", "bias", "--results", str(_results(tmp_path)), "--groups", str(_groups(tmp_path)),
                "--frames", str(analyses), "-o", str(out))  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "worst/best" in p.stdout and "by sex" in p.stdout
    data = json.loads((out / "bias.json").read_text())
    assert {g["group"] for g in data["groups"] if g["column"] == "sex"} == {"F", "M"}

    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto((out / "bias.html").as_uri())
    assert page.errors == [] and dialogs == []
    assert page.locator("table.bias").count() == 2
    assert page.locator("table[data-column='sex'] tr.group").count() == 2
    assert page.locator("table[data-column='skin_tone'] tr.group").count() == 3
    assert HOSTILE in page.locator("table[data-column='skin_tone']").inner_text()  # shown as text, not run
    ratio = page.locator("table[data-column='sex'] tr.ratio td").all_inner_texts()
    assert ratio[0] == "worst/best" and ratio[5] == "0.000"  # tracking: the no-face group
