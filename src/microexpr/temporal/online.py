"""Online spotting: events from a stream of analysed frames, each emitted as soon as it closes.

It runs the same algorithm as offline spotting (:mod:`microexpr.temporal.spotting`), one face at a time; an
event is known at most ``delay_ms`` after its offset (merge gap 60 ms + smoothing look-ahead 50 ms, plus up to
two frames; plus 250 ms when a tracking gap follows it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from microexpr.facs import AU_CODES
from microexpr.temporal.spotting import FaceSpotter, Noise, SpotOptions
from microexpr.types import Event

if TYPE_CHECKING:
    from microexpr.pipeline import FaceResult, FrameResult

_FLAGS = ("flag_blur", "flag_lighting", "flag_motion", "flag_occlusion")


def usable(face: FaceResult, opts: SpotOptions) -> bool:
    """Whether spotting may trust this face in this frame (tracked, calibrated, no quality flag)."""
    q = face.quality
    return (
        face.calibrated
        and face.confidence >= opts.min_confidence
        and not any(q.get(k, 0.0) > 0 for k in _FLAGS)
    )


class OnlineSpotter:
    """Spots every face in a stream of :class:`~microexpr.pipeline.FrameResult`.

    Args:
        options: spotting settings.
        noise: a known neutral noise per face id; a face without one learns it from its first
            ``options.neutral_ms`` of calibrated, usable frames.

    Example:
        >>> sp = OnlineSpotter()
        >>> for fr in iter_analyze("clip.mp4"):
        ...     for ev in sp.push(fr):
        ...         print(ev.kind, ev.onset_s, ev.au_codes)
        >>> late = sp.flush()
    """

    def __init__(self, options: SpotOptions | None = None, *, noise: dict[int, Noise] | None = None) -> None:
        self.options = options if options is not None else SpotOptions()
        self._noise = dict(noise or {})
        self._faces: dict[int, FaceSpotter] = {}

    @property
    def delay_ms(self) -> float:
        """Longest wait from an event's offset to its emission, plus up to two frames, with no gap after it."""
        return self.options.delay_ms

    @property
    def suppressed(self) -> int:
        """Candidates hidden by untrusted frames so far, over all faces."""
        return sum(f.suppressed for f in self._faces.values())

    def push(self, frame: FrameResult) -> list[Event]:
        """Add one analysed frame; returns the events that closed with it (in face id order)."""
        out: list[Event] = []
        started = set()
        for w in getattr(frame, "warmup", ()):  # a face just calibrated: spot it from its first frame
            if w.face_id in self._faces:
                continue
            sp = self._faces[w.face_id] = FaceSpotter(
                w.face_id,
                self.options,
                self._noise.get(w.face_id),
                neutral_frames=None if w.face_id in self._noise else w.frames[w.neutral],
            )
            for i in range(len(w.frames)):
                out += sp.push(int(w.frames[i]), float(w.t_s[i]), w.au[i], bool(w.usable[i]))
            started.add(w.face_id)
        for face in frame.faces:
            if face.face_id in started:  # its warm-up's last row is this frame
                continue
            sp = self._faces.get(face.face_id)
            if sp is None:
                if not face.calibrated:  # its neutral is still being learned: AUs are not comparable yet
                    continue
                sp = self._faces[face.face_id] = FaceSpotter(
                    face.face_id, self.options, self._noise.get(face.face_id)
                )
            au = np.array([face.au.get(c, np.nan) for c in AU_CODES], np.float64)
            out += sp.push(frame.index, frame.t_s, au, usable(face, self.options))
        return out

    def flush(self) -> list[Event]:
        """Close every face's open event at the end of the stream."""
        out: list[Event] = []
        for fid in sorted(self._faces):
            out += self._faces[fid].finish()
        return out
