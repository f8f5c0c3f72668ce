"""Deployment: model.pt -> ONNX (fp32, int8), onnxruntime inference, and labels on analysed events."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from microexpr.cli import app
from microexpr.errors import InputError
from microexpr.recognize.onnx_infer import OnnxRecognizer
from microexpr.recognize.train import TrainOptions, predict_torch, save_checkpoint, train_final


@pytest.fixture(scope="module")
def trained(rendered_flows, tmp_path_factory):
    """A CNN trained briefly on rendered flow, its checkpoint and both ONNX exports."""
    d = rendered_flows
    opts = TrainOptions(epochs=15, batch_size=8, threads=1, loss="weighted")
    model = train_final(d, opts)
    folder = tmp_path_factory.mktemp("model")
    ck = save_checkpoint(folder / "model.pt", model, d, opts)
    runner = CliRunner()
    for name, extra in (("fp32.onnx", []), ("int8.onnx", ["--int8"])):
        r = runner.invoke(app, ["export", str(ck), "-o", str(folder / name), *extra])
        assert r.exit_code == 0, r.output
    return d, model, folder


def test_onnx_predicts_what_torch_predicts_and_int8_mostly_agrees(trained):
    d, model, folder = trained
    torch_pred = predict_torch(model, d.x)
    fp32 = OnnxRecognizer(folder / "fp32.onnx")
    int8 = OnnxRecognizer(folder / "int8.onnx")
    assert fp32.classes == d.classes and fp32.input_shape == (3, 28, 28)
    names = np.array(d.classes)
    assert fp32.predict(d.x) == names[torch_pred].tolist()
    agree = np.mean(np.array(int8.predict(d.x)) == names[torch_pred])
    assert agree >= 0.8
    assert (folder / "int8.onnx").stat().st_size < (folder / "fp32.onnx").stat().st_size


def test_bad_model_files_give_one_line_errors(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(InputError, match="not a microexpr recogniser"):
        OnnxRecognizer(bad)
    r = CliRunner().invoke(app, ["export", str(bad), "-o", str(tmp_path / "x.onnx")])
    assert r.exit_code == 2 and "not a microexpr model.pt" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "x.onnx").exists()


def test_analyze_labels_events_with_prototypes_or_the_recogniser(trained, smile_video, tmp_path):
    from microexpr import analyze_video
    from microexpr.pipeline import AnalyzeOptions

    _, _, folder = trained
    plain = analyze_video(smile_video).events
    assert len(plain) >= 1
    smile = plain[plain["aus"].str.contains("AU12")].iloc[0]
    assert smile["emotion"] == "happiness" and smile["emotion_3"] == "positive"

    rec = analyze_video(smile_video, AnalyzeOptions(recognizer=folder / "int8.onnx")).events
    assert len(rec) == len(plain)
    assert set(rec["emotion"]) <= {"negative", "positive", "surprise"}
    assert (rec["emotion_3"] == rec["emotion"]).all()
    assert rec["emotion_prototype"].tolist() == plain["emotion"].tolist()

    guarded = analyze_video(smile_video, AnalyzeOptions(emotions=False)).events
    assert guarded["emotion"].isna().all() and "emotion_3" not in guarded

    r = CliRunner().invoke(
        app,
        ["analyze", str(smile_video), "-o", str(tmp_path), "--recognizer", str(tmp_path / "none.onnx"), "-q"],
    )
    assert r.exit_code == 2 and "no such recogniser file" in r.output
    assert not any(tmp_path.iterdir())
