"""Believable micro-expression curves: AU and ARKit blendshape tracks with fast onset, brief apex, slower
offset, optional asymmetry and jitter, as one event or layered onto an existing animation track.

The emotion -> AU table below is this module's own (EMFACS-style prototypes, for synthesis); recognition has
its own in :mod:`microexpr.recognize.emotion` and the two are to be unified.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from microexpr.errors import InputError, OptionError
from microexpr.facs import AU_CODES, BLENDSHAPE_NAMES

# emotion -> (AU, relative weight, side); letters in FACS codes (5B, R12A) become weights below 1
EMOTION_AUS: dict[str, tuple[tuple[str, float, str], ...]] = {
    "happiness": (("AU06", 0.8, "both"), ("AU12", 1.0, "both")),
    "sadness": (("AU01", 1.0, "both"), ("AU04", 0.8, "both"), ("AU15", 1.0, "both")),
    "surprise": (("AU01", 1.0, "both"), ("AU02", 1.0, "both"), ("AU05", 0.6, "both"), ("AU26", 1.0, "both")),
    "fear": (
        ("AU01", 1.0, "both"),
        ("AU02", 1.0, "both"),
        ("AU04", 0.8, "both"),
        ("AU05", 1.0, "both"),
        ("AU07", 0.8, "both"),
        ("AU20", 1.0, "both"),
        ("AU26", 0.8, "both"),
    ),
    "anger": (("AU04", 1.0, "both"), ("AU05", 0.8, "both"), ("AU07", 1.0, "both"), ("AU23", 1.0, "both")),
    "disgust": (("AU09", 1.0, "both"), ("AU15", 0.8, "both"), ("AU16", 0.8, "both")),
    "contempt": (("AU12", 0.6, "R"), ("AU14", 0.6, "R")),  # R12A+R14A: unilateral, subject's right
}
# AU -> ARKit blendshapes it drives (bilateral pairs as (left, right)); value = AU intensity / 5 * weight
AU_TO_ARKIT: dict[str, tuple[tuple[str, str] | str, float]] = {
    "AU01": ("browInnerUp", 1.0),
    "AU02": (("browOuterUpLeft", "browOuterUpRight"), 1.0),
    "AU04": (("browDownLeft", "browDownRight"), 1.0),
    "AU05": (("eyeWideLeft", "eyeWideRight"), 1.0),
    "AU06": (("cheekSquintLeft", "cheekSquintRight"), 1.0),
    "AU07": (("eyeSquintLeft", "eyeSquintRight"), 1.0),
    "AU09": (("noseSneerLeft", "noseSneerRight"), 1.0),
    "AU10": (("mouthUpperUpLeft", "mouthUpperUpRight"), 1.0),
    "AU12": (("mouthSmileLeft", "mouthSmileRight"), 1.0),
    "AU14": (("mouthDimpleLeft", "mouthDimpleRight"), 1.0),
    "AU15": (("mouthFrownLeft", "mouthFrownRight"), 1.0),
    "AU16": (("mouthLowerDownLeft", "mouthLowerDownRight"), 1.0),
    "AU17": ("mouthShrugLower", 1.0),
    "AU20": (("mouthStretchLeft", "mouthStretchRight"), 1.0),
    "AU23": (("mouthPressLeft", "mouthPressRight"), 1.0),
    "AU25": ("jawOpen", 0.15),
    "AU26": ("jawOpen", 1.0),
    "AU45": (("eyeBlinkLeft", "eyeBlinkRight"), 1.0),
}
TRACK_AUS: tuple[str, ...] = tuple(sorted(set(AU_CODES) | {"AU16"}))
ARKIT_NAMES: tuple[str, ...] = tuple(n for n in BLENDSHAPE_NAMES if n != "_neutral") + ("tongueOut",)
# phase shares of the duration (onset, apex, offset): fast onset, brief apex, slower offset
PHASES = {"micro": (0.30, 0.15, 0.55), "macro": (0.25, 0.35, 0.40)}
DURATION_MS = {"micro": (40.0, 500.0), "macro": (500.0, 4000.0)}
MAX_FRAMES = 2_000_000


@dataclass(frozen=True)
class ExpressionTrack:
    """An animation track sampled at a fixed rate.

    Attributes:
        t_s: (T,) times in seconds.
        au: AU code -> (T,) intensity on the FACS 0-5 scale (a unilateral AU holds its own intensity).
        arkit: ARKit name (camelCase) -> (T,) value in [0, 1]; carries the side of unilateral AUs.
        fps: sampling rate in frames/s.
        meta: what made it (emotion, kind, duration, intensity, onset/apex/offset times, sides).
    """

    t_s: np.ndarray
    au: dict[str, np.ndarray]
    arkit: dict[str, np.ndarray]
    fps: float
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.t_s)


def _ease_out(u: np.ndarray) -> np.ndarray:
    return 1.0 - (1.0 - u) ** 3


def _ease_in_out(u: np.ndarray) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(np.pi * u)


def envelope(t_s: np.ndarray, onset_s: float, apex_s: float, hold_s: float, offset_s: float) -> np.ndarray:
    """0 -> 1 by ``apex_s`` (ease-out: fast start), hold to ``hold_s``, back to 0 at ``offset_s`` (ease-in-out)."""
    out = np.zeros_like(t_s, dtype=np.float64)
    rise = (t_s > onset_s) & (t_s < apex_s)
    out[rise] = _ease_out((t_s[rise] - onset_s) / max(apex_s - onset_s, 1e-9))
    out[(t_s >= apex_s) & (t_s <= hold_s)] = 1.0
    fall = (t_s > hold_s) & (t_s < offset_s)
    out[fall] = 1.0 - _ease_in_out((t_s[fall] - hold_s) / max(offset_s - hold_s, 1e-9))
    return out


def arkit_from_au(au: dict[str, np.ndarray], sides: dict[str, str], n: int) -> dict[str, np.ndarray]:
    """ARKit blendshape curves (0-1) from AU curves (0-5); ``sides[code]`` is "both", "R" or "L"."""
    out = {name: np.zeros(n) for name in ARKIT_NAMES}
    for code, curve in au.items():
        if code not in AU_TO_ARKIT:
            continue
        target, w = AU_TO_ARKIT[code]
        v = np.asarray(curve, np.float64) / 5.0 * w
        side = sides.get(code, "both")
        if isinstance(target, str):
            out[target] = out[target] + (v if side == "both" else 0.5 * v)
        else:
            left, right = target
            if side in ("both", "L"):
                out[left] = out[left] + v
            if side in ("both", "R"):
                out[right] = out[right] + v
    return {k: np.clip(v, 0.0, 1.0) for k, v in out.items()}


def expression_track(
    emotion: str,
    *,
    kind: str = "micro",
    duration_ms: float = 250.0,
    intensity: float = 0.6,
    fps: float = 120.0,
    lead_s: float = 0.1,
    tail_s: float = 0.1,
    asymmetry: float = 0.0,
    jitter: float = 0.0,
    seed: int = 0,
) -> ExpressionTrack:
    """One expression event as AU and ARKit curves.

    Args:
        emotion: one of EMOTION_AUS (happiness, sadness, surprise, fear, anger, disgust, contempt).
        kind: "micro" (40-500 ms) or "macro" (0.5-4 s).
        duration_ms: onset to offset, in ms.
        intensity: peak as a share of the FACS maximum (0-1; 0.6 is about a "C", marked).
        fps: sampling rate, frames/s.
        lead_s: rest before the onset, seconds; tail_s: rest after the offset.
        asymmetry: 0 (symmetric) to 1 (one side only) for bilateral AUs; the left side is weakened.
        jitter: relative tremor on the active part (0-0.3): low-pass noise, so it never moves at rest.
        seed: seed of stagger and jitter.

    Raises:
        OptionError: an unknown emotion or kind, or a value out of range (the message names it).
    """
    if emotion not in EMOTION_AUS:
        raise OptionError(f"--emotion must be one of {', '.join(EMOTION_AUS)}, but got {emotion!r}")
    if kind not in PHASES:
        raise OptionError(f"--kind must be micro or macro, but got {kind!r}")
    lo, hi = DURATION_MS[kind]
    if not (math.isfinite(duration_ms) and lo <= duration_ms <= hi):
        raise OptionError(
            f"--duration-ms for a {kind} expression must be {lo:g}-{hi:g}, but got {duration_ms:g}"
        )
    if not (math.isfinite(intensity) and 0.0 < intensity <= 1.0):
        raise OptionError(f"--intensity must be in (0, 1], but got {intensity:g}")
    if not (math.isfinite(fps) and 15.0 <= fps <= 1000.0):
        raise OptionError(f"--fps must be between 15 and 1000, but got {fps:g}")
    if not (0.0 <= asymmetry <= 1.0):
        raise OptionError(f"--asymmetry must be between 0 and 1, but got {asymmetry:g}")
    if not (0.0 <= jitter <= 0.3):
        raise OptionError(f"--jitter must be between 0 and 0.3, but got {jitter:g}")
    if not (0.0 <= lead_s <= 60.0 and 0.0 <= tail_s <= 60.0):
        raise OptionError("lead and tail must be between 0 and 60 s")
    rng = np.random.default_rng(seed)
    d_s = duration_ms / 1000.0
    n = int(math.ceil((lead_s + d_s + tail_s) * fps)) + 1
    t = np.arange(n) / fps
    f_on, f_apex, _ = PHASES[kind]
    onset_s = lead_s
    apex_s = onset_s + f_on * d_s
    hold_s = apex_s + f_apex * d_s
    offset_s = onset_s + d_s
    au: dict[str, np.ndarray] = {c: np.zeros(n) for c in TRACK_AUS}
    sides: dict[str, str] = {}
    left_scale = 1.0 - asymmetry
    for code, w, side in EMOTION_AUS[emotion]:
        # muscles do not start together: each AU's onset is staggered by up to 10 % of the onset phase
        dt = rng.uniform(-0.1, 0.1) * (apex_s - onset_s)
        env = envelope(t, onset_s + max(dt, 0.0), apex_s + dt, hold_s + dt, offset_s)
        if jitter > 0:
            k = max(3, int(fps * 0.03))
            noise = np.convolve(rng.normal(0, 1, n + k), np.ones(k) / math.sqrt(k), "same")[:n]
            env = env * np.clip(1.0 + jitter * noise, 0.0, None)
        au[code] = np.clip(au[code] + 5.0 * intensity * w * env, 0.0, 5.0)
        sides[code] = side
    arkit = arkit_from_au(au, sides, n)
    if asymmetry > 0:
        for code, (target, _w) in AU_TO_ARKIT.items():
            if code in sides and sides[code] == "both" and not isinstance(target, str):
                arkit[target[0]] = arkit[target[0]] * left_scale
    meta = {
        "emotion": emotion,
        "kind": kind,
        "duration_ms": duration_ms,
        "intensity": intensity,
        "onset_s": onset_s,
        "apex_s": apex_s,
        "offset_s": offset_s,
        "sides": sides,
        "asymmetry": asymmetry,
        "jitter": jitter,
        "seed": seed,
    }
    return ExpressionTrack(t, au, arkit, float(fps), meta)


def layer(base: ExpressionTrack, overlay: ExpressionTrack, *, at_s: float) -> ExpressionTrack:
    """``overlay`` added onto ``base`` from ``at_s`` (base's timeline and rate; sums clamped to range).

    Raises:
        OptionError: ``at_s`` outside the base track.
    """
    if not (math.isfinite(at_s) and base.t_s[0] <= at_s <= base.t_s[-1]):
        raise OptionError(
            f"--at-s must be within the base track ({base.t_s[0]:g}-{base.t_s[-1]:g} s), but got {at_s:g}"
        )
    rel = base.t_s - at_s - overlay.t_s[0]

    def put(a: dict[str, np.ndarray], b: dict[str, np.ndarray], top: float) -> dict[str, np.ndarray]:
        out = {k: np.asarray(v, np.float64).copy() for k, v in a.items()}
        for k, v in b.items():
            add = np.interp(rel, overlay.t_s - overlay.t_s[0], v, left=0.0, right=0.0)
            out[k] = np.clip(out.get(k, np.zeros(len(base.t_s))) + add, 0.0, top)
        return out

    meta = {**base.meta, "layers": [*base.meta.get("layers", []), {**overlay.meta, "at_s": at_s}]}
    return ExpressionTrack(
        base.t_s, put(base.au, overlay.au, 5.0), put(base.arkit, overlay.arkit, 1.0), base.fps, meta
    )


def track_table(track: ExpressionTrack) -> str:
    """CSV text: ``t_s``, the AU columns (0-5), then the ARKit columns (0-1)."""
    names = [*sorted(track.au), *[n for n in ARKIT_NAMES if n in track.arkit]]
    cols = (
        [track.t_s]
        + [track.au[n] for n in sorted(track.au)]
        + [track.arkit[n] for n in names[len(track.au) :]]
    )
    lines = [",".join(["t_s", *names])]
    data = np.column_stack(cols)
    for row in data:
        lines.append(",".join([f"{row[0]:.6f}"] + [f"{v:.5f}" for v in row[1:]]))
    return "\n".join(lines) + "\n"


def keyframes(t_s: np.ndarray, v: np.ndarray, *, tol: float) -> list[list[float]]:
    """[t_s, value] keyframes that reproduce ``v`` within ``tol`` by linear interpolation."""
    keep = [0]
    for i in range(1, len(v) - 1):
        a = keep[-1]
        # drop i if the line from the last kept key to i + 1 passes within tol of every sample between
        seg = slice(a + 1, i + 1)
        line = np.interp(t_s[seg], [t_s[a], t_s[i + 1]], [v[a], v[i + 1]])
        if np.max(np.abs(line - v[seg])) > tol:
            keep.append(i)
    if len(v) > 1:
        keep.append(len(v) - 1)
    return [[round(float(t_s[i]), 6), round(float(v[i]), 5)] for i in keep]


def track_keyframes(track: ExpressionTrack, *, tol_au: float = 0.01, tol_arkit: float = 0.002) -> dict:
    """JSON-ready keyframes: only channels that move, each a list of [t_s, value]."""
    au = {k: keyframes(track.t_s, v, tol=tol_au) for k, v in sorted(track.au.items()) if np.any(v > 0)}
    ark = {k: keyframes(track.t_s, v, tol=tol_arkit) for k, v in track.arkit.items() if np.any(v > 0)}
    return {
        "format": "microexpr-keyframes/1",
        "fps": track.fps,
        "duration_s": round(float(track.t_s[-1] - track.t_s[0]), 6),
        "meta": track.meta,
        "au": au,
        "arkit": ark,
    }


def read_track(path: Path) -> ExpressionTrack:
    """Read a track CSV (``t_s`` then AU and/or ARKit columns), such as an idle loop to layer onto.

    Raises:
        InputError: missing file, no ``t_s`` column, unknown column, non-numeric, non-finite or out-of-range
            values, or times that do not increase (the message names the file and column).
    """
    import pandas as pd

    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        df = pd.read_csv(path)
    except Exception as e:  # noqa: BLE001 - pandas raises many kinds for a bad CSV
        raise InputError(
            f"{path}: not a readable CSV ({type(e).__name__}: {str(e).splitlines()[0][:120]})"
        ) from None
    if "t_s" not in df.columns:
        raise InputError(f"{path}: needs a t_s column (seconds), then AU and/or ARKit columns")
    if len(df) < 2 or len(df) > MAX_FRAMES:
        raise InputError(f"{path}: needs between 2 and {MAX_FRAMES} rows, but has {len(df)}")
    au, ark = {}, {}
    for c in df.columns:
        v = pd.to_numeric(df[c], errors="coerce").to_numpy(np.float64)
        if not np.isfinite(v).all():
            raise InputError(f"{path}: column {c!r} has empty, non-numeric or non-finite values")
        if c == "t_s":
            continue
        if c in TRACK_AUS:
            if v.min() < 0 or v.max() > 5:
                raise InputError(f"{path}: column {c!r} must be on the FACS 0-5 scale")
            au[c] = v
        elif c in ARKIT_NAMES:
            if v.min() < 0 or v.max() > 1:
                raise InputError(f"{path}: column {c!r} must be between 0 and 1")
            ark[c] = v
        else:
            raise InputError(
                f"{path}: unknown column {str(c)[:64]!r} (use AU codes such as AU12 or ARKit names)"
            )
    t = df["t_s"].to_numpy(np.float64)
    if not np.all(np.diff(t) > 0):
        raise InputError(f"{path}: t_s must increase from row to row")
    fps = float((len(t) - 1) / (t[-1] - t[0]))  # mean rate: robust to the 6-decimal rounding of t_s
    if au and not ark:  # drive the avatar from the AUs when the file has no blendshapes
        ark = arkit_from_au(au, {}, len(t))
    return ExpressionTrack(t, au, ark, fps, {"source": str(path)})


def write_track(track: ExpressionTrack, path: Path, *, as_json: bool = False) -> Path:
    """Write the track as CSV (every frame) or JSON keyframes, atomically (temp file, then rename)."""
    from microexpr.outputs import atomic_write_text

    text = json.dumps(track_keyframes(track), indent=1) + "\n" if as_json else track_table(track)
    return atomic_write_text(path, text)


def renderer_curves(track: ExpressionTrack) -> dict[str, np.ndarray]:
    """AU curves the photo renderer knows (it renders both sides: a unilateral AU is drawn at half its
    intensity on both; AU16 has no renderer motion and is left out)."""
    out = {}
    for code, v in track.au.items():
        if code in AU_CODES and np.any(v > 0):
            side = track.meta.get("sides", {}).get(code, "both")
            out[code] = (v if side == "both" else 0.5 * v).astype(np.float32)
    return out
