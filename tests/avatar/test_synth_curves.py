"""Synthesised expressions: believable dynamics, sides, layering, CSV / JSON keyframes, the CLI, rendering."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from microexpr.cli import app
from microexpr.errors import InputError, OptionError
from microexpr.synth.expression import (
    EMOTION_AUS,
    expression_track,
    layer,
    read_track,
    write_track,
)

FPS = 120.0


def _active(t, v):
    on = t[v > 1e-6]
    return on[0], on[-1]


def test_a_micro_expression_has_fast_onset_brief_apex_and_slower_offset():
    tr = expression_track("happiness", kind="micro", duration_ms=250, intensity=0.6, fps=FPS)
    t, v = tr.t_s, tr.au["AU12"]
    first, last = _active(t, v)
    assert abs((last - first) * 1000 - 250) <= 2 * 1000 / FPS
    apex = t[np.argmax(v)]
    assert v.max() == pytest.approx(5 * 0.6, rel=1e-6)
    onset_ms, offset_ms = (apex - first) * 1000, (last - t[v >= v.max() - 1e-9][-1]) * 1000
    assert onset_ms < offset_ms  # rises faster than it falls
    held_ms = (t[v >= v.max() - 1e-9][-1] - apex) * 1000
    assert 0 < held_ms <= 0.2 * 250  # a brief apex
    rise = np.diff(v[(t >= first) & (t <= apex)])
    assert rise[0] >= rise[-1]  # ease-out: fastest at the start
    assert tr.arkit["mouthSmileLeft"].max() == pytest.approx(0.6) and tr.arkit["cheekSquintLeft"].max() > 0.4


def test_contempt_is_unilateral_on_the_right():
    tr = expression_track("contempt", duration_ms=250, intensity=0.6, fps=FPS)
    assert tr.arkit["mouthSmileRight"].max() > 0.3 and tr.arkit["mouthDimpleRight"].max() > 0.3
    assert tr.arkit["mouthSmileLeft"].max() == 0.0 and tr.arkit["mouthDimpleLeft"].max() == 0.0
    assert tr.meta["sides"] == {"AU12": "R", "AU14": "R"}


@pytest.mark.parametrize("emotion", sorted(EMOTION_AUS))
def test_every_emotion_moves_its_prototype_aus_and_no_others(emotion):
    tr = expression_track(emotion, duration_ms=300, intensity=0.5, fps=60)
    moving = {c for c, v in tr.au.items() if v.max() > 0}
    assert moving == {c for c, _, _ in EMOTION_AUS[emotion]}


def test_asymmetry_and_jitter_change_the_curves_but_never_move_the_rest():
    a = expression_track("happiness", fps=FPS, asymmetry=0.5, jitter=0.1, seed=3)
    assert a.arkit["mouthSmileLeft"].max() == pytest.approx(0.5 * a.arkit["mouthSmileRight"].max(), rel=0.05)
    b = expression_track("happiness", fps=FPS)
    first, last = _active(b.t_s, b.au["AU12"])
    outside = (a.t_s < first - 0.02) | (a.t_s > last + 0.001)
    assert np.all(a.au["AU12"][outside] == 0.0)
    assert not np.allclose(a.au["AU12"], b.au["AU12"])
    assert np.array_equal(
        expression_track("fear", jitter=0.1, seed=1).au["AU20"],
        expression_track("fear", jitter=0.1, seed=1).au["AU20"],
    )


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"emotion": "joy"}, "--emotion"),
        ({"kind": "nano"}, "--kind"),
        ({"duration_ms": 900}, "--duration-ms"),
        ({"kind": "macro", "duration_ms": 100}, "--duration-ms"),
        ({"intensity": 1.5}, "--intensity"),
        ({"intensity": float("nan")}, "--intensity"),
        ({"fps": 1e9}, "--fps"),
        ({"jitter": 2}, "--jitter"),
    ],
)
def test_bad_values_are_clear_errors(kw, needle):
    args = {"emotion": "contempt", **kw}
    with pytest.raises(OptionError, match=needle):
        expression_track(args.pop("emotion"), **args)


def _idle(tmp_path, seconds=3.0, fps=30.0):
    t = np.arange(int(seconds * fps)) / fps
    df = pd.DataFrame({"t_s": t, "eyeBlinkLeft": 0.1 + 0.05 * np.sin(t), "AU01": 0.2 + 0.1 * np.cos(t)})
    p = tmp_path / "idle.csv"
    df.to_csv(p, index=False)
    return p, df


def test_a_flash_of_contempt_layers_onto_an_idle_loop(tmp_path):
    p, df = _idle(tmp_path)
    base = read_track(p)
    flash = expression_track("contempt", duration_ms=200, fps=30, lead_s=0, tail_s=0)
    out = layer(base, flash, at_s=1.2)
    t = out.t_s
    assert np.array_equal(t, base.t_s)
    far = (t < 1.15) | (t > 1.45)
    assert np.allclose(out.arkit["eyeBlinkLeft"], df["eyeBlinkLeft"])  # the idle loop is kept everywhere
    assert np.allclose(out.au["AU01"], df["AU01"])
    assert np.all(out.au["AU12"][far] == 0) and out.au["AU12"][(t > 1.2) & (t < 1.4)].max() > 1.0
    with pytest.raises(OptionError, match="--at-s"):
        layer(base, flash, at_s=10.0)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("a,b\n1,2\n", "t_s"),
        ("t_s,AU12\n0,1\n0,2\n", "increase"),
        ("t_s,AU12\n0,1\n0.1,9\n", "AU12"),
        ("t_s,<script>\n0,1\n0.1,1\n", "unknown column"),
        ("t_s,AU12\n0,1\n0.1,\n", "AU12"),
        ("", "CSV"),
    ],
)
def test_a_bad_track_file_names_the_file_and_column(tmp_path, text, needle):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(InputError, match=needle) as e:
        read_track(p)
    assert "bad.csv" in str(e.value)


def test_csv_and_json_keyframes_round_trip(tmp_path):
    tr = expression_track("surprise", duration_ms=400, intensity=0.7, fps=FPS, jitter=0.05)
    write_track(tr, tmp_path / "c.csv")
    back = read_track(tmp_path / "c.csv")
    assert np.allclose(back.au["AU26"], tr.au["AU26"], atol=1e-4) and back.fps == pytest.approx(FPS)
    write_track(tr, tmp_path / "c.json", as_json=True)
    kf = json.loads((tmp_path / "c.json").read_text())
    assert kf["format"] == "microexpr-keyframes/1" and set(kf["au"]) == {"AU01", "AU02", "AU05", "AU26"}
    keys = np.array(kf["arkit"]["jawOpen"])
    assert len(keys) < len(tr.t_s)  # keyframes, not every sample
    assert np.max(np.abs(np.interp(tr.t_s, keys[:, 0], keys[:, 1]) - tr.arkit["jawOpen"])) <= 0.0021
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind


runner = CliRunner()


def test_the_cli_writes_the_curves_of_the_issue(tmp_path):
    out = tmp_path / "curves.csv"
    r = runner.invoke(
        app,
        ["synth", "curves", "--emotion", "contempt", "--kind", "micro", "--duration-ms", "250", "--intensity", "0.6",
         "--fps", "120", "-o", str(out)],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out)
    assert df["mouthSmileRight"].max() > 0.3 and df["mouthSmileLeft"].max() == 0.0
    assert np.allclose(np.diff(df["t_s"]), 1 / 120, atol=2e-6)
    idle, _ = _idle(tmp_path)
    r = runner.invoke(app, ["synth", "curves", "--emotion", "contempt", "--duration-ms", "200", "--over", str(idle),
                            "--at-s", "1.2", "--json", "-o", str(tmp_path / "k.json")])  # fmt: skip
    assert r.exit_code == 0, r.output
    kf = json.loads((tmp_path / "k.json").read_text())
    assert "eyeBlinkLeft" in kf["arkit"] and kf["meta"]["layers"][0]["at_s"] == 1.2


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--emotion", "joy"], "--emotion"),
        (["--emotion", "fear", "--over", "missing.csv"], "missing.csv"),
        (["--emotion", "fear", "--render", "nope.jpg"], "nope.jpg"),
    ],
)
def test_cli_errors_are_one_line_and_write_nothing(tmp_path, args, needle):
    out = tmp_path / "c.csv"
    r = runner.invoke(app, ["synth", "curves", *args, "-o", str(out)])
    assert r.exit_code == 2 and r.exception is None or isinstance(r.exception, SystemExit)
    assert needle in r.output and "Traceback" not in r.output
    assert not out.exists()


def test_render_puts_the_curves_on_a_photo(tmp_path, face_model):
    from PIL import Image

    from microexpr.io import open_source
    from microexpr.synth import sample_face

    photo = tmp_path / "face.jpg"
    Image.fromarray(sample_face("astronaut").image).save(photo, quality=95)
    out = tmp_path / "smile.csv"
    r = runner.invoke(app, ["synth", "curves", "--emotion", "happiness", "--duration-ms", "300", "--intensity", "0.8",
                            "--fps", "30", "-o", str(out), "--render", str(photo)])  # fmt: skip
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out)
    with open_source(out.with_suffix(".mp4")) as src:
        frames = [f.image.astype(np.int16) for f in src]
    assert len(frames) == len(df)
    apex = int(df["AU12"].idxmax())
    assert np.abs(frames[apex] - frames[0]).mean() > np.abs(frames[1] - frames[0]).mean() + 0.2
