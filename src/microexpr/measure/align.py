"""Rigid alignment: remove head motion by fitting the face's stable points to a reference face.

The reference is a subject's neutral face (calibration) or, before one is known, the face itself. After
alignment, landmark geometry is measured in the reference's frame and in units of its inter-ocular
distance (IOD), so that head translation, rotation and distance to the camera do not look like expressions.
"""

from __future__ import annotations

import numpy as np

from microexpr.facs import LM

STABLE = np.array(LM.STABLE)


def similarity_fit(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares similarity transform (Umeyama) taking ``src`` points onto ``dst``.

    Args:
        src: (N, D) points.
        dst: (N, D) points.

    Returns:
        scale, rotation (D, D), translation (D,) such that ``scale * src @ R.T + t ~= dst``.
    """
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    cov = b.T @ a / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.ones(len(s))
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1.0
    r = u @ np.diag(d) @ vt
    var = (a**2).sum() / len(src)
    scale = float((s * d).sum() / var) if var > 0 else 1.0
    return scale, r, mu_d - scale * mu_s @ r.T


def align_to(landmarks: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Landmarks moved onto the reference by a 3D similarity fit of the stable points.

    Args:
        landmarks: (478, 3) float, pixels.
        reference: (478, 3) float, the reference face (pixels of the neutral frame or canonical units).

    Returns:
        (478, 3) float64 landmarks in the reference's frame.
    """
    lm = np.asarray(landmarks, np.float64)
    ref = np.asarray(reference, np.float64)
    scale, r, t = similarity_fit(lm[STABLE], ref[STABLE])
    return scale * lm @ r.T + t


def iod(landmarks: np.ndarray) -> float:
    """Inter-ocular distance (outer eye corners), in the landmarks' units."""
    return float(np.linalg.norm(landmarks[LM.EYE_OUTER_R, :2] - landmarks[LM.EYE_OUTER_L, :2]))


def fit_residual(landmarks: np.ndarray, reference: np.ndarray) -> float:
    """RMS distance of the stable points after alignment, in reference IODs (a tracking-failure signal)."""
    aligned = align_to(landmarks, reference)
    d = aligned[STABLE, :2] - np.asarray(reference, np.float64)[STABLE, :2]
    return float(np.sqrt((d**2).sum(1).mean()) / max(iod(reference), 1e-6))
