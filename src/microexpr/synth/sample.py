"""The project's demo clip: a real face, a neutral start, then a few known expressions with small head motion."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from microexpr.errors import OptionError
from microexpr.synth.curves import au_pulse


@dataclass(frozen=True)
class SampleEvent:
    """One expression in the sample clip (the truth a test or a demo can check against).

    Attributes:
        label: a short name ("brow raise").
        kind: "macro", "micro" or "blink".
        aus: AU code -> peak intensity on the FACS 0-5 scale.
        onset_s: start of the movement, seconds.
        apex_s: peak, seconds.
        offset_s: back at rest, seconds.
    """

    label: str
    kind: str
    aus: tuple[tuple[str, float], ...]
    onset_s: float
    apex_s: float
    offset_s: float

    @property
    def duration_ms(self) -> float:
        return (self.offset_s - self.onset_s) * 1000.0


SAMPLE_EVENTS: tuple[SampleEvent, ...] = (
    SampleEvent("brow raise", "macro", (("AU01", 3.0), ("AU02", 2.5)), 2.2, 2.7, 3.4),
    SampleEvent("smile", "macro", (("AU12", 3.5), ("AU06", 2.0)), 3.8, 4.3, 5.1),
    SampleEvent("blink", "blink", (("AU45", 5.0),), 5.4, 5.5, 5.65),
    SampleEvent("frown", "macro", (("AU04", 3.0),), 5.9, 6.3, 6.9),
    SampleEvent("micro smile", "micro", (("AU12", 1.5), ("AU06", 1.0)), 7.2, 7.32, 7.45),
)
NEUTRAL_UNTIL_S = 2.2  # no AU moves before this time (the baseline)


def sample_curves(n_frames: int, fps: float) -> dict[str, np.ndarray]:
    """The sample clip's AU curves: AU code -> (n_frames,) float32 intensities (events past the end are cut)."""
    curves: dict[str, np.ndarray] = {}
    for ev in SAMPLE_EVENTS:
        for code, peak in ev.aus:
            pulse = au_pulse(
                n_frames, fps, onset_s=ev.onset_s, apex_s=ev.apex_s, offset_s=ev.offset_s, peak=peak
            )
            curves[code] = np.maximum(curves.get(code, np.zeros(n_frames, np.float32)), pulse)
    return curves


def sample_head_motion(n_frames: int, fps: float) -> dict[str, np.ndarray]:
    """The sample clip's slow, small head motion: yaw_deg, pitch_deg, roll_deg (n_frames,) each, in degrees."""
    t = np.arange(n_frames) / float(fps)
    return {
        "yaw_deg": 1.5 * np.sin(2 * math.pi * 0.15 * t),
        "pitch_deg": 1.0 * np.sin(2 * math.pi * 0.11 * t + 1.0) - 1.0 * math.sin(1.0),
        "roll_deg": 0.8 * np.sin(2 * math.pi * 0.07 * t + 2.0) - 0.8 * math.sin(2.0),
    }


def make_sample_video(
    path: Path, *, fps: float = 30.0, seconds: float = 8.0, face: str = "astronaut"
) -> Path:
    """Render the demo clip (H.264, one key frame, visually lossless) to ``path``.

    The face is neutral for the first 2.2 s (a baseline), then shows the :data:`SAMPLE_EVENTS`: a brow raise
    (AU01+AU02), a smile (AU12+AU06), a blink (AU45, 250 ms), a frown (AU04) and a 250 ms low-intensity smile
    micro-expression (AU12+AU06), while the head turns, nods and tilts by a degree or two.

    Args:
        path: output video file (".mp4").
        fps: frame rate in frames/s (15 to 240).
        seconds: length of the clip; events after the end are cut.
        face: a sample face name ("astronaut" or "hopper").

    Returns:
        ``path``.
    """
    from microexpr.synth.clip import render_clip
    from microexpr.synth.photos import sample_face
    from microexpr.synth.videowrite import write_video

    if not 15.0 <= fps <= 240.0:
        raise OptionError(f"fps must be between 15 and 240 for the sample clip, but got {fps}")
    if not 0.5 <= seconds <= 600.0:
        raise OptionError(f"seconds must be between 0.5 and 600, but got {seconds}")
    n = int(round(seconds * fps))
    photo = sample_face(face)
    frames = render_clip(photo, sample_curves(n, fps), fps=fps, **sample_head_motion(n, fps))
    return write_video(frames, Path(path), fps=fps)
