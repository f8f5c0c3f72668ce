"""AU intensity series with known pulses, for spotting tests."""

from __future__ import annotations

import numpy as np


def pulse_series(fps, pulses, n_s=6.0, noise=0.05, seed=0):
    """(t_s (T,), au (T, 17)): half-sine pulses (au index, onset_s, offset_s, peak) over rectified noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(n_s * fps)) / fps
    au = np.abs(rng.normal(0, noise, (len(t), 17)))
    for k, on, off, peak in pulses:
        inside = (t >= on) & (t <= off)
        au[inside, k] += peak * np.sin(np.pi * (t[inside] - on) / (off - on))
    return t, au
