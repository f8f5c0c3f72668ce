"""Action Unit intensity curves over time: smooth onset, apex and offset on the FACS 0-5 scale."""

from __future__ import annotations

import math

import numpy as np

from microexpr.errors import OptionError


def au_pulse(
    n_frames: int, fps: float, *, onset_s: float, apex_s: float, offset_s: float, peak: float
) -> np.ndarray:
    """A smooth 0 -> peak -> 0 intensity curve.

    The intensity rises from 0 at ``onset_s`` to ``peak`` at ``apex_s`` and falls back to 0 at ``offset_s``,
    each ramp a half cosine (zero slope at both ends). Frame ``i`` is sampled at ``t = i / fps``.

    Args:
        n_frames: number of frames (>= 0).
        fps: frame rate in frames/s.
        onset_s: time the movement starts, in seconds.
        apex_s: time of the peak, in seconds (``onset_s <= apex_s <= offset_s``).
        offset_s: time the face is back at rest, in seconds.
        peak: intensity at the apex on the FACS 0-5 scale.

    Returns:
        (n_frames,) float32 intensities, 0 outside ``[onset_s, offset_s]``.

    Raises:
        OptionError: times out of order, fps not positive, or peak outside [0, 5].
    """
    if n_frames < 0:
        raise OptionError(f"n_frames must be >= 0, but got {n_frames}")
    if not (math.isfinite(fps) and fps > 0):
        raise OptionError(f"fps must be a positive number, but got {fps}")
    if not onset_s <= apex_s <= offset_s:
        raise OptionError(
            f"times must satisfy onset <= apex <= offset, but got {onset_s}, {apex_s}, {offset_s}"
        )
    if not 0.0 <= peak <= 5.0:
        raise OptionError(f"peak must be on the FACS 0-5 scale, but got {peak}")
    t = np.arange(n_frames) / float(fps)
    out = np.zeros(n_frames, np.float64)
    if apex_s > onset_s:
        rise = (t >= onset_s) & (t <= apex_s)
        out[rise] = 0.5 - 0.5 * np.cos(np.pi * (t[rise] - onset_s) / (apex_s - onset_s))
    if offset_s > apex_s:
        fall = (t >= apex_s) & (t <= offset_s)
        out[fall] = 0.5 + 0.5 * np.cos(np.pi * (t[fall] - apex_s) / (offset_s - apex_s))
    out[np.isclose(t, apex_s, rtol=0.0, atol=1e-9)] = 1.0
    return (peak * out).astype(np.float32)
