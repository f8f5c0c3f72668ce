"""Adapter around MediaPipe's Face Landmarker: RGB frames in, :class:`FaceObservation` lists out.

The adapter is the only place that imports MediaPipe. It is a context manager, so the native graph is
closed deterministically (MediaPipe's own ``__del__`` can fail at interpreter exit).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import numpy as np

from microexpr.track.model import require_model
from microexpr.track.unsmooth import Unsmoother
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
        fast: read MediaPipe's results straight into arrays (:class:`_FastDetect`) where this MediaPipe allows
            it; False always takes MediaPipe's own Python objects (same arrays, slower).
        undo_filter: video mode with one face: undo MediaPipe's landmark filter (:mod:`microexpr.track.unsmooth`),
            whose lag at low speeds damps and delays micro-expressions; False keeps MediaPipe's landmarks as they
            come (MediaPipe filters only when ``max_faces`` is 1, so with more faces there is nothing to undo).
    """

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        max_faces: int = 1,
        mode: Mode = "video",
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        fast: bool = True,
        undo_filter: bool = True,
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
        self._unsmoother = Unsmoother() if undo_filter and mode == "video" and max_faces == 1 else None
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
        self._call_lock = threading.Lock()  # a direct call (see _FastDetect) never runs alongside close()
        self._fast = _FastDetect.wrap(self._lm, mode, self._call_lock) if fast else None

    def __enter__(self) -> FaceLandmarker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._call_lock:
            if self._lm is not None:
                self._lm.close()
                self._lm = None

    def _prime(self, image: np.ndarray, t_s: float) -> None:
        """Show the first frame a few times before its own time, so that video mode's temporal filter starts
        settled instead of drifting over the first ~10 frames (which would look like small expressions)."""
        import mediapipe as mp

        mp_image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))
        self._offset_ms = PRIME_FRAMES * PRIME_STEP_MS
        h, w = image.shape[:2]
        for k in range(PRIME_FRAMES):
            ts = int(round(t_s * 1000.0)) + k * PRIME_STEP_MS
            res = self._lm.detect_for_video(mp_image, ts)
            if self._unsmoother is not None:  # the filter sees these frames too
                self._unsmooth(convert_result(res, w, h), ts)
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
        ts = -1
        if self.mode == "video":
            ts = int(round(t_s * 1000.0)) + self._offset_ms
            if ts <= self._last_ts_ms:
                ts = self._last_ts_ms + 1
            self._last_ts_ms = ts
        if self._fast is not None:
            faces = self._fast.detect(mp_image, ts, w, h)
            if not self._fast.ok:  # it disagreed with MediaPipe's own conversion: the plain path from now on
                self._fast = None
            return self._unsmooth(faces, ts)
        result = (
            self._lm.detect_for_video(mp_image, ts) if self.mode == "video" else self._lm.detect(mp_image)
        )
        return self._unsmooth(convert_result(result, w, h), ts)

    def _unsmooth(self, faces: list[FaceObservation], ts_ms: int) -> list[FaceObservation]:
        """The faces with MediaPipe's landmark filter undone (one face; it starts its filter again after a
        frame without one, and so does the inverse)."""
        if self._unsmoother is None:
            return faces
        if len(faces) != 1:
            self._unsmoother.reset()
            return faces
        f = faces[0]
        raw = self._unsmoother(f.landmarks_px, ts_ms / 1000.0).astype(np.float32)
        return [dataclasses.replace(f, landmarks_px=raw)]


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


class _FastDetect:
    """Runs one landmarker and reads its C result struct straight into arrays.

    MediaPipe's Python API turns every result into 478 landmark objects (``FaceLandmarkerResult.from_ctypes``),
    then :func:`convert_result` turns them back into an array: about 0.8 ms a frame, all of it holding the GIL
    that the other landmarker thread and the analysis need. Each call also goes through a "serial dispatcher"
    (a one-thread executor per landmarker), so every frame hands the GIL back and forth between threads several
    times; with the analysis thread busy, each hand-over can wait for Python's switch interval.

    This calls the same C functions directly from the calling thread (each landmarker is used by one thread
    at a time, and a lock keeps :meth:`FaceLandmarker.close` from running alongside) and copies x, y, z (and
    the blendshape index/score pairs) out of the structs with NumPy. It uses names that are not MediaPipe's
    public API (``_lib``, ``_handle``, ``_image_ptr``, the ``Mp*C`` ctypes structs, the raw library's
    signatures), so :meth:`wrap` checks that they are all there and laid out as expected (without the raw
    library, the dispatcher's functions are used), and the first ``SELF_CHECKS`` results that hold a face are
    also converted the plain way and compared: on any difference ``ok`` turns False and the caller drops back
    to MediaPipe's own objects for good.
    """

    SELF_CHECKS = 3

    def __init__(self, lm: object, mode: Mode, api: dict, lock: threading.Lock) -> None:
        self._lm = lm
        self._call = api["video"] if mode == "video" else api["image"]
        self._video = mode == "video"
        self._close = api["close"]
        self._direct = api["direct"]
        self._status, self._free, self._shutdown = api.get("status"), api.get("free"), api.get("shutdown")
        self._result_type = api["result"]
        self._from_ctypes = api["from_ctypes"]
        self._lm_size, self._cat_size = api["lm_size"], api["cat_size"]
        self._lock = lock
        self.ok = True
        self.checks_left = self.SELF_CHECKS

    @classmethod
    def wrap(cls, lm: object, mode: Mode, lock: threading.Lock, direct: bool = True) -> _FastDetect | None:
        """The fast path for MediaPipe landmarker ``lm``, or None when this MediaPipe version lacks what it
        uses; ``direct`` False always goes through MediaPipe's dispatcher."""
        try:
            import ctypes

            from mediapipe.tasks.python.components.containers import category_c, landmark_c
            from mediapipe.tasks.python.vision import face_landmarker as fl

            lmc, catc, resc = (
                landmark_c.MpNormalizedLandmarkC,
                category_c.MpCategoryC,
                fl.MpFaceLandmarkerResultC,
            )
            layout_ok = (
                (lmc.x.offset, lmc.y.offset, lmc.z.offset) == (0, 4, 8)
                and all(getattr(lmc, n).size == 4 for n in "xyz")
                and (catc.index.offset, catc.score.offset) == (0, 4)
                and catc.index.size == 4
                and catc.score.size == 4
                and ctypes.sizeof(ctypes.c_float) == 4
            )
            fields = {name for name, *_ in resc._fields_}
            need = {"face_landmarks", "face_landmarks_count", "face_blendshapes", "face_blendshapes_count"}
            need |= {"facial_transformation_matrixes", "facial_transformation_matrixes_count"}
            lib = lm._lib  # type: ignore[attr-defined]
            api = {
                "video": lib.MpFaceLandmarkerDetectForVideo,
                "image": lib.MpFaceLandmarkerDetectImage,
                "close": lib.MpFaceLandmarkerCloseResult,
                "direct": False,
                "result": resc,
                "from_ctypes": fl.FaceLandmarkerResult.from_ctypes,
                "lm_size": ctypes.sizeof(lmc),
                "cat_size": ctypes.sizeof(catc),
            }
            lm._handle  # type: ignore[attr-defined]  # noqa: B018
        except (ImportError, AttributeError, TypeError):
            return None
        if not layout_ok or not need <= fields:
            return None
        if direct:
            api.update(_direct_api())
        return cls(lm, mode, api, lock)

    def detect(self, mp_image: object, ts_ms: int, width: int, height: int) -> list[FaceObservation]:
        """Faces of one frame (``ts_ms`` is used in video mode only), as :func:`convert_result` gives them."""
        import ctypes

        res = self._result_type()
        with self._lock:
            handle = self._lm._handle  # type: ignore[attr-defined]
            if not handle:  # closed
                return []
            args: tuple = (handle, mp_image._image_ptr, None)  # type: ignore[attr-defined]
            args += (ts_ms, ctypes.byref(res)) if self._video else (ctypes.byref(res),)
            if self._direct:
                if self._shutdown():  # the interpreter is exiting: MediaPipe's own calls do nothing then
                    return []
                err = ctypes.c_char_p()
                status = self._call(*args, ctypes.byref(err))
                try:
                    self._status(status, err)
                finally:
                    if err.value is not None:
                        self._free(err)
            else:
                self._call(*args)
            try:
                faces = self._read(res, width, height)
                if self.checks_left > 0 and faces:
                    self.checks_left -= 1
                    plain = convert_result(self._from_ctypes(res), width, height)
                    if not _same_faces(faces, plain):
                        self.ok = False
                        return plain
                return faces
            finally:
                self._close(ctypes.byref(res))

    def _read(self, res: object, width: int, height: int) -> list[FaceObservation]:
        import ctypes

        faces: list[FaceObservation] = []
        scale = np.array([width, height, width], np.float32)
        n_bs, n_tf = res.face_blendshapes_count, res.facial_transformation_matrixes_count  # type: ignore[attr-defined]
        for i in range(res.face_landmarks_count):  # type: ignore[attr-defined]
            lms = res.face_landmarks[i]  # type: ignore[attr-defined]
            if lms.landmarks_count != N_LANDMARKS:
                continue
            raw = ctypes.string_at(lms.landmarks, N_LANDMARKS * self._lm_size)
            pts = np.ndarray((N_LANDMARKS, 3), np.float32, raw, strides=(self._lm_size, 4)) * scale
            bs = np.zeros(N_BLENDSHAPES, np.float32)
            if i < n_bs:
                cats = res.face_blendshapes[i]  # type: ignore[attr-defined]
                k = cats.categories_count
                if k:
                    raw = ctypes.string_at(cats.categories, k * self._cat_size)
                    index = np.ndarray((k,), np.int32, raw, strides=(self._cat_size,))
                    score = np.ndarray((k,), np.float32, raw, offset=4, strides=(self._cat_size,))
                    keep = (index >= 0) & (index < N_BLENDSHAPES)
                    bs[index[keep]] = score[keep]  # (the plain path's loop: the last of equal indices wins)
            if i < n_tf:
                tf = np.asarray(res.facial_transformation_matrixes[i].to_numpy(), np.float32)  # type: ignore[attr-defined]
            else:
                tf = np.eye(4, dtype=np.float32)
            faces.append(FaceObservation(-1, pts, np.clip(bs, 0.0, 1.0), tf, 1.0))
        return faces


def _direct_api() -> dict:
    """MediaPipe's raw C functions for the landmarker, with the signatures its dispatcher registered, or {}."""
    import ctypes

    try:
        from mediapipe.tasks.python.core import mediapipe_c_bindings, mediapipe_c_utils

        raw = mediapipe_c_bindings.load_raw_library()
        fns = {
            "video": raw.MpFaceLandmarkerDetectForVideo,
            "image": raw.MpFaceLandmarkerDetectImage,
            "close": raw.MpFaceLandmarkerCloseResult,
            "free": raw.MpErrorFree,
        }
        api = {
            **fns,
            "status": mediapipe_c_utils.handle_status,
            "shutdown": mediapipe_c_utils.is_shutdown,
            "direct": True,
        }
    except (ImportError, AttributeError, OSError):
        return {}
    # the signatures must be the ones this code passes: (handle, image, options, [ts,] result, error)
    err_ptr = ctypes.POINTER(ctypes.c_char_p)
    expect = {"video": (6, ctypes.c_int64), "image": (5, None)}
    for kind, (n, ts_type) in expect.items():
        argtypes = getattr(fns[kind], "argtypes", None)
        if argtypes is None or len(argtypes) != n or argtypes[-1] is not err_ptr:
            return {}
        if ts_type is not None and argtypes[3] is not ts_type:
            return {}
    close_types = getattr(fns["close"], "argtypes", None)
    if close_types is None or len(close_types) != 1 or fns["close"].restype is not None:
        return {}
    return api


def _same_faces(a: list[FaceObservation], b: list[FaceObservation]) -> bool:
    return len(a) == len(b) and all(
        np.array_equal(x.landmarks_px, y.landmarks_px)
        and np.array_equal(x.blendshapes, y.blendshapes)
        and np.array_equal(x.transform, y.transform)
        for x, y in zip(a, b)
    )


def detect_image(
    image: np.ndarray, *, max_faces: int = 1, model_path: Path | None = None
) -> list[FaceObservation]:
    """One-shot detection on a still image (image mode)."""
    with FaceLandmarker(model_path, max_faces=max_faces, mode="image") as lm:
        return lm.detect(image)
