"""Rigid alignment: remove head motion by fitting the face's stable points to a reference face.

The reference is a subject's neutral face (calibration) or, before one is known, the face itself. After
alignment, landmark geometry is measured in the reference's frame and in units of its inter-ocular
distance (IOD), so that head translation, rotation and distance to the camera do not look like expressions.
"""

from __future__ import annotations

import numpy as np

from microexpr.facs import LM

STABLE = np.array(LM.STABLE)


try:  # the gufuncs np.linalg.svd / det call, without their per-call checks and error-state set-up
    from numpy.linalg import _umath_linalg as _UL

    _SVD_F, _DET = _UL.svd_f, _UL.det
except (ImportError, AttributeError):  # pragma: no cover - another NumPy layout: the public functions
    _SVD_F = _DET = None


def svd(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``np.linalg.svd(a)`` of a small finite float64 matrix, the same arrays without its per-call overhead
    (about 10 us of a 3x3 fit's 60): the same LAPACK routine through the same gufunc. Anything else (NaN,
    another dtype) goes through ``np.linalg.svd`` itself, which raises as it always did."""
    if _SVD_F is None or a.dtype != np.float64 or a.ndim != 2 or not np.isfinite(a).all():
        return tuple(np.linalg.svd(a))  # type: ignore[return-value]
    return _SVD_F(a, signature="d->ddd")


def det(a: np.ndarray) -> float:
    """``np.linalg.det(a)`` of a small float64 matrix (the same gufunc, without the wrapper's checks)."""
    if _DET is None or a.dtype != np.float64 or a.ndim != 2:
        return np.linalg.det(a)
    return _DET(a, signature="d->d")


def similarity_fit(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares similarity transform (Umeyama) taking ``src`` points onto ``dst``.

    Args:
        src: (N, D) points.
        dst: (N, D) points.

    Returns:
        scale, rotation (D, D), translation (D,) such that ``scale * src @ R.T + t ~= dst``.
    """
    mu_d = dst.mean(0)
    return _fit(src, mu_d, dst - mu_d)


def _fit(src: np.ndarray, mu_d: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """:func:`similarity_fit` with the target's mean and centred points given (a fixed target: computed once)."""
    mu_s = src.mean(0)
    a = src - mu_s
    cov = b.T @ a / len(src)
    u, s, vt = svd(cov)
    d = np.ones(len(s))
    if det(u) * det(vt) < 0:
        d[-1] = -1.0
    r = u @ np.diag(d) @ vt
    var = (a**2).sum() / len(src)
    scale = float((s * d).sum() / var) if var > 0 else 1.0
    return scale, r, mu_d - scale * mu_s @ r.T


class FixedTarget:
    """A fixed set of target points (a face's reference, the crop template) for repeated similarity fits:
    its mean and centred points are computed once; :meth:`fit` gives what :func:`similarity_fit` gives."""

    def __init__(self, dst: np.ndarray) -> None:
        self.dst = np.asarray(dst, np.float64)
        self.mu_d = self.dst.mean(0)
        self.b = self.dst - self.mu_d

    def fit(self, src: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """``similarity_fit(src, dst)``."""
        return _fit(src, self.mu_d, self.b)


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
