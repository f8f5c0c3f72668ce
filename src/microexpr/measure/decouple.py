"""Pose decoupling: remove from a face's features the part that follows its head pose.

Rigid alignment removes head motion from the landmarks only up to the landmarker's own errors: turning the
head by a few degrees still moves the estimated lids, lip corners and crop flow (out-of-plane rotation is
not a similarity). Over a whole track, expressions come and go independently of small pose changes, so a
robust regression of each feature on the pose offset from the neutral pose (linear and quadratic terms)
finds that leak, and subtracting it leaves the expression.

Expressions that happen to come while the head is turned would be taken for leak (a 2 s brow raise during a
3 degree turn is a fifth of a 15 s track), so the analysis fits twice: the second fit leaves out the frames of
the events spotted after the first (and ``REFIT_MARGIN_MS`` around them), and subtracts the leak at the pose
interpolated across them (:func:`pose_across`): an expression moves the stable points as well, and the leak at
that measured pose would take part of the expression with it.
"""

from __future__ import annotations

import numpy as np

# below this (5-95 percentile range) the head holds still: nothing to learn. With MediaPipe's landmark filter
# undone, expressions alone move the stable points' pose by up to 1.8 degrees (12 rendered clips without head
# motion); the benchmark's head motion reads 4-5 degrees. At 2.0 the demo clip's 1.5-degree turns (2.1 degrees
# measured) set a fit off that took its brow raise and smile for the turn's leak.
MIN_POSE_SPREAD_DEG = 3.0
HUBER_K = 1.345  # robust weights: frames far off the fit (expressions) count less ...
# ... then, from the Huber fit, Tukey's biweight: frames more than this many robust standard deviations off the
# fit (expressions) do not count at all. Huber only down-weights them, and an expression that came at the same
# pose as the head's turn (a brow raise through a 3 degree yaw) still pulled the fit toward itself
TUKEY_C = 6.0
REFIT_MARGIN_MS = 100.0  # the second fit leaves out each first-pass event and this much on either side


def stable_rotation(landmarks: np.ndarray, reference: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(T, 3) rotation angles (radians, about x, y, z) of the rigid fit of each frame's stable points to the
    reference; NaN where not valid. Expressions barely move these points, unlike the landmarker's pose.

    Args:
        landmarks: (T, 478, 3) pixels.
        reference: (478, 3) the face's reference shape.
        valid: (T,) bool, frames with a face.
    """
    from microexpr.measure.align import STABLE, similarity_fit

    out = np.full((len(landmarks), 3), np.nan)
    dst = np.asarray(reference, np.float64)[list(STABLE)]
    for i in np.flatnonzero(valid):
        _, r, _ = similarity_fit(np.asarray(landmarks[i], np.float64)[list(STABLE)], dst)
        out[i] = (
            np.arctan2(r[2, 1], r[2, 2]),
            np.arcsin(np.clip(-r[2, 0], -1.0, 1.0)),
            np.arctan2(r[1, 0], r[0, 0]),
        )
    return out


def pose_terms(pose_rad: np.ndarray, neutral_pose_rad: np.ndarray, t_s: np.ndarray) -> np.ndarray:
    """(T, 9) regressors: pitch, yaw, roll offsets from the neutral pose (in 10 degree units), pitch^2,
    yaw^2, pitch x yaw, and the three rotation rates (100 deg/s units: the landmarker lags a moving head)."""
    d = (np.asarray(pose_rad, np.float64) - neutral_pose_rad) * (180.0 / np.pi) / 10.0
    rate = np.gradient(d * 10.0, np.asarray(t_s, np.float64), axis=0) / 100.0 if len(d) > 1 else 0.0 * d
    return np.column_stack(
        [
            d[:, 0],
            d[:, 1],
            d[:, 2],
            d[:, 0] ** 2,
            d[:, 1] ** 2,
            d[:, 0] * d[:, 1],
            rate[:, 0],
            rate[:, 1],
            rate[:, 2],
        ]
    )


def decoupling_applies(pose_rad: np.ndarray, fit_rows: np.ndarray, neutral_rows: np.ndarray) -> bool:
    """Whether there is a pose coupling to learn: enough trusted frames, a neutral stretch, and a head that
    moved at least ``MIN_POSE_SPREAD_DEG`` (5-95 percentile range) on some axis over the trusted frames."""
    pose = np.asarray(pose_rad, np.float64)
    ok = np.asarray(fit_rows, bool) & np.isfinite(pose).all(1)
    if ok.sum() < 30 or len(neutral_rows) == 0:
        return False
    spread = np.percentile(pose[ok], 95, axis=0) - np.percentile(pose[ok], 5, axis=0)
    return bool(np.max(np.abs(spread)) * 180.0 / np.pi >= MIN_POSE_SPREAD_DEG)


def remove_pose_coupling(
    features: np.ndarray,
    pose_rad: np.ndarray,
    t_s: np.ndarray,
    fit_rows: np.ndarray,
    neutral_rows: np.ndarray,
    *,
    iterations: int = 4,
    redescending: int = 6,
    subtract_at: np.ndarray | None = None,
) -> np.ndarray:
    """Features with their pose-following part removed.

    Args:
        features: (T, F) per-frame features of one face.
        pose_rad: (T, 3) head rotation Rx, Ry, Rz in radians.
        t_s: (T,) times in seconds (for the rotation rates).
        fit_rows: (T,) bool, frames trusted for the fit (tracked, not flagged).
        neutral_rows: positions of the neutral stretch (its median pose is the zero of the regressors).
        iterations: fits reweighted with Huber's weights (the first unweighted).
        redescending: fits after those reweighted with Tukey's biweight (``TUKEY_C``): frames far off the fit
            get no weight at all.
        subtract_at: (T, 3) the pose at which the fitted leak is subtracted, when it is not ``pose_rad``
            (the second fit: the pose across an expression taken from either side of it, see
            :func:`pose_across`).

    Returns:
        (T, F) corrected features (the input where the pose barely changed).
    """
    x = np.asarray(features, np.float64)
    pose = np.asarray(pose_rad, np.float64)
    ok = np.asarray(fit_rows, bool) & np.isfinite(pose).all(1) & np.isfinite(x).all(1)
    if not decoupling_applies(pose, ok, neutral_rows):
        return x
    zero = np.median(pose[neutral_rows], axis=0)
    a = pose_terms(np.where(np.isfinite(pose), pose, zero), zero, t_s)
    a_fit, y = a[ok], x[ok] - np.median(x[neutral_rows], axis=0)
    w = np.ones((len(y), y.shape[1]))
    coef = np.zeros((a.shape[1], y.shape[1]))
    rounds = iterations + redescending
    for k in range(rounds):
        for j in range(y.shape[1]):  # one weighted least squares per feature
            sw = np.sqrt(w[:, j])
            coef[:, j] = np.linalg.lstsq(a_fit * sw[:, None], y[:, j] * sw, rcond=None)[0]
        if k == rounds - 1:
            break
        r = y - a_fit @ coef
        scale = 1.4826 * np.median(np.abs(r), axis=0) + 1e-9
        if k < iterations:
            u = np.abs(r) / (HUBER_K * scale)
            w = np.where(u <= 1.0, 1.0, 1.0 / np.maximum(u, 1e-9))
        else:
            u = np.abs(r) / (TUKEY_C * scale)
            w = np.where(u < 1.0, (1.0 - u**2) ** 2, 0.0)
    if subtract_at is not None:
        at = np.asarray(subtract_at, np.float64)
        a = pose_terms(np.where(np.isfinite(at), at, zero), zero, t_s)
    out = x.copy()
    valid = np.isfinite(pose).all(1)
    out[valid] -= a[valid] @ coef
    return out


def pose_across(pose_rad: np.ndarray, busy: np.ndarray) -> np.ndarray:
    """(T, 3) the pose with each stretch of ``busy`` frames replaced by a straight line between the frames on
    either side (before the first or after the last quiet frame: held). An expression moves the stable points
    too (a brow raise reads as up to 1-2 degrees of pitch, a blink as 1 degree the other way), so where one was
    found the head's own pose is taken from around it."""
    pose = np.asarray(pose_rad, np.float64)
    out = pose.copy()
    quiet = ~np.asarray(busy, bool) & np.isfinite(pose).all(1)
    fill = np.asarray(busy, bool) & np.isfinite(pose).all(1)
    if quiet.sum() < 2 or not fill.any():
        return out
    idx = np.arange(len(pose))
    for j in range(pose.shape[1]):
        out[fill, j] = np.interp(idx[fill], idx[quiet], pose[quiet, j])
    return out
