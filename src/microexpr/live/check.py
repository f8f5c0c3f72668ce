"""Capture check on a live source (``microexpr check-capture --camera N``): how fast and how regularly frames
really arrive, and whether the face in them can carry micro-expressions.

The timing comes from the moments frames are captured (``LiveFrame.captured``, what the live pipeline gets);
dropped and duplicated frames from gaps and repeats in the presentation times the device stamps. The face
measures and the verdict are those of the file check (:mod:`microexpr.capture`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from microexpr.capture import SAMPLE_FACES, CaptureReport, FaceStats, _problems, frame_timing
from microexpr.errors import InputError, OptionError
from microexpr.live.sources import LiveSource

IRREGULAR = 2.0  # a p95 frame interval above this many median intervals is irregular delivery


@dataclass
class LiveCaptureReport(CaptureReport):
    """A :class:`~microexpr.capture.CaptureReport` of a live source, with what only a live check measures.

    Attributes:
        seconds: how long frames were read (capture clock).
        interval_ms: median interval between captured frames, ms.
        interval_p95_ms: 95th percentile of that interval, ms (``jitter_ms`` is its standard deviation).
        width, height: frame size in pixels.
    """

    seconds: float = 0.0
    interval_ms: float = 0.0
    interval_p95_ms: float = 0.0
    width: int = 0
    height: int = 0


def camera_source(camera: str) -> str:
    """``N`` or ``/dev/videoN`` -> the source string for :func:`~microexpr.live.sources.open_live`.

    Raises:
        OptionError: anything else.
    """
    c = camera.strip()
    if re.fullmatch(r"\d{1,3}", c) or re.fullmatch(r"/dev/video\d{1,3}", c):
        return c
    raise OptionError(f"--camera takes a number such as 0 or a device such as /dev/video0, not {camera!r}")


def parse_size(size: str | None, option: str = "--size") -> tuple[int, int] | None:
    """``WIDTHxHEIGHT`` -> (width, height); None stays None.

    Raises:
        OptionError: anything else, or a side outside 16-8192.
    """
    if not size:
        return None
    m = re.fullmatch(r"\s*(\d{1,5})\s*[xX]\s*(\d{1,5})\s*", size)
    if m is None:
        raise OptionError(f"{option} must be WIDTHxHEIGHT, but got {size!r}")
    w, h = int(m.group(1)), int(m.group(2))
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise OptionError(f"{option}: {w}x{h} is outside 16-8192 pixels a side")
    return w, h


def check_camera(
    camera: str, *, seconds: float = 5.0, fps: float | None = None, size: str | None = None
) -> LiveCaptureReport:
    """Open a camera through V4L2 (``open_live``), asking for ``fps`` and ``size``, and check it.

    Raises:
        OptionError: a bad --camera, --fps, --size or --seconds.
        InputError: the camera cannot be opened or gives no frames (one line, naming the device).
    """
    from microexpr.live.sources import open_live

    if fps is not None and not 0 < fps <= 1000:
        raise OptionError(f"--fps must be in (0, 1000], but got {fps:g}")
    if not 0 < seconds <= 600:
        raise OptionError(f"--seconds must be in (0, 600], but got {seconds:g}")
    src = open_live(camera_source(camera), fps=fps, size=parse_size(size))
    return check_live_source(src, seconds, nominal_fps=fps)


def check_live_source(
    source: LiveSource,
    seconds: float = 5.0,
    *,
    nominal_fps: float | None = None,
    model_path: Path | None = None,
) -> LiveCaptureReport:
    """Read ``source`` for ``seconds`` (of capture time) and judge it as the file check judges a recording.

    Args:
        source: from :func:`~microexpr.live.sources.open_live` (a camera; a file with ``realtime`` for tests).
        seconds: how long to read; reading also ends when the source does.
        nominal_fps: the rate asked for (camera ``--fps``) or declared; None: not compared.
        model_path: another face model than the installed one.

    Raises:
        InputError: the source gave fewer than two frames.
    """

    if not 0 < seconds <= 600:
        raise OptionError(f"--seconds must be in (0, 600], but got {seconds:g}")
    captured: list[float] = []
    t_s: list[float] = []
    samples: list[np.ndarray] = []
    every_s = seconds / SAMPLE_FACES
    next_sample = 0.0
    size = (0, 0)
    frames = source.frames
    try:
        for fr in frames:
            if captured and fr.captured - captured[0] > seconds:
                break
            captured.append(fr.captured)
            t_s.append(fr.t_s)
            if fr.captured - captured[0] >= next_sample and len(samples) < SAMPLE_FACES:
                samples.append(np.array(fr.image, copy=True))  # a camera may reuse its buffers
                next_sample += every_s
            size = (int(fr.image.shape[1]), int(fr.image.shape[0]))
    finally:
        close = getattr(frames, "close", None)
        if close is not None:
            close()  # releases the camera
    if len(captured) < 2:
        raise InputError(f"{source.name}: fewer than two frames arrived in {seconds:g} s")
    cap = np.asarray(captured, np.float64)
    dt = np.diff(cap)
    span = float(cap[-1] - cap[0])
    _fps_pts, _jit_pts, dropped, duplicated = frame_timing(np.asarray(t_s, np.float64))
    faces = FaceStats.of(samples, model_path)
    rep = LiveCaptureReport(
        path=source.name,
        frames=len(cap),
        nominal_fps=float(nominal_fps or 0.0),
        measured_fps=(len(cap) - 1) / span if span > 0 else 0.0,
        jitter_ms=float(dt.std() * 1000.0),
        dropped=dropped,
        duplicated=duplicated,
        **faces.report_fields(),
        seconds=span,
        interval_ms=float(np.median(dt) * 1000.0),
        interval_p95_ms=float(np.percentile(dt, 95) * 1000.0),
        width=size[0],
        height=size[1],
    )
    rep.problems = _problems(rep)
    if rep.interval_ms > 0 and rep.interval_p95_ms > IRREGULAR * rep.interval_ms:
        rep.problems.append(
            f"frames arrive irregularly (95% of intervals under {rep.interval_p95_ms:.1f} ms, median "
            f"{rep.interval_ms:.1f} ms): use a USB 3 port of its own, MJPEG or a lower resolution, and close "
            "programs that load the machine"
        )
    rep.ok = not rep.problems
    return rep
