"""FACS Action Unit intensities (0-5) and presence, from blendshapes and head-motion-free geometry.

No offline AU model ships with any dependency, so each AU is derived from two channels, both measured
relative to the subject's neutral face:

* geometry: landmark features (:mod:`microexpr.measure.geometry`) after rigid alignment, as a change from
  neutral in inter-ocular distances (IOD), scaled by the change that FACS intensity E (5) produces;
* blendshapes: MediaPipe's scores above their neutral values, scaled by the score at intensity E.

intensity = 5 * clip(w_geo * geo / geo_full + w_bs * bs / bs_full, 0, 1) with w_geo + w_bs = 1.
Presence is ``intensity >= PRESENCE_THRESHOLD`` (FACS "A", trace). Each rule below says what it is
computed from and the AUs it is known to be confused with; docs/aus.md shows the same table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from microexpr.facs import AU_CODES, BLENDSHAPE_INDEX
from microexpr.measure.geometry import FEATURE_NAMES
from microexpr.measure.motion import FLOW_FEATURE_NAMES

# The feature vector AU rules read: landmark geometry, then region optical flow (both in IOD units).
ALL_FEATURE_NAMES = FEATURE_NAMES + FLOW_FEATURE_NAMES
FEATURE_INDEX = {n: i for i, n in enumerate(ALL_FEATURE_NAMES)}

PRESENCE_THRESHOLD = 1.0


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


class _D:
    """Feature deltas from neutral, by name; ``d.x`` is the mean of the _R and _L versions of a sided feature."""

    def __init__(self, delta: np.ndarray, neutral: np.ndarray) -> None:
        self._d = delta
        self._n = neutral

    def __getattr__(self, name: str) -> np.ndarray:
        if name in FEATURE_INDEX:
            return self._d[..., FEATURE_INDEX[name]]
        return 0.5 * (self._d[..., FEATURE_INDEX[name + "_R"]] + self._d[..., FEATURE_INDEX[name + "_L"]])

    def neutral(self, name: str) -> np.ndarray:
        if name in FEATURE_INDEX:
            return self._n[..., FEATURE_INDEX[name]]
        return 0.5 * (self._n[..., FEATURE_INDEX[name + "_R"]] + self._n[..., FEATURE_INDEX[name + "_L"]])


@dataclass(frozen=True)
class AURule:
    """How one AU is computed.

    Attributes:
        code: "AU01" ...
        geo: deltas -> geometry score in IOD (>= 0).
        geo_full: geometry score at intensity 5, IOD.
        blendshapes: MediaPipe blendshape names averaged for the blendshape channel.
        bs_full: blendshape score (above neutral) at intensity 5.
        w_bs: weight of the blendshape channel (low where MediaPipe's blendshape barely responds).
        source: what it is computed from, for the docs.
        confusions: known confusions, for the docs.
    """

    code: str
    geo: Callable[[_D], np.ndarray]
    geo_full: float
    blendshapes: tuple[str, ...]
    bs_full: float
    w_bs: float
    source: str
    confusions: str


RULES: tuple[AURule, ...] = (
    AURule(
        "AU01",
        lambda d: _relu(0.5 * d.brow_inner_raise + 0.5 * d.flow_brow_inner),
        0.0371,
        ("browInnerUp",),
        0.7,
        0.3,
        "inner-brow rise: landmarks above the inner eye corners and optical flow over the inner brows; browInnerUp",
        "AU02 (frontalis acts as a whole: a strong AU02 lifts the inner brow a little)",
    ),
    AURule(
        "AU02",
        lambda d: _relu(d.brow_outer_raise - 0.3 * _relu(d.brow_inner_raise)),
        0.0419,
        ("browOuterUpLeft", "browOuterUpRight"),
        0.7,
        0.3,
        "outer-brow height above the outer eye corners, less a share of the inner-brow rise; browOuterUp",
        "AU01; head pitch if the alignment is poor",
    ),
    AURule(
        "AU04",
        lambda d: _relu(-0.5 * (d.brow_inner_raise + d.flow_brow_inner) - 0.5 * _relu(d.flow_nose_ala)),
        0.0185,
        ("browDownLeft", "browDownRight"),
        0.6,
        0.2,
        "inner-brow lowering (landmarks and flow), unless the nose wrinkles (AU09 pulls the brows down too); browDown",
        "AU09; AU07 and AU45 (lid closure drags the brow landmarks)",
    ),
    AURule(
        "AU05",
        lambda d: _relu(
            0.5 * (d.upper_lid_raise + d.eye_open)
            - 0.25 * _relu(d.brow_inner_raise)
            - 0.1 * _relu(d.brow_outer_raise)
            - 0.05 * _relu(-d.chin_raise)
            - 0.5 * _relu(d.chin_raise)
            - 0.1 * _relu(d.lip_gap)
        ),
        0.0068,
        ("eyeWideLeft", "eyeWideRight"),
        0.6,
        0.1,
        "upper-lid rise and eye opening, less what raised brows, a moving chin and parted lips explain; eyeWide. The weakest "
        "AU: MediaPipe's lid landmarks follow about a tenth of a rendered lid raise",
        "AU01+AU02 (raised brows pull the lid skin); gaze up",
    ),
    AURule(
        "AU06",
        lambda d: _relu(
            d.flow_cheek
            + 0.5 * d.flow_lower_lid
            - 0.4 * _relu(d.flow_corner)
            - 0.2 * _relu(d.flow_nose_ala - d.flow_cheek)
        ),
        0.0165,
        ("cheekSquintLeft", "cheekSquintRight"),
        0.5,
        0.05,
        "optical flow of the cheeks and lower lids upward, less what rising lip corners drag along (landmarks and "
        "cheekSquint barely respond)",
        "AU12 (a strong smile lifts the cheeks); AU09; AU07",
    ),
    AURule(
        "AU07",
        lambda d: _relu(
            d.lower_lid_raise
            - 0.5 * d.flow_lower_lid
            - 0.3 * _relu(-d.upper_lid_raise)
            - 0.05 * _relu(-d.brow_inner_raise)
        ),
        0.00763,
        ("eyeSquintLeft", "eyeSquintRight"),
        0.6,
        0.1,
        "lower-lid landmark rise not carried by cheek skin (flow), a closing upper lid or lowered brows; eyeSquint",
        "AU06 (both narrow the eye from below); AU04 (lowered brows push the lower lid up a little); AU45 at the "
        "start of a blink",
    ),
    AURule(
        "AU09",
        lambda d: _relu(d.flow_nose_ala - 0.5 * d.flow_cheek - 0.8 * _relu(d.flow_corner)),
        0.00605,
        ("noseSneerLeft", "noseSneerRight"),
        0.5,
        0.05,
        "optical flow of the nostril wings upward, less cheek and lip-corner motion (noseSneer barely responds)",
        "AU10 (shares the levator muscles); AU06",
    ),
    AURule(
        "AU10",
        lambda d: _relu(
            d.upper_lip_raise - 0.4 * _relu(d.corner_raise) - 0.5 * _relu(d.flow_nose_ala - d.flow_upper_lip)
        ),
        0.0278,
        ("mouthUpperUpLeft", "mouthUpperUpRight"),
        0.6,
        0.1,
        "upper-lip rise, less what rising lip corners and nose wrinkling explain; mouthUpperUp",
        "AU09; AU12 (mouthUpperUp also responds to smiles)",
    ),
    AURule(
        "AU12",
        lambda d: _relu(d.corner_raise),
        0.0645,
        ("mouthSmileLeft", "mouthSmileRight"),
        0.8,
        0.2,
        "lip-corner rise; mouthSmile",
        "AU14 (both pull the corners back); AU06 co-occurs in felt smiles",
    ),
    AURule(
        "AU14",
        lambda d: _relu(
            d.corner_lateral
            - 4.0 * _relu(-d.flow_corner)
            - 2.0 * _relu(d.lip_thickness)
            - 0.6 * _relu(d.corner_raise)
        ),
        0.0274,
        ("mouthDimpleLeft", "mouthDimpleRight"),
        0.5,
        0.05,
        "lip corners drawn sideways without rising, falling (flow) or thinning the lips (mouthDimple barely responds)",
        "AU20 (sideways with lowering) and AU12 (sideways with rising): the vertical component decides",
    ),
    AURule(
        "AU15",
        lambda d: _relu(-d.corner_raise - 0.15 * _relu(-d.chin_raise)),
        0.0521,
        ("mouthFrownLeft", "mouthFrownRight"),
        0.6,
        0.1,
        "lip-corner fall not explained by a jaw drop; mouthFrown",
        "AU17 (the chin boss pushes the lower lip, which can pull the corners); AU20; AU26",
    ),
    AURule(
        "AU17",
        lambda d: _relu(0.5 * d.chin_raise + 0.5 * d.lower_lip_raise),
        0.0396,
        ("mouthShrugLower",),
        0.6,
        0.2,
        "chin and lower-lip rise; mouthShrugLower",
        "AU23/AU24 (lip pressing); AU15",
    ),
    AURule(
        "AU20",
        lambda d: _relu(
            0.5 * d.corner_lateral
            + 2.0 * _relu(-d.flow_corner)
            + _relu(d.lip_thickness)
            - 2.0 * _relu(d.corner_raise)
            - 0.5 * _relu(-d.corner_raise)
            - 0.5 * _relu(-d.chin_raise)
        ),
        0.054,
        ("mouthStretchLeft", "mouthStretchRight"),
        0.6,
        0.2,
        "lip corners drawn sideways and slightly down (flow), lips stretched; damped when the corners rise, fall "
        "far (AU15) or the jaw drops; mouthStretch",
        "AU14; AU12 (a wide smile also stretches); AU15",
    ),
    AURule(
        "AU23",
        lambda d: _relu(
            -d.lip_thickness
            - 0.6 * _relu(d.chin_raise)
            - 0.15 * _relu(-d.corner_raise)
            - 0.6 * _relu(d.flow_nose_ala)
        ),
        0.00814,
        ("mouthPressLeft", "mouthPressRight"),
        0.6,
        0.05,
        "thinning of the red of the lips not explained by a chin raise, falling corners or nose wrinkling "
        "(mouthPress responds to smiles more than to AU23)",
        "AU24 (lip presser), AU28 (lip suck); AU17; AU15",
    ),
    AURule(
        "AU25",
        lambda d: _relu(d.lip_gap - _relu(d.upper_lip_raise)),
        0.0219,
        ("jawOpen",),
        0.4,
        0.1,
        "gap between the inner lip contours not made by a raised upper lip; jawOpen",
        "AU26 (a jaw drop parts the lips: FACS scores AU25 with it); AU10",
    ),
    AURule(
        "AU26",
        lambda d: _relu(-d.chin_raise),
        0.0971,
        ("jawOpen",),
        0.7,
        0.3,
        "chin drop relative to the stable face points; jawOpen",
        "AU25; AU27 (mouth stretch)",
    ),
    AURule(
        "AU45",
        lambda d: _relu(-d.upper_lid_raise) / np.maximum(d.neutral("eye_open"), 1e-3),
        0.275,
        ("eyeBlinkLeft", "eyeBlinkRight"),
        0.7,
        0.3,
        "upper-lid fall as a fraction of the neutral eye opening; eyeBlink",
        "AU07 and AU06 (narrowing); gaze down (the upper lid follows the eye)",
    ),
)
RULE_BY_CODE = {r.code: r for r in RULES}
assert tuple(r.code for r in RULES) == AU_CODES

# Each frame alone (image mode) moves the landmarks by a different amount than video mode, which tracks the face
# from frame to frame. The geometry scales above were fitted in video mode (at first with MediaPipe's landmark
# filter, which damps some movements and not others; since that filter is undone, track/unsmooth.py, AU10, AU14
# and AU23, which then read 10-20% above the rendered intensity, were scaled down by 1.1, 1.2 and 1.2). In image
# mode each AU's geometry score is first divided by its ratio below (image / video response to the same rendered
# movement, measured by benchmarks/au_scales.py on the rendered AU sweep with the filter in place; the three
# ratios divided by the same factors, so image mode reads as before).
IMAGE_MODE_RATIO: dict[str, float] = {
    "AU01": 1.3,
    "AU02": 1.21,
    "AU04": 0.88,
    "AU05": 0.65,
    "AU06": 0.96,
    "AU07": 1.07,
    "AU09": 1.8,
    "AU10": 1.22,
    "AU12": 0.99,
    "AU14": 0.325,
    "AU15": 1.22,
    "AU17": 1.36,
    "AU20": 0.9,
    "AU23": 2.26,
    "AU25": 1.84,
    "AU26": 1.04,
    "AU45": 0.88,
}


def au_intensity(
    geo: np.ndarray,
    blendshapes: np.ndarray,
    *,
    geo_neutral: np.ndarray | None,
    bs_neutral: np.ndarray | None,
    geometry: bool = True,
    landmark_mode: str = "video",
) -> np.ndarray:
    """AU intensities on the FACS 0-5 scale.

    Args:
        geo: (T, n_features) or (n_features,) geometry features (IOD units).
        blendshapes: (T, 52) or (52,) MediaPipe blendshape scores.
        geo_neutral: (n_features,) the subject's neutral geometry.
        bs_neutral: (52,) the subject's neutral blendshapes.
        geometry: False when no neutral face is known (single photos): blendshapes alone, taken as
            absolute scores, give the intensity.
        landmark_mode: the MediaPipe running mode the landmarks came from (``video`` or ``image``).

    Returns:
        (T, n_au) or (n_au,) float32 intensities in [0, 5], columns in AU_CODES order.
    """
    geo = np.asarray(geo, np.float64)
    bs = np.asarray(blendshapes, np.float64)
    if not geometry:
        geo_neutral = geo
        bs_neutral = np.zeros(bs.shape[-1])
    d = _D(geo - geo_neutral, np.asarray(geo_neutral, np.float64))
    bs_delta = _relu(bs - np.asarray(bs_neutral, np.float64))
    scale = _GEO_SCALE["image" if landmark_mode == "image" else "video"]
    g = np.stack([np.asarray(r.geo(d), np.float64) for r in RULES], -1) / scale
    b = np.stack([bs_delta[..., i].sum(-1) / len(i) for i in _BS_INDEX], -1) / _BS_FULL  # each rule's mean
    mix = (1.0 - _W_BS) * g + _W_BS * b if geometry else b
    return np.nan_to_num(5.0 * np.clip(mix, 0.0, 1.0), nan=0.0).astype(np.float32)


# per-rule constants of au_intensity, as arrays (one vectorised mix instead of a Python loop per AU)
_GEO_SCALE = {
    "video": np.array([r.geo_full for r in RULES]),
    "image": np.array([r.geo_full * IMAGE_MODE_RATIO.get(r.code, 1.0) for r in RULES]),
}
_BS_INDEX = tuple(np.array([BLENDSHAPE_INDEX[n] for n in r.blendshapes]) for r in RULES)
_BS_FULL = np.array([r.bs_full for r in RULES])
_W_BS = np.array([r.w_bs for r in RULES])


def au_presence(intensity: np.ndarray) -> np.ndarray:
    """AU presence (bool) from intensity: at least FACS trace level (A = 1)."""
    return np.asarray(intensity) >= PRESENCE_THRESHOLD


def markdown_table() -> str:
    """The per-AU table of docs/aus.md, generated from RULES so the docs cannot drift from the code."""
    from microexpr.facs import AU_BY_CODE

    lines = [
        "| AU | name | geometry at intensity 5 (IOD) | blendshapes (weight) | computed from | known confusions |",
        "|---|---|---|---|---|---|",
    ]
    for r in RULES:
        a = AU_BY_CODE[r.code]
        lines.append(
            f"| {r.code} | {a.name} | {r.geo_full:g} | {', '.join(r.blendshapes)} ({r.w_bs:g}) | {r.source} | "
            f"{r.confusions} |"
        )
    return "\n".join(lines) + "\n"
