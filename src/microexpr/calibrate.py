"""Calibration: each subject's neutral face, found automatically or given, and reusable subject profiles.

A :class:`Baseline` holds what "neutral" means for one face: a frontal, upright reference shape that all
of the face's landmarks are aligned to, and the neutral values of the geometry features and blendshapes
that AU intensities are measured from. Auto-calibration picks the least active stretch of the track.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from microexpr.errors import InputError, OptionError
from microexpr.facs import BLENDSHAPE_INDEX, BLENDSHAPE_NAMES
from microexpr.measure.geometry import FEATURE_NAMES
from microexpr.measure.pose import rotation_translation

PROFILE_FORMAT = "microexpr-profile"
PROFILE_VERSION = 1

# Blendshapes that describe expressions (not gaze, not the "_neutral" score): they make up "activity".
_EXPRESSIVE = np.array(
    [i for n, i in BLENDSHAPE_INDEX.items() if n != "_neutral" and not n.startswith("eyeLook")]
)
GEO_NOISE_UNIT = 0.01  # IOD: a landmark feature change this large counts as much as one blendshape point


def frontal_reference(landmarks: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """The face's landmarks rotated to face the camera upright, centred on their mean.

    Args:
        landmarks: (478, 3) pixels.
        transform: (4, 4) MediaPipe facial transformation matrix of the same face.

    Returns:
        (478, 3) float64 reference shape (pixel scale).
    """
    r, _ = rotation_translation(transform)
    p = np.asarray(landmarks, np.float64)
    return (p - p.mean(0)) @ r


@dataclass(frozen=True)
class Baseline:
    """What neutral means for one subject.

    Attributes:
        reference: (478, 3) frontal reference shape all landmarks are aligned to.
        geo_neutral: (n_features,) neutral geometry features (IOD units).
        bs_neutral: (52,) neutral blendshape scores.
        geo_noise: (n_features,) standard deviation of the features during the neutral stretch (IOD).
        source: how it was found, e.g. "auto: 2.10-3.10 s", "range: 0-1 s", "image: neutral.jpg".
        rows: positions (within the face's own rows) of the neutral frames, when it came from the video.
    """

    reference: np.ndarray
    geo_neutral: np.ndarray
    bs_neutral: np.ndarray
    geo_noise: np.ndarray
    source: str
    rows: np.ndarray | None = None

    def to_json(self) -> dict:
        return {
            "format": PROFILE_FORMAT,
            "version": PROFILE_VERSION,
            "source": self.source,
            "feature_names": list(FEATURE_NAMES),
            "blendshape_names": list(BLENDSHAPE_NAMES),
            "reference": np.round(self.reference, 4).tolist(),
            "geo_neutral": self.geo_neutral.tolist(),
            "bs_neutral": self.bs_neutral.tolist(),
            "geo_noise": self.geo_noise.tolist(),
        }


def save_profile(baseline: Baseline, path: Path) -> Path:
    """Write a subject profile (JSON) atomically."""
    from microexpr.outputs import atomic_write_text

    return atomic_write_text(Path(path), json.dumps(baseline.to_json(), indent=1))


def load_profile(path: Path) -> Baseline:
    """Read a subject profile written by :func:`save_profile`; a clear InputError for anything else."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"profile {p} not found")
    try:
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ValueError("not a JSON file (make one with --save-profile)") from None
        if not isinstance(d, dict) or d.get("format") != PROFILE_FORMAT:
            raise ValueError("not a microexpr profile")
        if d.get("version") != PROFILE_VERSION:
            raise ValueError(f"profile version {d.get('version')} is not {PROFILE_VERSION}")
        if tuple(d["feature_names"]) != FEATURE_NAMES or tuple(d["blendshape_names"]) != BLENDSHAPE_NAMES:
            raise ValueError("made by an incompatible microexpr version")
        b = Baseline(
            reference=np.asarray(d["reference"], np.float64).reshape(478, 3),
            geo_neutral=np.asarray(d["geo_neutral"], np.float64).reshape(len(FEATURE_NAMES)),
            bs_neutral=np.asarray(d["bs_neutral"], np.float64).reshape(len(BLENDSHAPE_NAMES)),
            geo_noise=np.asarray(d["geo_noise"], np.float64).reshape(len(FEATURE_NAMES)),
            source=str(d.get("source", "")),
        )
    except (ValueError, KeyError, TypeError) as e:
        raise InputError(f"profile {p} cannot be used: {e}") from None
    if not (
        np.isfinite(b.reference).all()
        and np.isfinite(b.geo_neutral).all()
        and np.isfinite(b.bs_neutral).all()
    ):
        raise InputError(f"profile {p} cannot be used: it holds non-finite numbers")
    return b


def activity(geo: np.ndarray, bs: np.ndarray) -> np.ndarray:
    """Per-frame expressive activity: how far blendshapes and geometry are from the track's median state.

    Args:
        geo: (T, n_features) geometry features.
        bs: (T, 52) blendshapes.

    Returns:
        (T,) float64, larger when the face moves away from its typical state.
    """
    geo_dev = np.abs(geo - np.nanmedian(geo, axis=0)) / GEO_NOISE_UNIT
    bs_e = bs[:, _EXPRESSIVE]
    return np.nansum(np.abs(bs_e - np.nanmedian(bs_e, axis=0)), axis=1) + np.nanmean(geo_dev, axis=1)


def least_active_window(t_s: np.ndarray, act: np.ndarray, valid: np.ndarray, *, window_s: float) -> slice:
    """The stretch of about ``window_s`` seconds with the least mean activity among valid frames."""
    n = len(t_s)
    if n == 0:
        raise ValueError("no frames")
    dt = float(np.median(np.diff(t_s))) if n > 1 else 1.0
    w = max(3, int(round(window_s / max(dt, 1e-6))))
    if w >= n:
        return slice(0, n)
    a = np.where(valid, act, np.inf)
    finite = np.isfinite(a)
    csum = np.concatenate([[0.0], np.cumsum(np.where(finite, a, 0.0))])
    ccount = np.concatenate([[0], np.cumsum(finite)])
    sums = csum[w:] - csum[:-w]
    counts = ccount[w:] - ccount[:-w]
    mean = np.where(counts >= max(3, w // 2), sums / np.maximum(counts, 1), np.inf)
    start = int(np.argmin(mean))
    if not np.isfinite(mean[start]):
        return slice(0, n)
    return slice(start, start + w)


def baseline_from_frames(
    reference: np.ndarray, geo: np.ndarray, bs: np.ndarray, sel: np.ndarray | slice, source: str
) -> Baseline:
    """Neutral values as the median over the selected frames."""
    g, b = geo[sel], bs[sel]
    return Baseline(
        reference=np.asarray(reference, np.float64),
        geo_neutral=np.nanmedian(g, axis=0),
        bs_neutral=np.nanmedian(b, axis=0),
        geo_noise=np.nanstd(g, axis=0) if len(g) > 1 else np.zeros(g.shape[1]),
        source=source,
        rows=np.arange(len(geo))[sel],
    )


def auto_baseline(
    reference: np.ndarray,
    t_s: np.ndarray,
    geo: np.ndarray,
    bs: np.ndarray,
    valid: np.ndarray,
    *,
    window_s: float = 1.0,
) -> Baseline:
    """Neutral from the least active stretch of one face's track."""
    sel = least_active_window(t_s, activity(geo, bs), valid, window_s=window_s)
    return baseline_from_frames(
        reference, geo, bs, sel, f"auto: {t_s[sel.start]:.2f}-{t_s[sel.stop - 1]:.2f} s"
    )


def parse_range(text: str) -> tuple[float, float]:
    """'START-END' in seconds -> (start, end); OptionError for anything else."""
    parts = text.strip().split("-")
    try:
        if len(parts) != 2:
            raise ValueError
        a, b = float(parts[0]), float(parts[1])
    except ValueError:
        raise OptionError(f"--neutral must be START-END in seconds (e.g. 0-1.5), but got {text!r}") from None
    if not (math.isfinite(a) and math.isfinite(b)) or a < 0 or b <= a:
        raise OptionError(f"--neutral {text!r}: need 0 <= START < END")
    return a, b


def range_baseline(
    reference: np.ndarray,
    t_s: np.ndarray,
    geo: np.ndarray,
    bs: np.ndarray,
    valid: np.ndarray,
    neutral_range: tuple[float, float],
    *,
    face_id: int,
) -> Baseline:
    """Neutral from an explicit time range; OptionError when the face has no frame in it."""
    a, b = neutral_range
    sel = np.flatnonzero((t_s >= a) & (t_s <= b) & valid)
    if len(sel) == 0:
        span = f"{t_s.min():.2f}-{t_s.max():.2f} s" if len(t_s) else "no frames"
        raise OptionError(
            f"--neutral {a:g}-{b:g}: face {face_id} has no tracked frame in that range (it is seen {span})"
        )
    return baseline_from_frames(reference, geo, bs, sel, f"range: {a:g}-{b:g} s")
