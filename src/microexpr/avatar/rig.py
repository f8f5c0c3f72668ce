"""Rig mapping files: load and validate the data that says how each avatar channel is made from our signals."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from microexpr.errors import InputError
from microexpr.facs import AU_CODES, BLENDSHAPE_NAMES

RIG_FORMAT = "microexpr-rig/1"
BUILTIN_RIGS = ("arkit", "livelink", "vrm0", "vrm1")

# Signals a channel may be made from: MediaPipe's blendshape scores (0-1) and AU intensities (0-5, read as
# intensity / 5 so that every source is on a 0-1 scale).
SOURCE_NAMES: tuple[str, ...] = tuple(n for n in BLENDSHAPE_NAMES if n != "_neutral") + AU_CODES

ARKIT_NAMES: tuple[str, ...] = tuple(n for n in BLENDSHAPE_NAMES if n != "_neutral") + ("tongueOut",)
# Live Link Face order (Unreal's ELiveLinkFaceBlendshape), the first 52 values of its UDP packet
LIVELINK_NAMES: tuple[str, ...] = tuple(
    """EyeBlinkLeft EyeLookDownLeft EyeLookInLeft EyeLookOutLeft EyeLookUpLeft EyeSquintLeft EyeWideLeft
    EyeBlinkRight EyeLookDownRight EyeLookInRight EyeLookOutRight EyeLookUpRight EyeSquintRight EyeWideRight
    JawForward JawLeft JawRight JawOpen MouthClose MouthFunnel MouthPucker MouthLeft MouthRight MouthSmileLeft
    MouthSmileRight MouthFrownLeft MouthFrownRight MouthDimpleLeft MouthDimpleRight MouthStretchLeft
    MouthStretchRight MouthRollLower MouthRollUpper MouthShrugLower MouthShrugUpper MouthPressLeft
    MouthPressRight MouthLowerDownLeft MouthLowerDownRight MouthUpperUpLeft MouthUpperUpRight BrowDownLeft
    BrowDownRight BrowInnerUp BrowOuterUpLeft BrowOuterUpRight CheekPuff CheekSquintLeft CheekSquintRight
    NoseSneerLeft NoseSneerRight TongueOut""".split()
)
LIVELINK_EXTRA: tuple[str, ...] = (
    "HeadYaw",
    "HeadPitch",
    "HeadRoll",
    "LeftEyeYaw",
    "LeftEyePitch",
    "LeftEyeRoll",
    "RightEyeYaw",
    "RightEyePitch",
    "RightEyeRoll",
)
VRM0_NAMES: tuple[str, ...] = (
    "Neutral", "A", "I", "U", "E", "O", "Blink", "Joy", "Angry", "Sorrow", "Fun",
    "LookUp", "LookDown", "LookLeft", "LookRight", "Blink_L", "Blink_R",
)  # fmt: skip
VRM1_NAMES: tuple[str, ...] = (
    "happy", "angry", "sad", "relaxed", "surprised", "aa", "ih", "ou", "ee", "oh",
    "blink", "blinkLeft", "blinkRight", "lookUp", "lookDown", "lookLeft", "lookRight", "neutral",
)  # fmt: skip
# channel names each target accepts; "custom" accepts any name (a user's own rig)
TARGET_CHANNELS: dict[str, tuple[str, ...] | None] = {
    "arkit": ARKIT_NAMES,
    "livelink": LIVELINK_NAMES,
    "vrm0": VRM0_NAMES,
    "vrm1": VRM1_NAMES,
    "custom": None,
}
_SOURCE_INDEX = {n: i for i, n in enumerate(SOURCE_NAMES)}


@dataclass(frozen=True)
class Rig:
    """A validated rig mapping.

    Attributes:
        name: file stem or built-in name.
        target: "arkit", "livelink", "vrm0", "vrm1" or "custom".
        channels: output channel names, in file order.
        weights: (n_channels, n_sources) float64, how much of each source (SOURCE_NAMES order) makes a channel.
        gain: (n_channels,) multiplier applied after the weighted sum.
        lo: (n_channels,) lower clamp.
        hi: (n_channels,) upper clamp.
        path: the file it came from.
    """

    name: str
    target: str
    channels: tuple[str, ...]
    weights: np.ndarray
    gain: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    path: Path


def rig_path(name: str) -> Path:
    """Path of a built-in rig file (copy it to make your own)."""
    return Path(str(resources.files("microexpr.avatar") / "rigs" / f"{name}.json"))


def load_rig(name_or_path: str | Path) -> Rig:
    """Load a built-in rig by name ("arkit", "livelink", "vrm0", "vrm1") or a rig file (.json, .yaml).

    Raises:
        InputError: the file is missing or malformed, or names an unknown channel, source or key; the message
            names the file and the key.
    """
    s = str(name_or_path)
    path = rig_path(s) if s in BUILTIN_RIGS else Path(s)
    if not path.is_file():
        raise InputError(
            f"rig {s!r} is neither a built-in rig ({', '.join(BUILTIN_RIGS)}) nor an existing file"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read the rig file ({e})") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise InputError(f"{path}: YAML rigs need PyYAML (pip install pyyaml), or use JSON") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise InputError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
    return _parse(data, path)


def _num(path: Path, key: str, v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        raise InputError(f"{path}: {key} must be a finite number, but got {v!r}")
    if abs(float(v)) > 1e6:
        raise InputError(f"{path}: {key} is out of range ({v!r})")
    return float(v)


def _parse(data: object, path: Path) -> Rig:
    if not isinstance(data, dict):
        raise InputError(f"{path}: a rig must be a mapping with 'target' and 'channels'")
    unknown = set(data) - {"format", "target", "description", "defaults", "channels"}
    if unknown:
        raise InputError(f"{path}: unknown key {sorted(unknown)[0]!r}")
    if data.get("format", RIG_FORMAT) != RIG_FORMAT:
        raise InputError(f"{path}: format must be {RIG_FORMAT!r}, but got {data.get('format')!r}")
    target = data.get("target", "custom")
    if target not in TARGET_CHANNELS:
        raise InputError(f"{path}: target must be one of {', '.join(TARGET_CHANNELS)}, but got {target!r}")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict) or set(defaults) - {"gain", "min", "max"}:
        raise InputError(f"{path}: defaults may only set gain, min and max")
    d_gain = _num(path, "defaults.gain", defaults.get("gain", 1.0))
    d_lo = _num(path, "defaults.min", defaults.get("min", 0.0))
    d_hi = _num(path, "defaults.max", defaults.get("max", 1.0))
    chans = data.get("channels")
    if not isinstance(chans, dict) or not chans:
        raise InputError(f"{path}: 'channels' must be a non-empty mapping of channel name -> {{from: ...}}")
    allowed = TARGET_CHANNELS[target]
    names, w, gain, lo, hi = [], np.zeros((len(chans), len(SOURCE_NAMES))), [], [], []
    for i, (name, spec) in enumerate(chans.items()):
        key = f"channels.{name}"
        if not isinstance(name, str) or not name or len(name) > 64 or not name.isprintable():
            raise InputError(f"{path}: channel names must be short printable strings, but got {name!r}")
        if allowed is not None and name not in allowed:
            raise InputError(
                f"{path}: unknown channel {name!r} for target {target!r} (key {key}); "
                f"set target to 'custom' for a rig of your own"
            )
        if not isinstance(spec, dict) or set(spec) - {"from", "gain", "min", "max"}:
            raise InputError(f"{path}: {key} must be a mapping with 'from' and optional gain, min, max")
        src = spec.get("from", {})
        if not isinstance(src, dict):
            raise InputError(f"{path}: {key}.from must map source names to weights")
        for s, weight in src.items():
            j = _SOURCE_INDEX.get(s)
            if j is None:
                raise InputError(
                    f"{path}: unknown source {s!r} in {key}.from (use a MediaPipe blendshape name such as "
                    f"'mouthSmileLeft' or an AU code such as 'AU12')"
                )
            w[i, j] = _num(path, f"{key}.from.{s}", weight)
        names.append(name)
        gain.append(_num(path, f"{key}.gain", spec.get("gain", d_gain)))
        lo.append(_num(path, f"{key}.min", spec.get("min", d_lo)))
        hi.append(_num(path, f"{key}.max", spec.get("max", d_hi)))
        if lo[-1] > hi[-1]:
            raise InputError(f"{path}: {key} has min {lo[-1]} above max {hi[-1]}")
    stem = path.stem
    return Rig(stem, target, tuple(names), w, np.array(gain), np.array(lo), np.array(hi), path)
