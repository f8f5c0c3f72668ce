"""Landmark geometry features of a face, measured after head motion is removed.

Each feature is a scalar in units of the reference face's inter-ocular distance (IOD), signed so that a
named movement increases it (e.g. ``brow_inner_raise_R`` grows when the subject's right inner brow rises).
Features are compared with the subject's neutral values by :mod:`microexpr.measure.au`.
"""

from __future__ import annotations

import numpy as np

from microexpr.facs import LM
from microexpr.measure.align import align_to, iod

SIDES = ("R", "L")

_G = {
    "R": dict(
        inner=LM.BROW_INNER_R, mid=LM.BROW_MID_R, outer=LM.BROW_OUTER_R, up=LM.EYE_UPPER_R_ALL,
        low=LM.EYE_LOWER_R_ALL, corners=(LM.EYE_OUTER_R, LM.EYE_INNER_R), eye_in=LM.EYE_INNER_R,
        eye_out=LM.EYE_OUTER_R, cheek=LM.CHEEK_R, ala=LM.NOSE_ALA_R, mouth=LM.MOUTH_CORNER_R_ALL[:3],
    ),
    "L": dict(
        inner=LM.BROW_INNER_L, mid=LM.BROW_MID_L, outer=LM.BROW_OUTER_L, up=LM.EYE_UPPER_L_ALL,
        low=LM.EYE_LOWER_L_ALL, corners=(LM.EYE_OUTER_L, LM.EYE_INNER_L), eye_in=LM.EYE_INNER_L,
        eye_out=LM.EYE_OUTER_L, cheek=LM.CHEEK_L, ala=LM.NOSE_ALA_L, mouth=LM.MOUTH_CORNER_L_ALL[:3],
    ),
}

SIDED_FEATURES = (
    "brow_inner_raise", "brow_mid_raise", "brow_outer_raise", "upper_lid_raise", "lower_lid_raise",
    "eye_open", "cheek_raise", "nose_ala_raise", "corner_raise", "corner_lateral",
)
CENTRAL_FEATURES = (
    "brow_gap", "upper_lip_raise", "lower_lip_raise", "chin_raise", "lip_gap", "lip_thickness",
)
FEATURE_NAMES: tuple[str, ...] = tuple(f"{f}_{s}" for f in SIDED_FEATURES for s in SIDES) + CENTRAL_FEATURES
FEATURE_INDEX = {n: i for i, n in enumerate(FEATURE_NAMES)}


def _my(p: np.ndarray, idx: tuple[int, ...] | int) -> float:
    return float(np.mean(p[np.atleast_1d(idx), 1]))


def _mx(p: np.ndarray, idx: tuple[int, ...] | int) -> float:
    return float(np.mean(p[np.atleast_1d(idx), 0]))


def features_aligned(aligned: np.ndarray, unit: float) -> np.ndarray:
    """Geometry features of landmarks already in the reference frame.

    Args:
        aligned: (478, 3) landmarks in the reference frame (y grows downward).
        unit: the reference IOD in the same units.

    Returns:
        (len(FEATURE_NAMES),) float64 in IOD units.
    """
    p = aligned
    mid_x = _mx(p, LM.NOSE_BRIDGE)
    out: dict[str, float] = {}
    for s in SIDES:
        g = _G[s]
        eye_y = _my(p, g["corners"])
        out[f"brow_inner_raise_{s}"] = _my(p, g["eye_in"]) - _my(p, g["inner"])
        out[f"brow_mid_raise_{s}"] = eye_y - _my(p, g["mid"])
        out[f"brow_outer_raise_{s}"] = _my(p, g["eye_out"]) - _my(p, g["outer"])
        out[f"upper_lid_raise_{s}"] = eye_y - _my(p, g["up"])
        out[f"lower_lid_raise_{s}"] = eye_y - _my(p, g["low"])
        out[f"eye_open_{s}"] = _my(p, g["low"]) - _my(p, g["up"])
        out[f"cheek_raise_{s}"] = -_my(p, g["cheek"])
        out[f"nose_ala_raise_{s}"] = -_my(p, g["ala"])
        out[f"corner_raise_{s}"] = -_my(p, g["mouth"])
        out[f"corner_lateral_{s}"] = abs(_mx(p, g["mouth"]) - mid_x)
    out["brow_gap"] = abs(_mx(p, LM.BROW_INNER_L) - _mx(p, LM.BROW_INNER_R))
    out["upper_lip_raise"] = -_my(p, LM.UPPER_LIP_TOP_ALL)
    out["lower_lip_raise"] = -_my(p, LM.LOWER_LIP_BOTTOM_ALL)
    out["chin_raise"] = -_my(p, LM.CHIN_ALL)
    out["lip_gap"] = _my(p, LM.LOWER_LIP_INNER_ALL) - _my(p, LM.UPPER_LIP_INNER_ALL)
    out["lip_thickness"] = (_my(p, LM.UPPER_LIP_INNER_ALL) - _my(p, LM.UPPER_LIP_TOP_ALL)) + (
        _my(p, LM.LOWER_LIP_BOTTOM_ALL) - _my(p, LM.LOWER_LIP_INNER_ALL)
    )
    return np.array([out[n] for n in FEATURE_NAMES], np.float64) / max(unit, 1e-9)


def features(landmarks: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Geometry features of a face after rigid alignment to ``reference``.

    Args:
        landmarks: (478, 3) landmarks in pixels.
        reference: (478, 3) reference face (usually the subject's neutral landmarks).

    Returns:
        (len(FEATURE_NAMES),) float64, IOD units of the reference.
    """
    return features_aligned(align_to(landmarks, reference), iod(reference))
