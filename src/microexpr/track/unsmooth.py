"""Undo MediaPipe's video-mode landmark filter, so that landmarks follow the face without its lag.

In video mode with one face, MediaPipe's Face Landmarker passes its landmarks through a One Euro filter
(``LandmarksSmoothingCalculator``: min cutoff 0.05 Hz, beta 80, derivative cutoff 1 Hz, speeds in face sizes
per second). For the slow, small movements of a micro-expression the filter's cutoff stays near its minimum:
at 120 fps a landmark at rest moves about 0.3% of the way to its new position per frame. A faint 400 ms smile
then widens the mouth half as much and peaks 75 ms late, and a lid takes a second to settle after a blink. The
blendshapes come from the landmarks before the filter; only the landmarks lag.

The filter is a known recursion, so it can be run backwards: from the filtered value of a frame, the
filtered and raw values of the frame before and the filter's derivative state, the raw value solves a
quadratic (one per sign of the derivative). Where two roots fit, the smaller step is taken; the error this
leaves is a few hundredths of a pixel and does not grow (tests/track/test_unsmooth.py).
"""

from __future__ import annotations

import numpy as np

MIN_CUTOFF_HZ = 0.05
BETA = 80.0
DERIVATIVE_CUTOFF_HZ = 1.0
SCALE_EVERY = 8  # the face box is measured every this many frames (it moves the cutoff by well under 0.1%)


def _alpha(cutoff_hz: np.ndarray | float, rate_hz: float) -> np.ndarray | float:
    return 1.0 / (1.0 + rate_hz / (2.0 * np.pi * cutoff_hz))


def _object_scale(points: np.ndarray) -> float:
    """MediaPipe's object scale: the mean of the landmarks' bounding-box width and height, pixels."""
    lo, hi = points[:, :2].min(0), points[:, :2].max(0)
    return float(max(((hi - lo).sum()) / 2.0, 1e-6))


class OneEuro:
    """MediaPipe's landmark filter run forwards, on whole (N, 3) landmark arrays in pixels (for tests)."""

    def __init__(self) -> None:
        self._y: np.ndarray | None = None

    def __call__(self, raw: np.ndarray, t_s: float) -> np.ndarray:
        v = np.asarray(raw, np.float64)
        if self._y is None:
            self._y, self._raw, self._edx, self._t = v.copy(), v.copy(), np.zeros_like(v), t_s
            return v.copy()
        f = 1.0 / (t_s - self._t)
        self._t = t_s
        dv = (v - self._raw) * f / _object_scale(v)
        ad = _alpha(DERIVATIVE_CUTOFF_HZ, f)
        self._edx = ad * dv + (1.0 - ad) * self._edx
        a = _alpha(MIN_CUTOFF_HZ + BETA * np.abs(self._edx), f)
        self._y = a * v + (1.0 - a) * self._y
        self._raw = v
        return self._y.copy()


class Unsmoother:
    """The inverse of :class:`OneEuro`, frame by frame (causal: usable live).

    Call it with each frame's filtered landmarks and the timestamp MediaPipe was given; call :meth:`reset`
    when the face is lost (MediaPipe starts its filter again then).
    """

    def __init__(self) -> None:
        self._y: np.ndarray | None = None

    def reset(self) -> None:
        self._y = None

    def __call__(self, filtered: np.ndarray, t_s: float) -> np.ndarray:
        y = np.asarray(filtered, np.float64)
        if self._y is None or t_s <= self._t or y.shape != self._y.shape:
            self._y, self._raw, self._edx, self._t = y.copy(), y.copy(), np.zeros_like(y), t_s
            self._n = 0
            return y.copy()
        f = 1.0 / (t_s - self._t)
        ad = _alpha(DERIVATIVE_CUTOFF_HZ, f)
        k = f / (2.0 * np.pi)
        self._n += 1
        if self._n % SCALE_EVERY == 1:  # MediaPipe measures it on every frame; the box barely changes
            self._scale = _object_scale(y)
        scale = self._scale
        d = y - self._y
        p = ad * f / scale  # the filtered derivative is p * u + q for a raw step u from the last output
        q = (self._y - self._raw) * p
        q += (1.0 - ad) * self._edx
        bpd = (BETA * p) * d
        best = np.full(y.shape, np.inf)  # |u| of the root taken so far
        u = np.zeros(y.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            for s in (1.0, -1.0):
                # d = alpha(u) * u with alpha = c / (c + k), c = MIN_CUTOFF + BETA * s * (p u + q) and s the sign
                # of p u + q: A u^2 + B u + C = 0 with A = BETA s p, B = cq - d A, C = -d (cq + k). A root of
                # the right sign is an exact solution (u = d / alpha): no other check is needed
                two_a = 2.0 * BETA * s * p
                cq = (BETA * s) * q
                cq += MIN_CUTOFF_HZ
                b = cq - s * bpd
                disc = cq + k
                disc *= (2.0 * two_a) * d
                disc += b * b
                real = disc >= 0.0
                sq = np.sqrt(np.maximum(disc, 0.0, out=disc), out=disc)
                for sign in (1.0, -1.0):
                    r = sign * sq
                    r -= b
                    r /= two_a
                    e = p * r + q
                    take = real & ((e >= 0.0) if s > 0 else (e <= 0.0))
                    ar = np.abs(r)
                    take &= ar < best
                    np.copyto(u, r, where=take)
                    np.copyto(best, ar, where=take)
        still = d == 0.0
        best[still] = 0.0
        u[still] = 0.0
        lost = ~np.isfinite(best)
        if lost.any():  # no root passed the checks (rounding): the step the current derivative state gives
            u = np.where(lost, d / _alpha(MIN_CUTOFF_HZ + BETA * np.abs(q), f), u)
        x = self._y + u
        self._edx = p * u + q
        self._raw, self._y, self._t = x, y, t_s
        return x
