"""LOSO / k-fold training: honest selection, determinism, results.json, imbalance options, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from microexpr.cli import app
from microexpr.errors import InputError, OptionError
from microexpr.recognize.flowdata import load_flow_dataset, save_flow_dataset
from microexpr.recognize.train import TrainOptions, fit_model, folds, run_protocol

from .conftest import toy_dataset

FAST = dict(epochs=3, batch_size=16, threads=1)


def test_two_runs_with_one_seed_give_identical_predictions():
    d = toy_dataset()
    opts = TrainOptions(**FAST, seed=7, flip=True, sampler="balanced", loss="focal")
    a, b = run_protocol(d, opts), run_protocol(d, opts)
    assert a["predictions"] == b["predictions"]
    assert a["uf1"] == b["uf1"]


@pytest.mark.parametrize("selection", ["fixed", "val"])
def test_no_choice_looks_at_the_test_subject(selection):
    d = toy_dataset(n_subjects=5)
    seen = []

    def spy(train, opts, seed):
        model, choice = fit_model(train, opts, seed)
        seen.append((set(train.groups.tolist()), set(choice.get("val_subjects", []))))
        return model, choice

    res = run_protocol(d, TrainOptions(**FAST, selection=selection), fit=spy)
    assert len(seen) == 5
    for fold, (train_groups, val_groups) in zip(res["folds"], seen):
        test = set(fold["test_groups"])
        assert not test & train_groups  # the trainer never receives the test subject
        assert val_groups <= train_groups  # validation subjects come from the training subjects
        if selection == "val":
            assert val_groups and 1 <= fold["epochs"] <= 3
    assert res["selection"]["mode"] == selection


def test_loso_folds_and_pooled_predictions_cover_every_sample_once():
    d = toy_dataset(n_subjects=4)
    res = run_protocol(d, TrainOptions(**FAST))
    preds = res["predictions"]
    assert [p["id"] for p in preds] == d.ids.tolist()
    assert {p["fold"] for p in preds} == {0, 1, 2, 3}
    for p in preds:
        assert res["folds"][p["fold"]]["test_groups"] == [p["group"]]
    assert np.sum(res["confusion"]) == len(d.y)


def test_kfold_keeps_subjects_whole():
    d = toy_dataset(n_subjects=6)
    sets = folds(d.groups, TrainOptions(protocol="kfold", k=3))
    assert sorted(g for s in sets for g in s) == sorted(set(d.groups))
    assert all(len(s) == 2 for s in sets)


def test_a_learnable_signal_is_learned():
    d = toy_dataset(n_subjects=4)
    res = run_protocol(d, TrainOptions(epochs=25, batch_size=16, threads=1, loss="weighted"))
    assert res["uf1"] > 0.8 and res["uar"] > 0.8


def test_synthetic_minority_samples_join_training_folds_only():
    d = toy_dataset(n_subjects=3)
    synth = toy_dataset(n_subjects=1, seed=5)
    synth = type(synth)(synth.x, synth.y, np.array(["astronaut"] * len(synth.y)), synth.classes, synth.ids)
    seen = []

    def spy(train, opts, seed):
        seen.append(train)
        return fit_model(train, opts, seed)

    res = run_protocol(d, TrainOptions(**FAST, synth_minority=True), synth=synth, fit=spy)
    for train in seen:
        counts = np.bincount(train.y, minlength=3)
        assert any(g.startswith("synth:") for g in train.groups)
        assert counts[1] > np.bincount(d.y, minlength=3)[1] * 2 / 3  # minorities topped up
    assert not any(p["id"].startswith("synth:") for p in res["predictions"])


def test_cli_writes_results_json_with_the_contract_fields(toy_npz, tmp_path):
    out = tmp_path / "run"
    r = CliRunner().invoke(
        app,
        [
            "train",
            "--data",
            str(toy_npz),
            "--protocol",
            "loso",
            "--model",
            "cnn",
            "--out",
            str(out),
            "--epochs",
            "2",
            "--threads",
            "1",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "fold 5/5" in r.output and "UF1" in r.output
    res = json.loads((out / "results.json").read_text())
    for key in (
        "uf1",
        "uar",
        "accuracy",
        "per_class_f1",
        "confusion",
        "classes",
        "protocol",
        "selection",
        "seed",
        "versions",
        "timing",
        "predictions",
    ):
        assert key in res
    assert set(res["predictions"][0]) == {"id", "group", "fold", "y_true", "y_pred"}
    assert res["versions"]["torch"] and res["protocol"]["name"] == "loso"
    assert (out / "model.pt").is_file()


def test_model_is_small():
    from microexpr.recognize.models import build_model, n_parameters

    assert n_parameters(build_model("cnn", 3, sequence=False)) < 100_000


def test_cnn_gru_trains_on_sequences(tmp_path):
    d = toy_dataset(n_subjects=3, size=12)
    seq = np.repeat(d.x[:, None], 4, axis=1) * np.linspace(0.25, 1, 4)[None, :, None, None, None]
    sd = type(d)(seq.astype(np.float32), d.y, d.groups, d.classes, d.ids)
    res = run_protocol(sd, TrainOptions(**FAST, model="cnn_gru"))
    assert len(res["predictions"]) == len(d.y)
    with pytest.raises(OptionError, match="sequences"):
        run_protocol(sd, TrainOptions(**FAST, model="cnn"))


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"not a zip", "not a readable .npz"), (None, "no such flow dataset")],
)
def test_bad_dataset_files_give_one_line_errors(tmp_path, content, message):
    p = tmp_path / "bad.npz"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(InputError, match=message):
        load_flow_dataset(p)
    r = CliRunner().invoke(app, ["train", "--data", str(p), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output
    assert not (tmp_path / "o" / "results.json").exists()


def test_wrong_shapes_and_options_are_refused(tmp_path):
    np.savez(
        tmp_path / "shape.npz",
        x=np.zeros((4, 2, 8, 8), np.float32),
        y=np.zeros(4, np.int64),
        groups=np.array(["a"] * 4),
        classes=np.array(["x"]),
    )
    with pytest.raises(InputError, match=r"\(N, 3, H, W\)"):
        load_flow_dataset(tmp_path / "shape.npz")
    toy = save_flow_dataset(tmp_path / "toy.npz", toy_dataset(n_subjects=2))
    r = CliRunner().invoke(
        app, ["train", "--data", str(toy), "--out", str(tmp_path / "o"), "--loss", "hinge"]
    )
    assert r.exit_code == 2 and "loss must be one of" in r.output
    r = CliRunner().invoke(
        app, ["train", "--data", str(toy), "--out", str(tmp_path / "o"), "--protocol", "kfold", "--k", "9"]
    )
    assert r.exit_code == 2 and "needs at least 9 subjects" in r.output


def test_synthetic_samples_of_the_test_subjects_face_stay_out_of_its_fold():
    d = toy_dataset(n_subjects=3)
    s = toy_dataset(n_subjects=1, seed=9)
    synth = type(s)(s.x, s.y, np.array(["sub01"] * len(s.y)), s.classes, s.ids)  # rendered from subject 1
    seen = []

    def spy(train, opts, seed):
        seen.append(any(g.startswith("synth:") for g in train.groups))
        return fit_model(train, opts, seed)

    run_protocol(d, TrainOptions(**FAST, synth_minority=True), synth=synth, fit=spy)
    assert seen == [True, False, True]  # fold 2 tests sub01: none of sub01's synthetic samples join it
