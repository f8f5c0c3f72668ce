"""Frozen data types that flow between the stages of the pipeline.

Each type validates itself once, in ``__post_init__``, and makes its arrays read-only, so that a stage can
never change what an earlier stage produced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

N_LANDMARKS = 478
N_BLENDSHAPES = 52


def _frozen_array(name: str, value: np.ndarray, shape: tuple[int | None, ...], dtype: type) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise TypeError(
            f"{name} must be a np.ndarray with shape {_fmt(shape)}, but got {type(value).__name__}"
        )
    if value.ndim != len(shape) or any(s is not None and s != v for s, v in zip(shape, value.shape)):
        raise ValueError(f"{name} must be a np.ndarray with shape {_fmt(shape)}, but got shape {value.shape}")
    arr = np.array(value, dtype=dtype, copy=True)
    arr.setflags(write=False)
    return arr


def _fmt(shape: tuple[int | None, ...]) -> str:
    return (
        "(" + ", ".join("_" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
    )


@dataclass(frozen=True)
class VideoInfo:
    """What is known about a source before decoding it.

    Attributes:
        path: the file or folder read.
        fps: average frame rate in frames/s (the stream may still be variable; times come from timestamps).
        frame_count: number of frames if known (0 when the source is empty, None when unknown).
        width: frame width in pixels.
        height: frame height in pixels.
        codec: codec name ("h264", "mjpeg", "image-sequence", "images").
        duration_s: duration in seconds if known.
    """

    path: Path
    fps: float
    frame_count: int | None
    width: int
    height: int
    codec: str
    duration_s: float | None = None

    def __post_init__(self) -> None:
        if not (self.fps > 0 and np.isfinite(self.fps)):
            raise ValueError(f"fps must be a positive finite number, but got {self.fps}")
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"width and height must be positive, but got {self.width}x{self.height}")


@dataclass(frozen=True)
class Frame:
    """One decoded frame.

    Attributes:
        index: 0-based position of the frame in the whole source, in presentation order (--start does not
            change it: the first frame kept after --start 2 at 30 fps has index 60).
        t_s: presentation time in seconds, from the container's timestamps.
        image: (H, W, 3) uint8 RGB.
        name: source file name for image folders, else "".
    """

    index: int
    t_s: float
    image: np.ndarray
    name: str = ""

    def __post_init__(self) -> None:
        img = self.image
        if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            got = getattr(img, "shape", type(img).__name__), getattr(img, "dtype", "")
            raise ValueError(f"image must be a uint8 np.ndarray with shape (_, _, 3), but got {got}")
        if img.flags.writeable:
            # no copy: frames are large and made by the source; read-only is the contract
            img.setflags(write=False)


@dataclass(frozen=True)
class FaceObservation:
    """One face in one frame, as the landmark model saw it.

    Attributes:
        face_id: stable id of the person across frames (-1 before the tracker assigned one).
        landmarks_px: (478, 3) float32; x, y in pixels, z in pixels on the x scale (MediaPipe's convention).
        blendshapes: (52,) float32 scores in [0, 1], MediaPipe's order (see facs.BLENDSHAPE_NAMES).
        transform: (4, 4) float32 facial transformation matrix (canonical face -> camera, centimetres).
        confidence: tracking confidence in [0, 1].
    """

    face_id: int
    landmarks_px: np.ndarray
    blendshapes: np.ndarray
    transform: np.ndarray
    confidence: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "landmarks_px",
            _frozen_array("landmarks_px", self.landmarks_px, (N_LANDMARKS, 3), np.float32),
        )
        object.__setattr__(
            self, "blendshapes", _frozen_array("blendshapes", self.blendshapes, (N_BLENDSHAPES,), np.float32)
        )
        object.__setattr__(self, "transform", _frozen_array("transform", self.transform, (4, 4), np.float32))
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be in [0, 1], but got {self.confidence}")

    def with_id(self, face_id: int, confidence: float | None = None) -> FaceObservation:
        """Return a copy carrying another face id (and optionally another confidence); the read-only arrays
        are shared, not copied."""
        c = self.confidence if confidence is None else confidence
        if not 0.0 <= c <= 1.0:
            raise ValueError(f"confidence must be in [0, 1], but got {c}")
        new = object.__new__(FaceObservation)
        for name, value in (
            ("face_id", face_id),
            ("landmarks_px", self.landmarks_px),
            ("blendshapes", self.blendshapes),
            ("transform", self.transform),
            ("confidence", c),
        ):
            object.__setattr__(new, name, value)
        return new


@dataclass(frozen=True)
class AUSeries:
    """Action Unit intensities of one face over time.

    Attributes:
        face_id: the face.
        t_s: (T,) float64 times in seconds.
        au_codes: names of the columns ("AU01", ...).
        intensity: (T, n_au) float32 on the FACS 0-5 scale.
        presence: (T, n_au) bool.
        valid: (T,) bool, False where the face was not tracked.
    """

    face_id: int
    t_s: np.ndarray
    au_codes: tuple[str, ...]
    intensity: np.ndarray
    presence: np.ndarray
    valid: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.au_codes)
        object.__setattr__(self, "t_s", _frozen_array("t_s", self.t_s, (None,), np.float64))
        t = len(self.t_s)
        object.__setattr__(self, "intensity", _frozen_array("intensity", self.intensity, (t, n), np.float32))
        object.__setattr__(self, "presence", _frozen_array("presence", self.presence, (t, n), bool))
        object.__setattr__(self, "valid", _frozen_array("valid", self.valid, (t,), bool))


@dataclass(frozen=True)
class Event:
    """One spotted expression (produced by the spotting stage)."""

    face_id: int
    kind: str
    onset_frame: int
    apex_frame: int
    offset_frame: int
    onset_s: float
    apex_s: float
    offset_s: float
    au_codes: tuple[str, ...] = field(default_factory=tuple)
    emotion: str | None = None
    confidence: float = 0.0
    truncated: bool = False  # its offset fell in a tracking gap: offset_* is the last frame seen before it,
    # and the movement went on for an unknown time (only macro-expressions are reported so)

    def __post_init__(self) -> None:
        if self.kind not in ("micro", "macro", "blink"):
            raise ValueError(f"kind must be 'micro', 'macro' or 'blink', but got {self.kind!r}")
        if not self.onset_frame <= self.apex_frame <= self.offset_frame:
            raise ValueError(
                f"frames must satisfy onset <= apex <= offset, but got {self.onset_frame}, {self.apex_frame}, "
                f"{self.offset_frame}"
            )

    @property
    def duration_ms(self) -> float:
        return (self.offset_s - self.onset_s) * 1000.0
