"""Adapter around MediaPipe's Face Landmarker: RGB frames in, :class:`FaceObservation` lists out.

The adapter is the only place that imports MediaPipe. It is a context manager, so the native graph is
closed deterministically (MediaPipe's own ``__del__`` can fail at interpreter exit).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import numpy as np

from microexpr.track.model import require_model
from microexpr.types import N_BLENDSHAPES, N_LANDMARKS, FaceObservation

Mode = Literal["video", "image"]
PRIME_FRAMES = 8  # video mode: the first frame is shown this many times first (see FaceLandmarker._prime)
PRIME_STEP_MS = 33


class FaceLandmarker:
    """Finds up to ``max_faces`` faces per frame and returns their landmarks, blendshapes and transforms.

    Args:
        model_path: the ``face_landmarker.task`` file; default the hash-checked one in the model folder.
        max_faces: most faces returned per frame.
        mode: "video" tracks between consecutive frames (timestamps must increase); "image" detects
            every frame afresh (photos; slower, no temporal smoothing).
        min_detection_confidence: detector threshold in [0, 1].
        min_tracking_confidence: below this the video mode re-runs detection.
    """

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        max_faces: int = 1,
        mode: Mode = "video",
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
    ) -> None:
        if max_faces < 1:
            raise ValueError(f"max_faces must be at least 1, but got {max_faces}")
        if mode not in ("video", "image"):
            raise ValueError(f"mode must be 'video' or 'image', but got {mode!r}")
        path = require_model(model_path)
        from mediapipe.tasks.python import BaseOptions, vision

        self.mode = mode
        self.max_faces = max_faces
        self._last_ts_ms = -1
        self._offset_ms = 0
        opts = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            running_mode=vision.RunningMode.VIDEO if mode == "video" else vision.RunningMode.IMAGE,
            num_faces=max_faces,
            min_face_detection_confidence=min_detection_confidence,
            min_face_presence_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        with _native_stderr_silenced():
            self._lm = vision.FaceLandmarker.create_from_options(opts)
            self._warm = False

    def __enter__(self) -> FaceLandmarker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._lm is not None:
            self._lm.close()
            self._lm = None

    def _prime(self, image: np.ndarray, t_s: float) -> None:
        """Show the first frame a few times before its own time, so that video mode's temporal filter starts
        settled instead of drifting over the first ~10 frames (which would look like small expressions)."""
        import mediapipe as mp

        mp_image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))
        self._offset_ms = PRIME_FRAMES * PRIME_STEP_MS
        for k in range(PRIME_FRAMES):
            self._lm.detect_for_video(mp_image, int(round(t_s * 1000.0)) + k * PRIME_STEP_MS)
        self._last_ts_ms = int(round(t_s * 1000.0)) + (PRIME_FRAMES - 1) * PRIME_STEP_MS

    def detect(self, image: np.ndarray, t_s: float = 0.0) -> list[FaceObservation]:
        """Faces in one frame.

        Args:
            image: (H, W, 3) uint8 RGB.
            t_s: presentation time in seconds (video mode: must increase; equal or earlier times are nudged
                forward by 1 ms, since MediaPipe refuses them).

        Returns:
            One observation per face (face_id -1: ids come from the tracker), in the model's order.
        """
        import mediapipe as mp

        if self._lm is None:
            raise RuntimeError("FaceLandmarker is closed")
        h, w = image.shape[:2]
        mp_image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))
        if not self._warm:  # the first inference prints TFLite's delegate banner on fd 2
            self._warm = True
            with _native_stderr_silenced():
                if self.mode == "video":
                    self._prime(image, t_s)
                return self.detect(image, t_s)
        if self.mode == "video":
            ts = int(round(t_s * 1000.0)) + self._offset_ms
            if ts <= self._last_ts_ms:
                ts = self._last_ts_ms + 1
            self._last_ts_ms = ts
            result = self._lm.detect_for_video(mp_image, ts)
        else:
            result = self._lm.detect(mp_image)
        return convert_result(result, w, h)


_silence_lock = threading.Lock()
_silence = {"depth": 0, "saved": -1}  # one redirection shared by every thread that asks for it


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Silence what MediaPipe's C++ side writes to file descriptor 2 (glog lines no flag turns off).

    Python-level errors still propagate as exceptions with their messages. Reference counted: with several
    landmarker threads starting at once, the first one in saves the real fd 2 and the last one out restores it
    (each saving and restoring its own copy would leave stderr silenced for good).
    """
    with _silence_lock:
        if _silence["depth"] == 0:
            try:
                sys.stderr.flush()
                saved = os.dup(2)
            except (OSError, ValueError):
                saved = -1
            if saved >= 0:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 2)
                os.close(devnull)
            _silence["saved"] = saved
        _silence["depth"] += 1
    try:
        yield
    finally:
        with _silence_lock:
            _silence["depth"] -= 1
            if _silence["depth"] == 0 and _silence["saved"] >= 0:
                os.dup2(_silence["saved"], 2)
                os.close(_silence["saved"])
                _silence["saved"] = -1


def convert_result(result: object, width: int, height: int) -> list[FaceObservation]:
    """MediaPipe's result object -> observations with landmarks in pixels."""
    faces: list[FaceObservation] = []
    scale = np.array([width, height, width], np.float32)
    for i, lms in enumerate(result.face_landmarks):  # type: ignore[attr-defined]
        pts = np.array([(p.x, p.y, p.z) for p in lms], np.float32)
        if pts.shape != (N_LANDMARKS, 3):
            continue
        pts *= scale
        bs = np.zeros(N_BLENDSHAPES, np.float32)
        if result.face_blendshapes and i < len(result.face_blendshapes):  # type: ignore[attr-defined]
            for c in result.face_blendshapes[i]:  # type: ignore[attr-defined]
                if 0 <= c.index < N_BLENDSHAPES:
                    bs[c.index] = c.score
        mats = result.facial_transformation_matrixes  # type: ignore[attr-defined]
        tf = np.asarray(mats[i], np.float32) if mats and i < len(mats) else np.eye(4, dtype=np.float32)
        faces.append(FaceObservation(-1, pts, np.clip(bs, 0.0, 1.0), tf, 1.0))
    return faces


def detect_image(
    image: np.ndarray, *, max_faces: int = 1, model_path: Path | None = None
) -> list[FaceObservation]:
    """One-shot detection on a still image (image mode)."""
    with FaceLandmarker(model_path, max_faces=max_faces, mode="image") as lm:
        return lm.detect(image)
