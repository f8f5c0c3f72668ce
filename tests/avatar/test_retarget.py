"""Rig files load and validate; gains, clamps and smoothing (with its stated latency) apply."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from microexpr.avatar import Retargeter, load_rig, parse_gain
from microexpr.avatar.rig import ARKIT_NAMES, LIVELINK_NAMES, VRM0_NAMES, VRM1_NAMES, rig_path
from microexpr.errors import InputError, OptionError
from microexpr.facs import BLENDSHAPE_INDEX

FPS = 120.0


def _bs(**values: float) -> np.ndarray:
    b = np.zeros(52, np.float32)
    for k, v in values.items():
        b[BLENDSHAPE_INDEX[k]] = v
    return b


@pytest.mark.parametrize(
    ("name", "names"),
    [("arkit", ARKIT_NAMES), ("livelink", LIVELINK_NAMES), ("vrm0", VRM0_NAMES), ("vrm1", VRM1_NAMES)],
)
def test_each_builtin_rig_loads_with_its_targets_channels(name, names):
    rig = load_rig(name)
    assert rig.target == name
    assert set(rig.channels) <= set(names)
    if name in ("arkit", "livelink"):
        assert rig.channels == names and len(names) == 52


def test_arkit_and_livelink_copy_mediapipe_scores_by_name():
    b = _bs(mouthSmileLeft=0.4, eyeBlinkRight=0.9)
    ark = Retargeter("arkit")(0.0, b, {})
    ll = Retargeter("livelink")(0.0, b, {})
    assert ark["mouthSmileLeft"] == pytest.approx(0.4) and ll["MouthSmileLeft"] == pytest.approx(0.4)
    assert ark["eyeBlinkRight"] == pytest.approx(0.9) and ll["EyeBlinkRight"] == pytest.approx(0.9)
    assert ark["tongueOut"] == 0.0 and ark["mouthSmileRight"] == 0.0


def test_vrm_emotion_presets_follow_the_expression():
    smile = _bs(mouthSmileLeft=0.6, mouthSmileRight=0.6)
    v0, v1 = Retargeter("vrm0")(0.0, smile, {}), Retargeter("vrm1")(0.0, smile, {})
    assert v0["Joy"] == pytest.approx(0.6) and v0["Angry"] == 0.0
    assert v1["happy"] == pytest.approx(0.6) and v1["sad"] == 0.0


def _write(tmp_path, data, name="myrig.json"):
    p = tmp_path / name
    p.write_text(json.dumps(data))
    return p


def test_an_unknown_channel_is_an_error_that_names_the_file_and_key(tmp_path):
    data = json.loads(rig_path("vrm1").read_text())
    data["channels"]["smile"] = {"from": {"mouthSmileLeft": 1.0}}
    p = _write(tmp_path, data)
    with pytest.raises(InputError) as e:
        load_rig(p)
    assert str(p) in str(e.value) and "channels.smile" in str(e.value)


def test_an_unknown_source_or_key_is_an_error_that_names_them(tmp_path):
    p = _write(tmp_path, {"target": "custom", "channels": {"Smile": {"from": {"mouthGrin": 1.0}}}})
    with pytest.raises(InputError, match="mouthGrin"):
        load_rig(p)
    p = _write(tmp_path, {"target": "custom", "channels": {"Smile": {"from": {}, "gian": 2}}})
    with pytest.raises(InputError, match="channels.Smile"):
        load_rig(p)
    p = _write(tmp_path, {"target": "custom", "channels": {"Smile": {"from": {"AU12": "lots"}}}})
    with pytest.raises(InputError, match="channels.Smile.from.AU12"):
        load_rig(p)


@pytest.mark.parametrize("text", ["", "{", "[1, 2]", '{"channels": {}}', "\x00\x01"])
def test_a_broken_rig_file_is_a_clear_error(tmp_path, text):
    p = tmp_path / "broken.json"
    p.write_text(text)
    with pytest.raises(InputError, match="broken.json"):
        load_rig(p)


def test_a_missing_rig_names_the_built_ins(tmp_path):
    with pytest.raises(InputError, match="arkit, livelink, vrm0, vrm1"):
        load_rig(tmp_path / "nope.json")


def test_a_yaml_rig_of_ones_own_works(tmp_path):
    pytest.importorskip("yaml", reason="YAML rigs need PyYAML (optional)")
    p = tmp_path / "mine.yaml"
    p.write_text("target: custom\ndefaults: {gain: 2.0}\nchannels:\n  Grin: {from: {AU12: 1.0}, max: 0.5}\n")
    rt = Retargeter(p)
    assert rt(0.0, _bs(), {"AU12": 1.0})["Grin"] == pytest.approx(0.4)  # 1/5 * 2
    assert rt(0.0, _bs(), {"AU12": 4.0})["Grin"] == pytest.approx(0.5)  # clamped


def test_gain_and_clamp_apply_per_channel():
    b = _bs(mouthSmileLeft=0.1, mouthSmileRight=0.3, browDownLeft=0.2)
    overall, per = parse_gain("2,mouthSmileRight=3")
    rt = Retargeter("arkit", gain=overall, channel_gain=per)
    v = rt(0.0, b, {})
    assert v["mouthSmileLeft"] == pytest.approx(0.2)
    assert v["browDownLeft"] == pytest.approx(0.4)
    assert v["mouthSmileRight"] == 1.0  # 0.3 * 2 * 3 = 1.8, clamped to the rig's max 1


@pytest.mark.parametrize("text", ["x", "0", "-1", "Joy=inf", "1e9", "nan"])
def test_bad_gains_are_rejected(text):
    with pytest.raises(OptionError, match="--gain"):
        parse_gain(text)


def test_a_gain_for_a_channel_the_rig_lacks_is_an_error():
    with pytest.raises(OptionError, match="Joy"):
        Retargeter("arkit", channel_gain={"Joy": 2.0})


@pytest.mark.parametrize("tau_ms", [20.0, 50.0, 100.0])
def test_smoothing_latency_on_a_step_is_the_stated_time_constant(tau_ms):
    rt = Retargeter("arkit", smoothing_ms=tau_ms)
    assert rt.latency_ms == tau_ms
    t = np.arange(int(FPS)) / FPS
    step_s = 0.2
    y = np.array([rt(ti, _bs(jawOpen=1.0 if ti >= step_s else 0.0), {})["jawOpen"] for ti in t])
    after = t >= step_s
    # measured time constant: first time at or above 1 - 1/e, to within one frame
    t63 = t[after][np.argmax(y[after] >= 1 - math.exp(-1))] - step_s
    assert abs(t63 * 1000 - tau_ms) <= 1000 / FPS
    # mean delay of the response (area above it): the stated latency, to within one frame
    delay_ms = float(np.sum(1.0 - y[after]) / FPS * 1000)
    assert abs(delay_ms - tau_ms) <= 1000 / FPS
    assert y[after][-1] > 0.99 and np.all(y[~after] == 0.0)


def test_no_smoothing_means_no_delay():
    rt = Retargeter("arkit")
    assert rt.latency_ms == 0.0
    assert rt(0.0, _bs(), {})["jawOpen"] == 0.0 and rt(1 / FPS, _bs(jawOpen=0.7), {})[
        "jawOpen"
    ] == pytest.approx(0.7)
