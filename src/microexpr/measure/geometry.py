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
        inner=LM.BROW_INNER_R,
        mid=LM.BROW_MID_R,
        outer=LM.BROW_OUTER_R,
        up=LM.EYE_UPPER_R_ALL,
        low=LM.EYE_LOWER_R_ALL,
        corners=(LM.EYE_OUTER_R, LM.EYE_INNER_R),
        eye_in=LM.EYE_INNER_R,
        eye_out=LM.EYE_OUTER_R,
        cheek=LM.CHEEK_R,
        ala=LM.NOSE_ALA_R,
        mouth=LM.MOUTH_CORNER_R_ALL[:3],
    ),
    "L": dict(
        inner=LM.BROW_INNER_L,
        mid=LM.BROW_MID_L,
        outer=LM.BROW_OUTER_L,
        up=LM.EYE_UPPER_L_ALL,
        low=LM.EYE_LOWER_L_ALL,
        corners=(LM.EYE_OUTER_L, LM.EYE_INNER_L),
        eye_in=LM.EYE_INNER_L,
        eye_out=LM.EYE_OUTER_L,
        cheek=LM.CHEEK_L,
        ala=LM.NOSE_ALA_L,
        mouth=LM.MOUTH_CORNER_L_ALL[:3],
    ),
}

SIDED_FEATURES = (
    "brow_inner_raise",
    "brow_mid_raise",
    "brow_outer_raise",
    "upper_lid_raise",
    "lower_lid_raise",
    "eye_open",
    "cheek_raise",
    "nose_ala_raise",
    "corner_raise",
    "corner_lateral",
)
CENTRAL_FEATURES = (
    "brow_gap",
    "upper_lip_raise",
    "lower_lip_raise",
    "chin_raise",
    "lip_gap",
    "lip_thickness",
)
FEATURE_NAMES: tuple[str, ...] = tuple(f"{f}_{s}" for f in SIDED_FEATURES for s in SIDES) + CENTRAL_FEATURES
FEATURE_INDEX = {n: i for i, n in enumerate(FEATURE_NAMES)}


def features(landmarks: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Geometry features of a face after rigid alignment to ``reference``.

    Args:
        landmarks: (478, 3) landmarks in pixels.
        reference: (478, 3) reference face (usually the subject's neutral landmarks).

    Returns:
        (len(FEATURE_NAMES),) float64, IOD units of the reference.
    """
    return features_aligned(align_to(landmarks, reference), iod(reference))


def _compile() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each feature as a signed sum of landmark-group means: (weights over groups, group index table)."""
    groups: list[tuple[int, ...]] = []

    def g(idx: tuple[int, ...] | int) -> int:
        key = tuple(np.atleast_1d(idx).tolist())
        if key not in groups:
            groups.append(key)
        return groups.index(key)

    terms: dict[str, list[tuple[float, int, int]]] = {}  # feature -> [(weight, group, axis)]
    for s in SIDES:
        q = _G[s]
        corners = g(q["corners"])
        terms[f"brow_inner_raise_{s}"] = [(1, g(q["eye_in"]), 1), (-1, g(q["inner"]), 1)]
        terms[f"brow_mid_raise_{s}"] = [(1, corners, 1), (-1, g(q["mid"]), 1)]
        terms[f"brow_outer_raise_{s}"] = [(1, g(q["eye_out"]), 1), (-1, g(q["outer"]), 1)]
        terms[f"upper_lid_raise_{s}"] = [(1, corners, 1), (-1, g(q["up"]), 1)]
        terms[f"lower_lid_raise_{s}"] = [(1, corners, 1), (-1, g(q["low"]), 1)]
        terms[f"eye_open_{s}"] = [(1, g(q["low"]), 1), (-1, g(q["up"]), 1)]
        terms[f"cheek_raise_{s}"] = [(-1, g(q["cheek"]), 1)]
        terms[f"nose_ala_raise_{s}"] = [(-1, g(q["ala"]), 1)]
        terms[f"corner_raise_{s}"] = [(-1, g(q["mouth"]), 1)]
        sign = (
            -1.0 if s == "R" else 1.0
        )  # the subject's right is on the image left: lateral = away from midline
        terms[f"corner_lateral_{s}"] = [(sign, g(q["mouth"]), 0), (-sign, g(LM.NOSE_BRIDGE), 0)]
    terms["brow_gap"] = [(1, g(LM.BROW_INNER_L), 0), (-1, g(LM.BROW_INNER_R), 0)]
    terms["upper_lip_raise"] = [(-1, g(LM.UPPER_LIP_TOP_ALL), 1)]
    terms["lower_lip_raise"] = [(-1, g(LM.LOWER_LIP_BOTTOM_ALL), 1)]
    terms["chin_raise"] = [(-1, g(LM.CHIN_ALL), 1)]
    terms["lip_gap"] = [(1, g(LM.LOWER_LIP_INNER_ALL), 1), (-1, g(LM.UPPER_LIP_INNER_ALL), 1)]
    terms["lip_thickness"] = [
        (1, g(LM.UPPER_LIP_INNER_ALL), 1),
        (-1, g(LM.UPPER_LIP_TOP_ALL), 1),
        (1, g(LM.LOWER_LIP_BOTTOM_ALL), 1),
        (-1, g(LM.LOWER_LIP_INNER_ALL), 1),
    ]
    w = np.zeros((len(FEATURE_NAMES), len(groups), 2))
    for k, name in enumerate(FEATURE_NAMES):
        for weight, gi, axis in terms[name]:
            w[k, gi, axis] += weight
    # group means as one matrix product: member[g, landmark] = 1 / len(group)
    member = np.zeros((len(groups), 478))
    for gi, idx in enumerate(groups):
        member[gi, list(idx)] = 1.0 / len(idx)
    return w.reshape(len(FEATURE_NAMES), -1), member, np.array([len(x) for x in groups])


_W, _MEMBER, _ = _compile()


def features_aligned(aligned: np.ndarray, unit: float) -> np.ndarray:
    """Geometry features of landmarks already in the reference frame (two matrix products: the hot path).

    Args:
        aligned: (478, 2+) landmarks in the reference frame (y grows downward).
        unit: the reference IOD in the same units.

    Returns:
        (len(FEATURE_NAMES),) float64 in IOD units. ``corner_lateral`` is the signed distance of each mouth
        corner from the midline, positive on its own side.
    """
    means = _MEMBER @ np.asarray(aligned, np.float64)[:, :2]  # (groups, 2)
    out = _W @ means.ravel()
    i = FEATURE_INDEX["brow_gap"]
    out[i] = abs(out[i])
    return out / max(unit, 1e-9)
