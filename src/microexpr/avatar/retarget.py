"""Per-frame retargeting to a rig: weighted sources, per-channel gain, clamp, then exponential smoothing.

Smoothing is a one-pole low-pass filter with time constant ``smoothing_ms`` (tau), run on the frames' own
timestamps (so any frame rate gives the same response). Its stated latency is tau: for a step input the output
reaches 63 % of the step tau after it (half of it after tau * ln 2), and the mean delay of its impulse
response is tau. ``smoothing_ms=0`` passes values straight through (no latency).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from microexpr.avatar.rig import SOURCE_NAMES, Rig, load_rig
from microexpr.errors import OptionError
from microexpr.facs import AU_CODES, BLENDSHAPE_NAMES

_N_BS = len(BLENDSHAPE_NAMES) - 1  # MediaPipe's 52 scores less _neutral
MAX_GAIN = 100.0
MAX_SMOOTHING_MS = 2000.0


def parse_gain(text: str) -> tuple[float, dict[str, float]]:
    """Parse ``--gain``: ``"2"`` (every channel), ``"Joy=3,Angry=2"`` or ``"1.5,mouthSmileLeft=3"``.

    Returns:
        (global gain, per-channel gains).

    Raises:
        OptionError: a value that is not a finite number in (0, 100].
    """
    overall, per = 1.0, {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, _, value = part.rpartition("=")
        try:
            g = float(value)
        except ValueError:
            raise OptionError(f"--gain: {part!r} is not NUMBER or CHANNEL=NUMBER") from None
        if not (math.isfinite(g) and 0.0 < g <= MAX_GAIN):
            raise OptionError(f"--gain: {part!r} must be a number in (0, {MAX_GAIN:g}]")
        if name:
            per[name.strip()] = g
        else:
            overall = g
    return overall, per


class Retargeter:
    """Turns one face's per-frame signals into rig channel values.

    Args:
        rig: a :class:`Rig` or a built-in name / file path for :func:`load_rig`.
        gain: multiplier for every channel, on top of the rig's own gains.
        channel_gain: extra multiplier per channel name (names must exist in the rig).
        smoothing_ms: time constant of the low-pass filter in ms (0: none); the stated latency.

    Example:
        >>> rt = Retargeter("vrm1", gain=2.0, smoothing_ms=30)
        >>> values = rt(t_s, face.blendshapes, face.au)   # {"happy": 0.4, ...}
    """

    def __init__(
        self,
        rig: Rig | str,
        *,
        gain: float = 1.0,
        channel_gain: Mapping[str, float] | None = None,
        smoothing_ms: float = 0.0,
    ) -> None:
        self.rig = rig if isinstance(rig, Rig) else load_rig(rig)
        if not (math.isfinite(gain) and 0.0 < gain <= MAX_GAIN):
            raise OptionError(f"gain must be in (0, {MAX_GAIN:g}], but got {gain}")
        if not (math.isfinite(smoothing_ms) and 0.0 <= smoothing_ms <= MAX_SMOOTHING_MS):
            raise OptionError(
                f"smoothing must be between 0 and {MAX_SMOOTHING_MS:g} ms, but got {smoothing_ms}"
            )
        g = self.rig.gain * gain
        for name, v in (channel_gain or {}).items():
            if name not in self.rig.channels:
                raise OptionError(
                    f"--gain names channel {name!r}, which rig {self.rig.name!r} does not have "
                    f"(it has {', '.join(self.rig.channels[:6])}, ...)"
                )
            g = g.copy()
            g[self.rig.channels.index(name)] *= v
        self._m = self.rig.weights * g[:, None]
        self.smoothing_ms = float(smoothing_ms)
        self._state: np.ndarray | None = None
        self._t_s: float | None = None

    @property
    def channels(self) -> tuple[str, ...]:
        return self.rig.channels

    @property
    def latency_ms(self) -> float:
        """The smoothing's stated latency: its time constant (mean delay of the impulse response)."""
        return self.smoothing_ms

    def reset(self) -> None:
        """Forget the filter state (a new face, or a gap in tracking)."""
        self._state = None
        self._t_s = None

    def sources(
        self,
        blendshapes: np.ndarray | Mapping[str, float],
        au: Mapping[str, float],
        *,
        neutral: np.ndarray | None = None,
    ) -> np.ndarray:
        """The source vector (SOURCE_NAMES order, each on 0-1) from 52 MediaPipe scores and AU intensities.

        With ``neutral`` (52 scores of the face at rest), each score is made relative to it:
        ``(score - neutral) / (1 - neutral)``, clipped to [0, 1], so that a resting face drives nothing.
        """
        v = np.zeros(len(SOURCE_NAMES))
        if isinstance(blendshapes, Mapping):
            for i, n in enumerate(SOURCE_NAMES[:_N_BS]):
                v[i] = float(blendshapes.get(n, 0.0))
        else:
            bs = np.asarray(blendshapes, np.float64)
            if bs.shape != (_N_BS + 1,):
                raise ValueError(f"blendshapes must have shape (52,) in MediaPipe order, but got {bs.shape}")
            v[:_N_BS] = bs[1:]
            if neutral is not None:
                n0 = np.clip(np.asarray(neutral, np.float64)[1:], 0.0, 0.99)
                v[:_N_BS] = np.clip((v[:_N_BS] - n0) / (1.0 - n0), 0.0, 1.0)
        for k, c in enumerate(AU_CODES):
            v[_N_BS + k] = float(au.get(c, 0.0)) / 5.0
        return np.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0)

    def values(self, t_s: float, sources: np.ndarray) -> np.ndarray:
        """Channel values (rig order) for one frame's source vector at time ``t_s``."""
        x = np.clip(self._m @ sources, self.rig.lo, self.rig.hi)
        if self.smoothing_ms > 0.0:
            if self._state is None or self._t_s is None or t_s <= self._t_s:
                self._state = x
            else:
                a = 1.0 - math.exp(-(t_s - self._t_s) * 1000.0 / self.smoothing_ms)
                self._state = self._state + a * (x - self._state)
            self._t_s = t_s
            x = self._state
        return x

    def __call__(
        self, t_s: float, blendshapes: np.ndarray | Mapping[str, float], au: Mapping[str, float]
    ) -> dict[str, float]:
        """Channel name -> value for one frame."""
        x = self.values(t_s, self.sources(blendshapes, au))
        return dict(zip(self.rig.channels, x.tolist()))
