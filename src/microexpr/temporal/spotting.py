"""Offline spotting: onset, apex and offset of expressions in each face's AU intensities.

Every window is set in milliseconds, and thresholds relative to the subject's own noise on the neutral
stretch, so the same settings work at 30 and at 200 fps. Frames that quality flags mark (fast head motion,
a light jump, blur) or with low tracking confidence cannot carry an event: they are set to rest and the
suppression is counted. Blinks (AU45 dominant) are reported as their own kind.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from microexpr.facs import AU_CODES
from microexpr.types import Event

AU45 = AU_CODES.index("AU45")


@dataclass(frozen=True)
class SpotOptions:
    """Spotting settings (times in ms, thresholds in AU intensity or multiples of the neutral noise)."""

    smooth_ms: float = 15.0  # Gaussian smoothing sigma; centred, so offline spotting adds no lag
    baseline_ms: float = 4000.0  # a rolling low percentile over this window is the local rest level
    baseline_pct: float = 10.0
    # An AU is active above its rest level + noise_k * its noise (the larger of the neutral stretch's std and
    # the whole track's robust spread, so that motion the neutral stretch did not have counts) ...
    noise_k: float = 4.0
    min_level: float = 1.0  # ... and never below FACS trace level
    release: float = 0.5  # an event spans the frames above release * threshold around a peak (hysteresis)
    merge_gap_ms: float = 60.0  # gaps shorter than this inside one movement are bridged
    min_duration_ms: float = 40.0  # shorter blips are noise
    micro_max_ms: float = 500.0  # micro-expressions last at most this long (the research convention)
    min_confidence: float = 0.5  # tracking confidence below this makes a frame unusable


def _smooth(x: np.ndarray, sigma_frames: float) -> np.ndarray:
    if sigma_frames < 0.5:
        return x
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(x, sigma_frames, axis=0, mode="nearest")


def _rolling_percentile(x: np.ndarray, window: int, pct: float) -> np.ndarray:
    """Centred rolling percentile per column: slow drifts (a landmark that recovers slowly after a blink, a
    lasting head-pose offset) become the rest level instead of one long event."""
    import pandas as pd

    if window < 3:
        return np.zeros_like(x)
    return pd.DataFrame(x).rolling(window, center=True, min_periods=1).quantile(pct / 100.0).to_numpy()


def _segments(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) runs of True."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def spot_face(
    face_id: int,
    frame: np.ndarray,
    t_s: np.ndarray,
    au: np.ndarray,
    usable: np.ndarray,
    neutral_rows: np.ndarray,
    opts: SpotOptions = SpotOptions(),
) -> tuple[list[Event], int]:
    """Events of one face.

    Args:
        face_id: the face.
        frame: (T,) frame indices of the face's rows.
        t_s: (T,) times in seconds.
        au: (T, n_au) AU intensities (NaN where not tracked).
        usable: (T,) bool, False where flags or low confidence make the frame untrustworthy.
        neutral_rows: positions of the neutral stretch (for each AU's noise level).
        opts: settings.

    Returns:
        (events, number of candidate peaks suppressed by unusable frames).
    """
    n = len(t_s)
    if n < 3:
        return [], 0
    dt = float(np.median(np.diff(t_s)))
    x = np.nan_to_num(np.asarray(au, np.float64))
    x = _smooth(x, opts.smooth_ms / 1000.0 / dt)
    x = np.maximum(
        x - _rolling_percentile(x, int(round(opts.baseline_ms / 1000.0 / dt)), opts.baseline_pct), 0.0
    )
    ref = x[neutral_rows] if len(neutral_rows) > 1 else x
    usable_x = x[usable] if usable.sum() > 2 else x
    robust = 1.4826 * np.median(np.abs(usable_x - np.median(usable_x, 0)), 0)
    thr = np.maximum(ref.mean(0) + opts.noise_k * np.maximum(ref.std(0), robust), opts.min_level)
    ratio = x / thr
    score = ratio.max(1)
    suppressed_mask = (score >= 1.0) & ~usable
    score = np.where(usable, score, 0.0)
    active = score >= opts.release
    gap = max(1, int(round(opts.merge_gap_ms / 1000.0 / dt)))
    runs = _segments(active)
    merged: list[list[int]] = []
    for a, b in runs:
        if merged and a - merged[-1][1] <= gap:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    events: list[Event] = []
    for a, b in merged:
        seg = score[a:b]
        if seg.max() < 1.0:
            continue  # never crossed the threshold: rest noise
        if (t_s[b - 1] - t_s[a]) * 1000.0 < opts.min_duration_ms:
            continue
        apex = a + int(np.argmax(seg))
        on, off = a, b - 1
        involved = np.flatnonzero(ratio[apex] >= 1.0)
        top = int(np.argmax(ratio[apex]))
        duration_ms = (t_s[off] - t_s[on]) * 1000.0  # as Event.duration_ms reports it
        if top == AU45:
            kind = "blink"
        else:
            kind = "micro" if duration_ms <= opts.micro_max_ms else "macro"
            involved = involved[involved != AU45]
        conf = float(np.clip(1.0 - 1.0 / max(seg.max(), 1e-6), 0.0, 1.0))
        events.append(
            Event(
                face_id,
                kind,
                int(frame[on]),
                int(frame[apex]),
                int(frame[off]),
                float(t_s[on]),
                float(t_s[apex]),
                float(t_s[off]),
                tuple(AU_CODES[i] for i in involved),
                None,
                round(conf, 3),
            )
        )
    suppressed = sum(1 for a, b in _segments(suppressed_mask))
    return events, suppressed
