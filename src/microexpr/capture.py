"""Capture check: can this recording (or setup) catch micro-expressions, and if not, what to change.

Micro-expressions last 40-500 ms; at 30 fps the shortest ones span one or two frames. The check measures
what decides it: the real frame rate and its regularity (from the timestamps), dropped and duplicated
frames, the face's size in pixels, sharpness, exposure and how even the light is across the face.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from microexpr.errors import InputError
from microexpr.measure.quality import QualityThresholds, crop_measures, face_box

MIN_FPS = 60.0  # below this the shortest micro-expressions fall between frames
GOOD_FPS = 100.0
MIN_FACE_WIDTH_PX = 150.0
MAX_UNEVENNESS = 0.35  # |left - right| / mean luminance of the two face halves
SAMPLE_FACES = 24  # frames sampled for the face measures


@dataclass
class CaptureReport:
    """What the check measured, and its verdict.

    Attributes:
        path: the recording.
        frames: frames in the recording.
        nominal_fps: the container's declared rate.
        measured_fps: frames per second from the timestamps (median frame interval).
        jitter_ms: standard deviation of the frame interval, ms.
        dropped: frames missing in gaps (intervals of more than 1.5 median intervals).
        duplicated: frames with no time step (or less than a quarter of one) after the previous frame.
        face_found: fraction of sampled frames with a face.
        face_width_px: median face width.
        sharpness: median face sharpness (variance of the Laplacian on the 112 px crop).
        luminance: median face luminance (0-255).
        unevenness: median |left - right| / mean luminance of the face halves.
        problems: one line per problem, each saying what to change.
        ok: True when nothing stands in the way of catching micro-expressions.
    """

    path: str
    frames: int
    nominal_fps: float
    measured_fps: float
    jitter_ms: float
    dropped: int
    duplicated: int
    face_found: float
    face_width_px: float
    sharpness: float
    luminance: float
    unevenness: float
    problems: list[str] = field(default_factory=list)
    ok: bool = True

    def as_dict(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def frame_timing(t_s: np.ndarray) -> tuple[float, float, int, int]:
    """(measured_fps, jitter_ms, dropped, zero_steps) from presentation times."""
    dt = np.diff(np.asarray(t_s, np.float64))
    if len(dt) == 0:
        return 0.0, 0.0, 0, 0
    step = float(np.median(dt[dt > 0])) if (dt > 0).any() else 0.0
    if step <= 0:
        return 0.0, 0.0, 0, int((dt <= 0).sum())
    gaps = dt[dt > 1.5 * step]
    dropped = int(np.round(gaps / step).sum() - len(gaps))
    return 1.0 / step, float(dt[dt > 0].std() * 1000.0), dropped, int((dt <= 0.25 * step).sum())


def face_measures(lm: object, image: np.ndarray) -> tuple[float, float, float, float | None] | None:
    """(face width px, sharpness, luminance, unevenness of the halves or None) of the first face in an RGB
    frame, found by ``lm`` (a :class:`~microexpr.track.landmarker.FaceLandmarker` in image mode); None: no
    face."""
    import cv2

    faces = lm.detect(image)  # type: ignore[attr-defined]
    if not faces:
        return None
    p = faces[0].landmarks_px
    s, lu, _ = crop_measures(image, p)
    x0, y0, x1, y1 = face_box(p, image.shape[1], image.shape[0], margin=0.0)
    grey = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    half = grey.shape[1] // 2
    uneven = None
    if half > 0:
        a, b = float(grey[:, :half].mean()), float(grey[:, half:].mean())
        uneven = abs(a - b) / max((a + b) / 2.0, 1e-6)
    return float(np.ptp(p[:, 0])), s, lu, uneven


@dataclass
class FaceStats:
    """Face measures over sampled frames: widths, sharpness, luminance, lighting unevenness, frames seen."""

    widths: list[float] = field(default_factory=list)
    sharp: list[float] = field(default_factory=list)
    lum: list[float] = field(default_factory=list)
    uneven: list[float] = field(default_factory=list)
    seen: int = 0

    @classmethod
    def of(cls, images: Iterable[np.ndarray], model_path: Path | None = None) -> FaceStats:
        """Measure the face in each image (one landmarker in image mode)."""
        from microexpr.track.landmarker import FaceLandmarker

        st = cls()
        with FaceLandmarker(model_path, mode="image") as lm:
            for image in images:
                st.seen += 1
                m = face_measures(lm, np.asarray(image))
                if m is None:
                    continue
                st.widths.append(m[0])
                st.sharp.append(m[1])
                st.lum.append(m[2])
                if m[3] is not None:
                    st.uneven.append(m[3])
        return st

    def report_fields(self) -> dict[str, float]:
        """The face fields of a capture report (medians; 0 where no face was found)."""

        def med(xs: list[float]) -> float:
            return float(np.median(xs)) if xs else 0.0

        return {
            "face_found": len(self.widths) / max(self.seen, 1),
            "face_width_px": med(self.widths),
            "sharpness": med(self.sharp),
            "luminance": med(self.lum),
            "unevenness": med(self.uneven),
        }


def check_capture(
    path: Path | str, *, fps: float | None = None, model_path: Path | None = None
) -> CaptureReport:
    """Measure a recording and judge whether it can capture micro-expressions.

    Args:
        path: a video file or an image-sequence folder (then ``fps`` is needed).
        fps: frame rate of an image-sequence folder.
        model_path: another face model than the installed one.
    """
    from microexpr.io import open_source

    with open_source(Path(path), fps=fps) as src:
        n = src.info.frame_count or 0
        if n == 0:
            raise InputError(f"{path}: no frames")
        times = src.timestamps()
        measured, jitter, dropped, zero_steps = frame_timing(times)
        sample = set(np.linspace(0, n - 1, min(SAMPLE_FACES, n)).round().astype(int) + src.first_index)
        faces = FaceStats.of((fr.image for fr in src if fr.index in sample), model_path)
        rep = CaptureReport(
            path=str(path),
            frames=n,
            nominal_fps=float(src.info.fps),
            measured_fps=measured,
            jitter_ms=jitter,
            dropped=dropped,
            duplicated=zero_steps,
            **faces.report_fields(),
        )
    rep.problems = _problems(rep)
    rep.ok = not rep.problems
    return rep


def _problems(r: CaptureReport) -> list[str]:
    th = QualityThresholds()
    out = []
    if r.measured_fps < MIN_FPS:
        out.append(
            f"frame rate {r.measured_fps:.0f} fps: micro-expressions (40-500 ms) need at least "
            f"{MIN_FPS:.0f} fps, {GOOD_FPS:.0f}+ preferred; record at 120 fps"
        )
    if r.nominal_fps and abs(r.measured_fps - r.nominal_fps) > 0.05 * r.nominal_fps:
        out.append(
            f"the file says {r.nominal_fps:.1f} fps but frames arrive at {r.measured_fps:.1f} fps: "
            "the camera cannot sustain its setting (light too low, or exposure too long?)"
        )
    if r.frames > 1 and (r.dropped + r.duplicated) > 0.01 * r.frames:
        out.append(
            f"{r.dropped} dropped and {r.duplicated} duplicated frames of {r.frames}: use a faster disk or "
            "codec, a lower resolution, or close other programs"
        )
    if r.face_found < 0.5:
        out.append(
            f"a face was found in only {r.face_found:.0%} of the sampled frames: face the camera, "
            "uncover the face"
        )
        return out
    if r.face_width_px < MIN_FACE_WIDTH_PX:
        out.append(
            f"the face is {r.face_width_px:.0f} px wide: at least {MIN_FACE_WIDTH_PX:.0f} px are needed "
            "for small movements; move closer or zoom in"
        )
    if r.sharpness < th.min_sharpness:
        out.append(
            f"the face is blurred (sharpness {r.sharpness:.0f} < {th.min_sharpness:.0f}): focus, or use "
            "a shorter exposure"
        )
    if r.luminance < th.min_luminance:
        out.append(f"the face is too dark (luminance {r.luminance:.0f}): add light in front of the face")
    elif r.luminance > th.max_luminance:
        out.append(f"the face is over-exposed (luminance {r.luminance:.0f}): reduce light or exposure")
    if r.unevenness > MAX_UNEVENNESS:
        out.append(
            f"the light is uneven across the face ({r.unevenness:.0%} difference between halves): "
            "light the face from the front"
        )
    return out
