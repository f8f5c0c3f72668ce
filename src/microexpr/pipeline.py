"""analyze_video() and iter_analyze(): compose the stages from frames to per-frame measures and AUs.

Flow: source frames -> landmarker (in worker processes, each taking chunks of the video, or in
this process) -> frames merged back in order -> face ids -> per-face measures -> neutral baseline per face
-> AU intensities -> tables. Landmarks are spilled to a temporary file as they arrive, so memory stays flat
in the length of the video.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from microexpr import __version__
from microexpr.calibrate import Baseline, auto_baseline, frontal_reference, load_profile, range_baseline
from microexpr.errors import InputError, OptionError
from microexpr.facs import AU_CODES, BLENDSHAPE_NAMES
from microexpr.io import open_source
from microexpr.measure.au import au_intensity, au_presence
from microexpr.measure.frame import N_QUALITY, FaceMeasurer, FaceMeasures
from microexpr.measure.geometry import FEATURE_NAMES
from microexpr.measure.motion import CROP_PX, FLOW_FEATURE_NAMES, FlowMeter, to_crop
from microexpr.measure.quality import QUALITY_COLUMNS
from microexpr.outputs import (
    EVENT_COLUMNS,
    commit_out_dir,
    events_table,
    frames_schema,
    prepare_out_dir,
    write_json,
    write_tables,
)
from microexpr.temporal.spotting import EXCLUDED, SpotOptions
from microexpr.track.ids import FaceTracker
from microexpr.track.landmarker import detect_image
from microexpr.track.model import MODEL_SHA256, require_model, sha256_file
from microexpr.track.observe import CHUNK_FRAMES, observe_in_process, observe_parallel
from microexpr.types import N_LANDMARKS, AUSeries, FaceObservation, VideoInfo

log = logging.getLogger("microexpr")

_LM_FLOATS = N_LANDMARKS * 3


@dataclass(frozen=True)
class AnalyzeOptions:
    """Options of one analysis (the CLI's flags map one to one)."""

    max_faces: int = 1  # most faces tracked per frame
    fps: float | None = None  # frame rate of an image-sequence folder
    images: bool = False  # photos: one row per face per photo, no temporal analysis
    start_s: float | None = None  # analyse from this time (seconds)
    end_s: float | None = None  # up to this time (seconds, exclusive)
    neutral: tuple[float, float] | None = (
        None  # explicit neutral stretch (seconds) instead of the automatic one
    )
    neutral_image: Path | None = None  # a photo of the subject's neutral face
    profile: Path | None = None  # a subject profile saved by an earlier run
    neutral_window_s: float = 1.0  # length of the automatic neutral stretch
    workers: int = 0  # landmarker processes; 0 = one per core (up to 8; 1 on short inputs), 1 = in-process
    landmark_mode: Literal["video", "image"] = "video"  # MediaPipe running mode for videos
    model_path: Path | None = None  # a face model other than the installed one (hash not enforced)
    micro_max_ms: float = 500.0  # events lasting at most this long are micro-expressions, longer ones macro
    emotions: bool = True  # label events with an emotion estimate (off where the use guard forbids it)
    recognizer: Path | None = None  # an ONNX recogniser for spotted events instead of the AU prototypes
    context: str | None = None  # declared use context (ethics.guard); recorded in meta.json's parameters
    purpose: str | None = None  # declared purpose of the analysis; recorded in meta.json's parameters

    def __post_init__(self) -> None:
        if self.max_faces < 1 or self.max_faces > 16:
            raise OptionError(f"--max-faces must be between 1 and 16, but got {self.max_faces}")
        if self.workers < 0:
            raise OptionError(f"--workers must be 0 (auto) or more, but got {self.workers}")
        if self.fps is not None and not (0 < self.fps <= 10000):
            raise OptionError(f"--fps must be a positive frame rate, but got {self.fps}")
        if sum(x is not None for x in (self.neutral, self.neutral_image, self.profile)) > 1:
            raise OptionError("give only one of --neutral, --neutral-image and --profile")
        if not (40.0 <= self.micro_max_ms <= 10000.0):
            raise OptionError(f"--micro-max-ms must be between 40 and 10000, but got {self.micro_max_ms:g}")
        if self.landmark_mode not in ("video", "image"):
            raise OptionError(f"landmark mode must be 'video' or 'image', but got {self.landmark_mode!r}")


OCCLUSION_FLAG = 0.6  # occlusion score above which a row is flagged: a hand scores ~0.73, a blink ~0.48


def _threads() -> int:
    """Threads for in-process parallel work: ``MICROEXPR_THREADS`` (a batch worker sets 1: the batch runs one
    worker per core) or one per core."""
    given = os.environ.get("MICROEXPR_THREADS", "")
    return max(1, int(given)) if given.isdigit() else (os.cpu_count() or 1)


def _choose_workers(opts: AnalyzeOptions, n_frames: int | None, kind: str) -> int:
    """Landmarker processes: as asked, or one per core when the input has at least two chunks' frames."""
    if kind == "images" or not n_frames:
        return 1
    if opts.workers:
        return max(1, min(opts.workers, n_frames))
    if n_frames < 2 * CHUNK_FRAMES:  # starting a worker costs about a second: not worth it for short clips
        return 1
    return max(1, min(os.cpu_count() or 1, 8, -(-n_frames // CHUNK_FRAMES)))


# --------------------------------------------------------------------------------------------------
# Rows: what each face measured in each frame, accumulated column-wise; landmarks spilled to disk
# --------------------------------------------------------------------------------------------------


class _Rows:
    """Column store of analysis rows; landmarks go to a float32 file in ``workdir``."""

    def __init__(self, workdir: Path) -> None:
        self.frame: list[int] = []
        self.name: list[str] = []
        self.face_id: list[int] = []
        self.t_s: list[float] = []
        self.success: list[int] = []
        self.confidence: list[float] = []
        self.pose: list[np.ndarray] = []
        self.gaze: list[np.ndarray] = []
        self.geo: list[np.ndarray] = []
        self.bs: list[np.ndarray] = []
        self.quality: list[np.ndarray] = []
        self.crop_m: list[np.ndarray] = []
        self.lm_path = workdir / "landmarks.f32"
        self._lm = open(self.lm_path, "wb")
        self._crops = open(workdir / "crops.u8", "wb")
        self._blank_crop = bytes(CROP_PX * CROP_PX)
        self._nan_lm = np.full(_LM_FLOATS, np.nan, np.float32).tobytes()
        self._nan = {
            k: np.full(n, np.nan)
            for k, n in (
                ("pose", 6),
                ("gaze", 2),
                ("geo", len(FEATURE_NAMES)),
                ("bs", len(BLENDSHAPE_NAMES)),
                ("q", N_QUALITY),
            )
        }
        self._nan["q"][5:] = 0  # flags are integers: a frame without a face raises none

    def add(
        self,
        index: int,
        t_s: float,
        name: str,
        face: FaceObservation | None,
        m: FaceMeasures | None,
        crop: np.ndarray | None = None,
        crop_m: np.ndarray | None = None,
    ) -> None:
        self.frame.append(index)
        self.name.append(name)
        self.t_s.append(t_s)
        if face is None or m is None:
            self.face_id.append(-1)
            self.success.append(0)
            self.confidence.append(0.0)
            self.pose.append(self._nan["pose"])
            self.gaze.append(self._nan["gaze"])
            self.geo.append(self._nan["geo"])
            self.bs.append(self._nan["bs"])
            self.quality.append(self._nan["q"])
            self.crop_m.append(np.full((2, 3), np.nan))
            self._lm.write(self._nan_lm)
            self._crops.write(self._blank_crop)
            return
        self.face_id.append(face.face_id)
        self.success.append(1)
        self.confidence.append(m.confidence)
        self.pose.append(m.pose)
        self.gaze.append(m.gaze)
        self.geo.append(m.geo)
        self.bs.append(face.blendshapes)
        self.quality.append(m.quality)
        self.crop_m.append(crop_m)
        self._lm.write(np.ascontiguousarray(face.landmarks_px, np.float32).tobytes())
        self._crops.write(np.ascontiguousarray(crop, np.uint8).tobytes())

    def finish(self) -> dict[str, np.ndarray]:
        self._lm.close()
        self._crops.close()
        n = len(self.frame)

        def stack(xs: list[np.ndarray], width: int) -> np.ndarray:
            return np.vstack(xs).astype(np.float64) if xs else np.zeros((0, width))

        return {
            "frame": np.asarray(self.frame, np.int64),
            "name": np.asarray(self.name, object),
            "face_id": np.asarray(self.face_id, np.int64),
            "t_s": np.asarray(self.t_s, np.float64),
            "success": np.asarray(self.success, np.int8),
            "confidence": np.asarray(self.confidence, np.float32),
            "pose": stack(self.pose, 6),
            "gaze": stack(self.gaze, 2),
            "geo": stack(self.geo, len(FEATURE_NAMES)),
            "bs": stack(self.bs, len(BLENDSHAPE_NAMES)),
            "quality": stack(self.quality, N_QUALITY),
            "crop_m": np.asarray(self.crop_m, np.float64).reshape(n, 2, 3),
            "n": np.asarray(n),
        }


# --------------------------------------------------------------------------------------------------
# The result
# --------------------------------------------------------------------------------------------------


@dataclass
class Analysis:
    """The result of :func:`analyze_video`.

    Attributes:
        info: what was read.
        columns: per-row arrays (frame, face_id, t_s, success, confidence, pose, gaze, geo, bs, quality,
            au_r, au_c); landmarks stay in a temporary file until asked for.
        baselines: each face's neutral baseline.
        warnings: one-line warnings of the run.
        params: the options used.
        timings: seconds per stage.
        images_mode: rows are photos rather than video frames.
    """

    info: VideoInfo
    columns: dict[str, np.ndarray]
    baselines: dict[int, Baseline]
    warnings: list[str]
    params: dict
    timings: dict[str, float]
    images_mode: bool
    _workdir: Path
    events: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(EVENT_COLUMNS)))

    def __post_init__(self) -> None:
        self._finalizer = weakref.finalize(self, shutil.rmtree, self._workdir, True)

    @property
    def n_rows(self) -> int:
        return int(self.columns["n"])

    def _landmarks(self) -> np.ndarray:
        if self.n_rows == 0:
            return np.zeros((0, N_LANDMARKS, 3), np.float32)
        return np.memmap(
            self._workdir / "landmarks.f32", np.float32, "r", shape=(self.n_rows, N_LANDMARKS, 3)
        )

    def batches(self, size: int = 2048) -> Iterator[pa.RecordBatch]:
        """The frames table as Arrow record batches in contract order (streams landmarks from disk)."""
        schema = frames_schema(with_file=self.images_mode)
        c = self.columns
        lms = self._landmarks()
        for a in range(0, self.n_rows, size):
            b = min(a + size, self.n_rows)
            cols: list[np.ndarray | list] = [c["frame"][a:b]]
            if self.images_mode:
                cols.append(list(c["name"][a:b]))
            cols += [c["face_id"][a:b], c["t_s"][a:b], c["confidence"][a:b], c["success"][a:b]]
            cols += [c["pose"][a:b, k] for k in range(6)] + [c["gaze"][a:b, k] for k in range(2)]
            cols += [c["au_r"][a:b, k] for k in range(len(AU_CODES))]
            cols += [c["au_c"][a:b, k] for k in range(len(AU_CODES))]
            cols += [c["bs"][a:b, k] for k in range(len(BLENDSHAPE_NAMES))]
            cols += [c["quality"][a:b, k] for k in range(N_QUALITY)]
            cols += [c["occlusion"][a:b], c["flag_occlusion"][a:b], c["spot_state"][a:b]]
            lm = np.asarray(lms[a:b])
            cols += [lm[:, i, ax] for ax in range(3) for i in range(N_LANDMARKS)]
            arrays = [
                pa.array(v, type=f.type)
                if isinstance(v, list)
                else pa.array(np.asarray(v).astype(f.type.to_pandas_dtype(), copy=False), type=f.type)
                for v, f in zip(cols, schema)
            ]
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)

    @property
    def frames(self) -> pd.DataFrame:
        """The frames table (one row per face per frame) as a DataFrame, columns as in the output contract."""
        schema = frames_schema(with_file=self.images_mode)
        table = pa.Table.from_batches(list(self.batches()), schema=schema)
        return table.to_pandas()

    def au_series(self, face_id: int) -> AUSeries:
        """AU intensities of one face over time (rows where the face was seen)."""
        sel = self.columns["face_id"] == face_id
        if not sel.any():
            raise KeyError(f"no face with id {face_id}")
        return AUSeries(
            face_id,
            self.columns["t_s"][sel],
            AU_CODES,
            self.columns["au_r"][sel],
            self.columns["au_c"][sel] > 0,
            self.columns["success"][sel] > 0,
        )

    def meta(self) -> dict:
        c = self.columns
        faces = sorted(int(f) for f in np.unique(c["face_id"]) if f >= 0)
        return {
            "software": _versions(),
            "model": {
                "name": "face_landmarker.task",
                "sha256": self.params.get("model_sha256"),
                "expected_sha256": MODEL_SHA256,
            },
            "video": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self.info).items()},
            "parameters": {k: v for k, v in self.params.items() if k != "model_sha256"},
            "timings_s": {k: round(v, 4) for k, v in self.timings.items()},
            "counts": {
                "frames": int(len(np.unique(c["frame"]))),
                "rows": self.n_rows,
                "faces": len(faces),
                "frames_with_face": int(len(np.unique(c["frame"][c["success"] > 0]))),
                "events": int(len(self.events)),
            },
            "faces": {
                str(f): {
                    "neutral": self.baselines[f].source if f in self.baselines else None,
                    "rows": int((c["face_id"] == f).sum()),
                }
                for f in faces
            },
            "au_codes": list(AU_CODES),
            "warnings": list(self.warnings),
        }

    def crop(self, row: int) -> np.ndarray:
        """The aligned (128, 128) grey face crop of one row (zeros where no face was found)."""
        if not 0 <= row < self.n_rows:
            raise IndexError(f"row must be in [0, {self.n_rows}), but got {row}")
        m = np.memmap(self._workdir / "crops.u8", np.uint8, "r", shape=(self.n_rows, CROP_PX, CROP_PX))
        return np.array(m[row])

    def report_html(self, *, blur_faces: bool = False) -> str:
        """The self-contained report page (see :mod:`microexpr.report.html`)."""
        from microexpr.report.html import ReportOptions, render_report

        return render_report(
            self.columns,
            self.events,
            self.meta(),
            crop=None if self.images_mode or self.n_rows == 0 else self.crop,
            options=ReportOptions(blur_faces=blur_faces),
        )

    def save(
        self, out_dir: Path | str, *, csv: bool = True, report: bool = True, blur_faces: bool = False
    ) -> Path:
        """Write ``out_dir/<stem>/`` (frames.csv, frames.parquet, events.csv, events.json, meta.json and, for
        videos, report.html) atomically. ``blur_faces`` pixelates every face image in the report."""
        t0 = time.perf_counter()
        stem = Path(self.info.path).stem if Path(self.info.path).suffix else Path(self.info.path).name
        staging, final = prepare_out_dir(Path(out_dir), stem or "output")
        try:
            schema = frames_schema(with_file=self.images_mode)
            write_tables(self.batches(), schema, staging, csv=csv)
            self.events.to_csv(staging / "events.csv", index=False)
            write_json(staging / "events.json", self.events.to_dict(orient="records"))
            meta = self.meta()
            if report and not self.images_mode:
                from microexpr.report.html import write_report

                write_report(staging / "report.html", self.report_html(blur_faces=blur_faces))
            meta["timings_s"]["write"] = round(time.perf_counter() - t0, 4)
            write_json(staging / "meta.json", meta)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return commit_out_dir(staging, final)


def _versions() -> dict[str, str]:
    import platform
    from importlib.metadata import PackageNotFoundError, version

    out = {"microexpr": __version__, "python": platform.python_version()}
    for pkg in ("mediapipe", "numpy", "av", "pandas", "pyarrow", "scipy", "opencv-contrib-python"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


# --------------------------------------------------------------------------------------------------
# Composition
# --------------------------------------------------------------------------------------------------


def _given_baseline(opts: AnalyzeOptions) -> Baseline | None:
    if opts.profile is not None:
        return load_profile(Path(opts.profile))
    if opts.neutral_image is not None:
        return neutral_from_image(Path(opts.neutral_image), model_path=opts.model_path)
    return None


def neutral_from_image(path: Path, *, model_path: Path | None = None) -> Baseline:
    """A baseline from a photo of the subject's neutral face."""
    from microexpr.measure.align import align_to, iod
    from microexpr.measure.geometry import features_aligned

    with open_source(Path(path), images=True) as src:
        frames = list(src)
    if not frames:
        raise InputError(f"--neutral-image {path}: no image could be read")
    faces = detect_image(np.asarray(frames[0].image), max_faces=1, model_path=model_path)
    if not faces:
        raise InputError(f"--neutral-image {path}: no face found in it")
    f = faces[0]
    ref = frontal_reference(f.landmarks_px, f.transform)
    geo = features_aligned(align_to(f.landmarks_px, ref), iod(ref))
    return Baseline(
        ref, geo, f.blendshapes.astype(np.float64), np.zeros_like(geo), f"image: {Path(path).name}"
    )


def analyze_video(
    path: Path | str,
    options: AnalyzeOptions | None = None,
    *,
    progress: Callable[[int, int | None], None] | None = None,
    **kwargs: object,
) -> Analysis:
    """Analyse a video, an image-sequence folder or photos.

    Args:
        path: video file, image-sequence folder, or photo(s) with ``images=True``.
        options: an :class:`AnalyzeOptions`; or give its fields as keyword arguments.
        progress: called as ``progress(frames_done, frames_total_or_None)``.

    Returns:
        An :class:`Analysis`; ``.frames`` is the table, ``.save(out)`` writes the output folder.

    Raises:
        MicroexprError: (InputError, OptionError, ModelError) with a one-line message for the user.
    """
    opts = options if options is not None else AnalyzeOptions(**kwargs)  # type: ignore[arg-type]
    if options is not None and kwargs:
        raise TypeError("give either options or keyword arguments, not both")
    model = require_model(opts.model_path)
    given = _given_baseline(opts)
    t_start = time.perf_counter()
    src_kwargs = {"fps": opts.fps, "images": opts.images, "start_s": opts.start_s, "end_s": opts.end_s}
    workdir = Path(tempfile.mkdtemp(prefix="microexpr-"))
    try:
        with open_source(Path(path), **src_kwargs) as src:
            images_mode = src.kind == "images"
            mode = "image" if images_mode else opts.landmark_mode
            n_total = src.info.frame_count
            workers = _choose_workers(opts, n_total, src.kind)
            worker_warnings: list[str] = []
            frame_warnings: list[str] = []
            lm_opts = {"model_path": opts.model_path, "max_faces": opts.max_faces, "mode": mode}
            raw = (
                observe_parallel(
                    src, src_kwargs, workers=workers, warnings=worker_warnings, spool_dir=workdir, **lm_opts
                )
                if workers > 1
                else observe_in_process(src, **lm_opts)
            )
            rows = _Rows(workdir)
            tracker = FaceTracker()

            def reference_for(face_id: int, face: FaceObservation) -> np.ndarray:
                if given is not None:
                    return given.reference
                return frontal_reference(face.landmarks_px, face.transform)

            measurer = FaceMeasurer(reference_for)
            done = 0
            for index, t_s, name, raw_faces, err in raw:
                if err:
                    frame_warnings.append(f"frame {index}: {err}")
                faces = [FaceObservation(-1, rf[0], rf[1], rf[2]) for rf in raw_faces]
                extras = [(rf[3], rf[4], rf[5]) for rf in raw_faces]
                if images_mode:
                    faces = [f.with_id(i) for i, f in enumerate(faces)]
                    measurer = FaceMeasurer(reference_for)  # photos are independent
                else:
                    faces = tracker.update(t_s, faces)
                if not faces:
                    rows.add(index, t_s, name, None, None)
                for f, (measures, crop, m) in sorted(zip(faces, extras), key=lambda fc: fc[0].face_id):
                    rows.add(index, t_s, name, f, measurer.measure(f, t_s, measures), crop, m)
                done += 1
                if progress is not None:
                    progress(done, n_total)
            io_logged = list(src.warnings)  # the io stage logged these itself
            warnings = io_logged + [w for w in worker_warnings + frame_warnings if w not in io_logged]
            info = src.info
            references = {} if images_mode else measurer.references()
        t_track = time.perf_counter()
        cols = rows.finish()
        if done == 0:
            raise InputError(f"{path}: no frames could be read")
        _relative_blur(cols)
        _motion_hysteresis(cols)
        baselines = _calibrate(cols, references, opts, given, images_mode, warnings)
        neutral = {} if images_mode else _neutral_rows_by_face(cols, baselines, opts.neutral_window_s)
        flow, cols["occlusion"] = _flow_features(cols, neutral, workdir)
        cols["geo"] = np.hstack([cols["geo"], flow])
        cols["flag_occlusion"] = (cols["occlusion"] > OCCLUSION_FLAG).astype(np.int8)
        coupled = {} if images_mode else _decouple_pose(cols, neutral, baselines, workdir)
        _fill_aus(cols, baselines, images_mode and given is None, mode)
        cols["spot_state"] = np.full(int(cols["n"]), EXCLUDED, np.int8)
        events, suppressed = (
            (pd.DataFrame(columns=list(EVENT_COLUMNS)), 0)
            if images_mode
            else _spot(cols, neutral, SpotOptions(micro_max_ms=opts.micro_max_ms))
        )
        if coupled:  # fit the pose coupling again without the expressions found, and spot again
            _decouple_pose_again(cols, neutral, coupled, events)
            _fill_aus(cols, baselines, False, mode)
            events, suppressed = _spot(cols, neutral, SpotOptions(micro_max_ms=opts.micro_max_ms))
        if opts.emotions and not images_mode:  # the use guard (issue 7) turns emotions off: no labels at all
            from microexpr.recognize.label import label_events

            events = label_events(events, cols, workdir, recognizer=opts.recognizer)
        if not (cols["success"] > 0).any():
            warnings.append(f"{Path(path).name}: no face found in any frame (rows have success=0)")
        t_end = time.perf_counter()
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    for w in warnings:
        if w not in io_logged:
            log.warning(w)
    params = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(opts).items()}
    params["workers_used"] = workers
    # require_model verified the installed model against MODEL_SHA256; a user's own file is hashed here
    params["model_sha256"] = MODEL_SHA256 if opts.model_path is None else sha256_file(model)
    timings = {
        "track": t_track - t_start,
        "calibrate_and_aus": t_end - t_track,
        "total": t_end - t_start,
        "frames_per_s": done / max(t_end - t_start, 1e-9),
    }
    params["spotting"] = {
        "suppressed_by_quality": suppressed,
        **asdict(SpotOptions(micro_max_ms=opts.micro_max_ms)),
    }
    return Analysis(info, cols, baselines, warnings, params, timings, images_mode, workdir, events)


BLUR_RELATIVE = 0.35  # a face sharper than this fraction of its own median sharpness is not blurred


def _relative_blur(cols: dict[str, np.ndarray]) -> None:
    """Also flag frames far less sharp than the face usually is: sharpness depends on the camera, the face
    and the light, so a fixed threshold misses motion blur on a sharp recording."""
    from microexpr.measure.quality import QUALITY_COLUMNS

    k_sharp, k_flag = QUALITY_COLUMNS.index("sharpness"), QUALITY_COLUMNS.index("flag_blur")
    for f in np.unique(cols["face_id"]):
        if f < 0:
            continue
        rows = np.flatnonzero((cols["face_id"] == f) & (cols["success"] > 0))
        if len(rows) < 5:
            continue
        sharp = cols["quality"][rows, k_sharp]
        cols["quality"][rows, k_flag] = np.maximum(
            cols["quality"][rows, k_flag], sharp < BLUR_RELATIVE * np.median(sharp)
        )


MOTION_RELEASE_DEG_S = 20.0  # a motion flag, once raised, holds until the head slows below this


def _motion_hysteresis(cols: dict[str, np.ndarray]) -> None:
    """Hold each face's motion flag through a turn: the head slows near the turning point of a swing, but
    the face is still off its neutral pose and the landmarker still catching up."""
    from microexpr.measure.quality import QUALITY_COLUMNS

    k_speed, k_flag = QUALITY_COLUMNS.index("head_speed_deg_s"), QUALITY_COLUMNS.index("flag_motion")
    for f in np.unique(cols["face_id"]):
        if f < 0:
            continue
        rows = np.flatnonzero(cols["face_id"] == f)
        speed, flag = cols["quality"][rows, k_speed], cols["quality"][rows, k_flag]
        held = False
        for i in range(len(rows)):
            held = bool(flag[i] > 0) or (held and bool(speed[i] > MOTION_RELEASE_DEG_S))
            flag[i] = float(held)
        cols["quality"][rows, k_flag] = flag


def _calibrate(
    cols: dict[str, np.ndarray],
    references: dict[int, np.ndarray],
    opts: AnalyzeOptions,
    given: Baseline | None,
    images_mode: bool,
    warnings: list[str],
) -> dict[int, Baseline]:
    baselines: dict[int, Baseline] = {}
    face_ids = sorted(int(f) for f in np.unique(cols["face_id"]) if f >= 0)
    if given is not None:
        if len(face_ids) > 1 and not images_mode:
            warnings.append(f"{len(face_ids)} faces share one given neutral ({given.source})")
        return {f: given for f in face_ids}
    if images_mode:
        return {}
    if opts.neutral is not None and not face_ids:
        raise OptionError(f"--neutral {opts.neutral[0]:g}-{opts.neutral[1]:g}: no face was tracked at all")
    for f in face_ids:
        sel = cols["face_id"] == f
        t, geo, bs = cols["t_s"][sel], cols["geo"][sel], cols["bs"][sel]
        valid = (cols["quality"][sel][:, 5:9].sum(1) == 0) & (cols["confidence"][sel] > 0.5)
        ref = references[f]
        if opts.neutral is not None:
            baselines[f] = range_baseline(ref, t, geo, bs, np.ones(len(t), bool), opts.neutral, face_id=f)
        else:
            if t[-1] - t[0] < opts.neutral_window_s:
                warnings.append(
                    f"face {f}: tracked only {t[-1] - t[0]:.2f} s; its neutral is the median of all its frames"
                )
            baselines[f] = auto_baseline(ref, t, geo, bs, valid, window_s=opts.neutral_window_s)
    return baselines


def _flow_features(
    cols: dict[str, np.ndarray], neutral: dict[int, np.ndarray], workdir: Path
) -> tuple[np.ndarray, np.ndarray]:
    """(n, n_flow) region flow features of every row against its face's neutral crop (0 for photos), and
    (n,) occlusion (0-1, see :meth:`FlowMeter.occlusion`).

    The neutral crop is the median crop over the face's neutral frames from this video (for a profile or a
    neutral image: the least active stretch of this video, since no face image is ever stored).
    """
    from concurrent.futures import ThreadPoolExecutor

    n = int(cols["n"])
    out = np.zeros((n, len(FLOW_FEATURE_NAMES)))
    occ = np.zeros(n, np.float32)
    if not neutral or n == 0:  # photos have no neutral stretch: no motion channel
        return out, occ
    crops = np.memmap(workdir / "crops.u8", np.uint8, "r", shape=(n, CROP_PX, CROP_PX))
    lms = np.memmap(workdir / "landmarks.f32", np.float32, "r", shape=(n, N_LANDMARKS, 3))
    for f, local in neutral.items():
        rows = np.flatnonzero(cols["face_id"] == f)
        nrows = rows[local]
        neutral = np.median(np.asarray(crops[nrows]), axis=0).astype(np.uint8)
        lm_crop = np.median([to_crop(lms[r], cols["crop_m"][r]) for r in nrows], axis=0)

        def run(
            block: np.ndarray, neutral: np.ndarray = neutral, lm_crop: np.ndarray = lm_crop
        ) -> np.ndarray:
            meter = FlowMeter(neutral, lm_crop)  # one per thread: OpenCV's DIS object is not shareable
            got = []
            for r in block:
                c = crops[r]
                got.append(np.append(meter.features(c), meter.occlusion(c)))
            return np.array(got).reshape(len(block), -1)

        blocks = np.array_split(rows, max(1, min(8, len(rows) // 64)))
        with ThreadPoolExecutor(max_workers=min(len(blocks), _threads())) as ex:
            feats = np.vstack(list(ex.map(run, blocks)))
        ok = cols["success"][rows] > 0
        out[rows] = feats[:, :-1] - np.median(feats[local, :-1], axis=0)
        occ[rows] = np.where(ok, feats[:, -1], 0.0)
    return out, occ


def _neutral_rows_by_face(
    cols: dict[str, np.ndarray], baselines: dict[int, Baseline], window_s: float
) -> dict[int, np.ndarray]:
    """Each face's neutral stretch in this video, as positions within the face's own rows: the baseline's
    rows, or (for a profile or a neutral image) the least active stretch."""
    from microexpr.calibrate import activity, least_active_window

    out = {}
    for f in sorted(int(x) for x in np.unique(cols["face_id"]) if x >= 0):
        b = baselines.get(f)
        if b is not None and b.rows is not None:
            out[f] = b.rows
            continue
        rows = np.flatnonzero(cols["face_id"] == f)
        act = activity(cols["geo"][rows][:, : len(FEATURE_NAMES)], cols["bs"][rows])
        sel = least_active_window(cols["t_s"][rows], act, cols["confidence"][rows] > 0.5, window_s=window_s)
        out[f] = np.arange(len(rows))[sel]
    return out


def _spot(
    cols: dict[str, np.ndarray], neutral: dict[int, np.ndarray], so: SpotOptions | None = None
) -> tuple[pd.DataFrame, int]:
    """Events of every face as the events table, and how many candidates quality flags suppressed."""
    from microexpr.temporal.spotting import spot_face

    so = so if so is not None else SpotOptions()
    events, suppressed = [], 0
    for f, local in neutral.items():
        rows = np.flatnonzero(cols["face_id"] == f)
        q = cols["quality"][rows]
        usable = (
            (cols["success"][rows] > 0)
            & (q[:, 5:8].sum(1) == 0)
            & (cols["flag_occlusion"][rows] == 0)
            & (cols["confidence"][rows] >= so.min_confidence)
        )
        track = spot_face(
            f,
            cols["frame"][rows],
            cols["t_s"][rows],
            cols["au_r"][rows],
            usable,
            local,
            so,
        )
        cols["spot_state"][rows] = track.state
        events += track.events
        suppressed += track.suppressed
    table = events_table(events)
    return table, suppressed


@dataclass
class _Coupled:
    """What a face's pose decoupling started from, kept for the second fit."""

    rows: np.ndarray
    geo: np.ndarray  # features before decoupling
    bs: np.ndarray
    pose: np.ndarray  # (T, 3) stable-point rotation, radians
    fit: np.ndarray  # (T,) bool, frames trusted for the fit


def _decouple_pose(
    cols: dict[str, np.ndarray], neutral: dict[int, np.ndarray], baselines: dict[int, Baseline], workdir: Path
) -> dict[int, _Coupled]:
    """Remove the head-pose-following part of each face's geometry, flow and blendshape features.

    The pose used is the rotation of the rigid fit of the stable points (forehead, nose bridge, inner eye
    corners, face outline) to the face's reference, not the landmarker's transform, which expressions move.
    Returns, for each face whose head moved enough to learn from, what :func:`_decouple_pose_again` needs.
    """
    from microexpr.measure.decouple import decoupling_applies, remove_pose_coupling, stable_rotation

    n = int(cols["n"])
    out: dict[int, _Coupled] = {}
    if n == 0:
        return out
    lms = np.memmap(workdir / "landmarks.f32", np.float32, "r", shape=(n, N_LANDMARKS, 3))
    for f, local in neutral.items():
        if f not in baselines:
            continue
        rows = np.flatnonzero(cols["face_id"] == f)
        q = cols["quality"][rows]
        fit = (cols["success"][rows] > 0) & (q[:, 5:8].sum(1) == 0)
        pose = stable_rotation(np.asarray(lms[rows]), baselines[f].reference, cols["success"][rows] > 0)
        if not decoupling_applies(pose, fit, local):
            continue
        t = cols["t_s"][rows]
        out[f] = _Coupled(rows, cols["geo"][rows].copy(), cols["bs"][rows].copy(), pose, fit)
        cols["geo"][rows] = remove_pose_coupling(out[f].geo, pose, t, fit, local)
        cols["bs"][rows] = remove_pose_coupling(out[f].bs, pose, t, fit, local)
    return out


def _decouple_pose_again(
    cols: dict[str, np.ndarray],
    neutral: dict[int, np.ndarray],
    coupled: dict[int, _Coupled],
    events: pd.DataFrame,
) -> None:
    """The second decoupling fit: each face's frames within the events found after the first one (and
    ``REFIT_MARGIN_MS`` around them) are left out, so that expressions which came while the head was turned
    are not taken for the pose's leak, and there the leak is subtracted at the pose interpolated across them
    (``pose_across``). A face that would have too little left keeps its first fit."""
    from microexpr.measure.decouple import (
        REFIT_MARGIN_MS,
        decoupling_applies,
        pose_across,
        remove_pose_coupling,
    )

    m = REFIT_MARGIN_MS / 1000.0
    for f, c in coupled.items():
        t = cols["t_s"][c.rows]
        busy = np.zeros(len(c.rows), bool)
        for e in events[events["face_id"] == f].itertuples():
            busy |= (t >= float(e.onset_s) - m) & (t <= float(e.offset_s) + m)
        fit = c.fit & ~busy
        if not busy.any() or not decoupling_applies(c.pose, fit, neutral[f]):
            continue
        # the expressions move the stable points too: the leak is taken at the head's pose around them
        at = pose_across(c.pose, busy)
        cols["geo"][c.rows] = remove_pose_coupling(c.geo, c.pose, t, fit, neutral[f], subtract_at=at)
        cols["bs"][c.rows] = remove_pose_coupling(c.bs, c.pose, t, fit, neutral[f], subtract_at=at)


def _fill_aus(
    cols: dict[str, np.ndarray], baselines: dict[int, Baseline], blendshapes_only: bool, mode: str
) -> None:
    n = int(cols["n"])
    au_r = np.full((n, len(AU_CODES)), np.nan, np.float32)
    for f, b in baselines.items():
        sel = cols["face_id"] == f
        geo_neutral = np.concatenate(
            [b.geo_neutral, np.zeros(len(FLOW_FEATURE_NAMES))]
        )  # flow is neutral-relative
        au_r[sel] = au_intensity(
            cols["geo"][sel],
            cols["bs"][sel],
            geo_neutral=geo_neutral,
            bs_neutral=b.bs_neutral,
            landmark_mode=mode,
        )
    if blendshapes_only:
        sel = cols["success"] > 0
        au_r[sel] = au_intensity(
            cols["geo"][sel], cols["bs"][sel], geo_neutral=None, bs_neutral=None, geometry=False
        )
    au_c = np.where(np.isnan(au_r), 0, au_presence(np.nan_to_num(au_r))).astype(np.int8)
    cols["au_r"], cols["au_c"] = au_r, au_c


# --------------------------------------------------------------------------------------------------
# Streaming form
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaceResult:
    """One face in one frame of :func:`iter_analyze`.

    Attributes:
        face_id: stable id.
        confidence: tracking confidence in [0, 1].
        pose: (6,) Tx, Ty, Tz (mm), Rx, Ry, Rz (rad).
        gaze: (2,) gaze_angle_x, gaze_angle_y (rad).
        au: AU code -> intensity (0-5).
        au_present: AU code -> presence.
        blendshapes: (52,) MediaPipe scores.
        quality: quality column name -> value (with occlusion and flag_occlusion).
        landmarks_px: (478, 3).
        calibrated: the face's neutral is settled (False during its warm-up).
    """

    face_id: int
    confidence: float
    pose: np.ndarray
    gaze: np.ndarray
    au: dict[str, float]
    au_present: dict[str, bool]
    blendshapes: np.ndarray
    quality: dict[str, float]
    landmarks_px: np.ndarray
    calibrated: bool = True


@dataclass(frozen=True)
class WarmupTrack:
    """A face's AUs over its calibration warm-up, recomputed once its neutral is known, so an online spotter
    can start from the face's first frame exactly as offline spotting does (see :class:`FrameAnalyzer`).

    Attributes:
        face_id: the face.
        frames: (k,) frame indices, up to and including the frame that completed the calibration.
        t_s: (k,) times.
        au: (k, n_au) AU intensities against the final neutral.
        usable: (k,) whether spotting may trust each frame (as :func:`microexpr.temporal.online.usable`).
        neutral: (m,) positions in ``frames`` of the neutral stretch (its noise sets the thresholds).
    """

    face_id: int
    frames: np.ndarray
    t_s: np.ndarray
    au: np.ndarray
    usable: np.ndarray
    neutral: np.ndarray


@dataclass(frozen=True)
class FrameResult:
    """One frame of :func:`iter_analyze`: its index, time and faces (empty when no face was found).

    ``warmup`` holds, for each face whose calibration completed with this frame, its warm-up AUs recomputed
    against the final neutral (the face's result in this frame is their last row).
    """

    index: int
    t_s: float
    faces: tuple[FaceResult, ...]
    warmup: tuple[WarmupTrack, ...] = ()


@dataclass
class _Warm:
    """One face's frames during its warm-up (what calibration and the recomputed warm-up need)."""

    frames: list[int] = field(default_factory=list)
    t_s: list[float] = field(default_factory=list)
    geo: list[np.ndarray] = field(default_factory=list)
    bs: list[np.ndarray] = field(default_factory=list)
    crops: list[np.ndarray] = field(default_factory=list)
    lm_crops: list[np.ndarray] = field(default_factory=list)
    flags: list[bool] = field(default_factory=list)  # a quality flag (blur, light, motion, small) is raised
    spot_ok: list[bool] = field(default_factory=list)  # blur, light, motion flags clear, confident enough
    confident: list[bool] = field(default_factory=list)  # confidence > 0.5 (what calibration asks)


_K_FLAGS = [QUALITY_COLUMNS.index(k) for k in ("flag_blur", "flag_lighting", "flag_motion", "flag_small")]
_K_SPOT_FLAGS = _K_FLAGS[:3]
_K_SPEED, _K_MOTION = QUALITY_COLUMNS.index("head_speed_deg_s"), QUALITY_COLUMNS.index("flag_motion")


class FrameAnalyzer:
    """Per-frame analysis after the landmarker: face ids, measures, calibration during a warm-up, region
    flow and AUs, one frame at a time (what :func:`iter_analyze` and live mode run).

    It follows offline analysis step for step where that can be done causally: the motion flag's hysteresis,
    the neutral (the least active ``warmup_s`` of the face's first ``warmup_s`` seconds, or the frames in
    ``neutral_range``), the region-flow neutral (the median neutral crop, its features' median removed) and
    the warm-up frames' AUs, recomputed once the neutral is known (``FrameResult.warmup``). With the same
    neutral and the same landmarks, online spotting then finds what offline spotting finds. What stays
    offline only: pose decoupling and the blur flag relative to the face's median sharpness over the video.

    Args:
        given: a known neutral for every face, or None to calibrate each face on its first ``warmup_s``.
        warmup_s: seconds of each face's track used to calibrate when no neutral is given.
        neutral_range: (start_s, end_s): calibrate each face on its frames in this range instead.
        spot_options: settings whose ``min_confidence`` decides ``WarmupTrack.usable``.
        landmark_mode: the MediaPipe mode the landmarks come from (it sets the AU geometry scales).
        calibrate_in_background: calibrate in a thread of its own (live mode). Calibration recomputes the whole
            warm-up's region flow (about 0.1-0.2 s at 120 fps), which would hold up the frames behind it; in
            the background the face stays in its warm-up until it is done, and the warm-up track then covers
            the frames that came meanwhile too. The numbers are the same; which frame completes a face's
            calibration (and so which frames carry warm-up AUs) then depends on timing.
    """

    def __init__(
        self,
        given: Baseline | None = None,
        warmup_s: float = 1.0,
        neutral_range: tuple[float, float] | None = None,
        spot_options: SpotOptions | None = None,
        landmark_mode: str = "video",
        calibrate_in_background: bool = False,
    ) -> None:
        self.given = given
        self.background = calibrate_in_background
        self._pending: dict[int, tuple[threading.Thread, dict]] = {}  # background calibrations under way
        self.landmark_mode = landmark_mode
        self.warmup_s = warmup_s
        self.neutral_range = neutral_range
        self.min_confidence = (spot_options or SpotOptions()).min_confidence
        self.tracker = FaceTracker()
        self.measurer = FaceMeasurer(
            lambda fid, f: (
                given.reference if given is not None else frontal_reference(f.landmarks_px, f.transform)
            )
        )
        self.warm: dict[int, _Warm] = {}
        self.fixed: dict[int, Baseline] = {}
        self.meters: dict[int, FlowMeter] = {}
        self.flow_offset: dict[int, np.ndarray] = {}
        self.motion_held: dict[int, bool] = {}
        self._geo_neutral: dict[int, tuple[Baseline, np.ndarray]] = {}  # a baseline's geo neutral + zero flow

    def _ready(self, fid: int, w: _Warm) -> bool:
        if self.neutral_range is not None:
            return w.t_s[-1] >= self.neutral_range[1]  # (the live command keeps the range within 60 s)
        return w.t_s[-1] - w.t_s[0] >= self.warmup_s

    def _calibration(self, fid: int, w: _Warm) -> tuple[Baseline, WarmupTrack] | None:
        """The face's neutral and warm-up track once calibrated (None while a background calibration runs)."""
        if not self.background:
            return self._finish(
                fid, w, self._calibrate(fid, w, len(w.frames), self.measurer.references()[fid])
            )
        job = self._pending.get(fid)
        if job is None:
            n, ref, box = len(w.frames), self.measurer.references()[fid], {}

            def run() -> None:
                try:
                    box["done"] = self._calibrate(fid, w, n, ref)
                except BaseException as e:  # noqa: BLE001 - raised again in the analysis thread
                    box["error"] = e

            job = self._pending[fid] = (threading.Thread(target=run, name="mx-calibrate", daemon=True), box)
            job[0].start()
            return None
        if job[0].is_alive():
            return None
        del self._pending[fid]
        if "error" in job[1]:
            raise job[1]["error"]
        return self._finish(fid, w, job[1]["done"])

    def settle(self) -> tuple[WarmupTrack, ...]:
        """At the end of a stream: wait for the calibrations still running in the background and return the
        warm-up tracks they complete (each face's frames up to the last one seen)."""
        out = []
        for fid in sorted(self._pending):
            self._pending[fid][0].join()
            done = self._calibration(fid, self.warm[fid])
            if done is not None:
                self.fixed[fid] = done[0]
                del self.warm[fid]
                out.append(done[1])
        return tuple(out)

    def _finish(self, fid: int, w: _Warm, done: tuple) -> tuple[Baseline, WarmupTrack]:
        """Take a calibration's flow meter; the frames that came while it ran join its warm-up track, measured
        against the new neutral as every later frame is."""
        b, track, meter, offset = done
        self.meters[fid], self.flow_offset[fid] = meter, offset
        n, k = len(track.frames), len(w.frames)
        if k == n:
            return b, track
        crops = w.crops[n:k]
        feats = np.array([meter.features(c) for c in crops])
        au, usable = self._against(b, meter, offset, w, slice(n, k), feats)
        return b, WarmupTrack(
            fid,
            np.concatenate([track.frames, w.frames[n:k]]),
            np.concatenate([track.t_s, w.t_s[n:k]]),
            np.vstack([track.au, au]),
            np.concatenate([track.usable, usable]),
            track.neutral,
        )

    def _against(
        self, b: Baseline, meter: FlowMeter, offset: np.ndarray, w: _Warm, sel: slice, feats: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """AUs (float64) and spotting usability of the warm-up frames ``sel`` against a calibrated neutral,
        given their region flow ``feats`` from its meter."""
        occluded = np.array([meter.occlusion(c) > OCCLUSION_FLAG for c in w.crops[sel]], bool)
        au = au_intensity(
            np.hstack([np.array(w.geo[sel]), feats - offset]),
            np.array(w.bs[sel]),
            geo_neutral=np.concatenate([b.geo_neutral, np.zeros(len(FLOW_FEATURE_NAMES))]),
            bs_neutral=b.bs_neutral,
            landmark_mode=self.landmark_mode,
        )
        return np.asarray(au, np.float64), np.array(w.spot_ok[sel], bool) & ~occluded

    def _calibrate(
        self, fid: int, w: _Warm, n: int, ref: np.ndarray
    ) -> tuple[Baseline, WarmupTrack, FlowMeter, np.ndarray]:
        """Calibrate on the first ``n`` warm-up frames (the lists may grow meanwhile: a background thread)."""
        ts, geo, bs = np.array(w.t_s[:n]), np.array(w.geo[:n]), np.array(w.bs[:n])
        valid = ~np.array(w.flags[:n]) & np.array(w.confident[:n])
        if self.neutral_range is not None:
            b = range_baseline(ref, ts, geo, bs, np.ones(len(ts), bool), self.neutral_range, face_id=fid)
        else:
            b = auto_baseline(ref, ts, geo, bs, valid, window_s=min(1.0, self.warmup_s))
        neutral = b.rows if b.rows is not None else np.arange(len(ts))
        if self.given is not None:
            b = self.given
        meter = FlowMeter(
            np.median([w.crops[i] for i in neutral], axis=0).astype(np.uint8),
            np.median([w.lm_crops[i] for i in neutral], axis=0),
        )
        feats = np.array([meter.features(c) for c in w.crops[:n]])
        offset = np.median(feats[neutral], axis=0)
        au, usable = self._against(b, meter, offset, w, slice(0, n), feats)
        return b, WarmupTrack(fid, np.array(w.frames[:n]), ts, au, usable, neutral), meter, offset

    def process(self, index: int, t_s: float, raw_faces: list) -> FrameResult:  # noqa: C901
        """One observed frame (``raw_faces`` as the landmarker stage gives them) -> its result."""
        given, fixed, meters = self.given, self.fixed, self.meters
        zeros_flow = np.zeros(len(FLOW_FEATURE_NAMES))
        faces = self.tracker.update(t_s, [FaceObservation(-1, rf[0], rf[1], rf[2]) for rf in raw_faces])
        extras = [(rf[3], rf[4], rf[5]) for rf in raw_faces]
        results, warmups = [], []
        for f, (crop_stats, crop, cm) in sorted(zip(faces, extras), key=lambda fc: fc[0].face_id):
            m = self.measurer.measure(f, t_s, crop_stats)
            fid = f.face_id
            q = m.quality.copy()
            held = bool(q[_K_MOTION] > 0) or (
                self.motion_held.get(fid, False) and q[_K_SPEED] > MOTION_RELEASE_DEG_S
            )
            self.motion_held[fid] = held
            q[_K_MOTION] = float(held)
            if fid not in meters:  # until calibrated, motion is measured against the face's first crop
                meters[fid] = FlowMeter(crop, to_crop(f.landmarks_px, cm))
            b = fixed.get(fid)
            warmup = None
            if b is None:
                w = self.warm.setdefault(fid, _Warm())
                w.frames.append(index)
                w.t_s.append(t_s)
                w.geo.append(m.geo)
                w.bs.append(f.blendshapes.astype(np.float64))
                w.crops.append(crop)
                w.lm_crops.append(to_crop(f.landmarks_px, cm))
                w.flags.append(bool(q[_K_FLAGS].sum() > 0))
                w.spot_ok.append(bool(q[_K_SPOT_FLAGS].sum() == 0) and m.confidence >= self.min_confidence)
                w.confident.append(m.confidence > 0.5)
                done = self._calibration(fid, w) if fid in self._pending or self._ready(fid, w) else None
                if done is not None:
                    b, warmup = done
                    fixed[fid] = b
                    del self.warm[fid]
                elif given is not None:
                    b = given
                else:
                    b = Baseline(
                        self.measurer.references()[fid],
                        np.median(np.array(w.geo), 0),
                        np.median(np.array(w.bs), 0),
                        np.zeros(len(m.geo)),
                        "warm-up",
                    )
            flow = meters[fid].features(crop) - self.flow_offset.get(fid, 0.0)
            if warmup is not None:
                au = warmup.au[-1]
                warmups.append(warmup)
            else:
                held_neutral = self._geo_neutral.get(fid)  # (the same values, made once per neutral)
                if held_neutral is None or held_neutral[0] is not b:
                    held_neutral = self._geo_neutral[fid] = (b, np.concatenate([b.geo_neutral, zeros_flow]))
                au = au_intensity(
                    np.concatenate([m.geo, flow]),
                    f.blendshapes,
                    geo_neutral=held_neutral[1],
                    bs_neutral=b.bs_neutral,
                    landmark_mode=self.landmark_mode,
                )
            present = au_presence(au)
            occ = meters[fid].occlusion(crop)
            quality = dict(zip(QUALITY_COLUMNS, q.tolist()))
            quality.update(occlusion=occ, flag_occlusion=float(occ > OCCLUSION_FLAG))
            results.append(
                FaceResult(
                    fid,
                    m.confidence,
                    m.pose,
                    m.gaze,
                    dict(zip(AU_CODES, np.asarray(au, np.float64).tolist())),  # (Python floats and bools)
                    dict(zip(AU_CODES, np.asarray(present, bool).tolist())),
                    f.blendshapes,
                    quality,
                    f.landmarks_px,
                    fid in fixed or given is not None,
                )
            )
        return FrameResult(index, t_s, tuple(results), tuple(warmups))


def iter_analyze(
    path: Path | str,
    options: AnalyzeOptions | None = None,
    *,
    baseline: Baseline | None = None,
    warmup_s: float = 1.0,
    **kwargs: object,
) -> Iterator[FrameResult]:
    """Analyse frame by frame, yielding results as they come, without holding the video.

    AUs need a neutral face. With ``baseline`` (or ``profile`` / ``neutral_image`` in the options) it is
    known from the start. Otherwise each face's first ``warmup_s`` seconds (or its frames in the options'
    ``neutral`` range) calibrate it: during the warm-up the neutral is the median of the frames so far; after
    it, the least active second of the warm-up, and the warm-up's AUs are recomputed against it
    (``FrameResult.warmup``, which :class:`~microexpr.temporal.online.OnlineSpotter` uses).

    Args:
        path: video file or image-sequence folder.
        options: as for :func:`analyze_video` (runs in this process, one frame at a time).
        baseline: a known neutral for every face.
        warmup_s: seconds of each face's track used to calibrate when no neutral is given.
    """
    opts = options if options is not None else AnalyzeOptions(**kwargs)  # type: ignore[arg-type]
    given = baseline if baseline is not None else _given_baseline(opts)
    src_kwargs = {"fps": opts.fps, "images": opts.images, "start_s": opts.start_s, "end_s": opts.end_s}
    with open_source(Path(path), **src_kwargs) as src:
        mode = "image" if src.kind == "images" else opts.landmark_mode
        neutral_range = opts.neutral if given is None else None
        analyzer = FrameAnalyzer(given, warmup_s, neutral_range=neutral_range, landmark_mode=mode)
        for index, t_s, _name, raw_faces, _err in observe_in_process(
            src, model_path=opts.model_path, max_faces=opts.max_faces, mode=mode
        ):
            yield analyzer.process(index, t_s, raw_faces)
