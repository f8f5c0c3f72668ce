"""Live sources: a camera (V4L2 through PyAV), a network stream (RTSP/HTTP), or a file played at its real speed.

Each yields :class:`LiveFrame` with the moment it was captured (``time.monotonic()``), which is where every
latency figure starts.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from microexpr.errors import InputError

# FFmpeg's decoder threading for a file played live: none ("NONE": decoded in the reading thread). The
# pipeline's own threads keep both cores busy; a 640x480 frame decodes in about 0.15 ms in the reading thread,
# and FFmpeg's frame threads only add hand-overs (about 0.4 ms of CPU a frame between them at 120 fps,
# against 0.15-0.25 ms, measured). The frames are the same either way.
FILE_DECODE_THREADS: str | None = "NONE"


@dataclass(frozen=True)
class LiveFrame:
    """One captured frame: its index, presentation time (s), capture moment (monotonic s) and RGB image."""

    index: int
    t_s: float
    captured: float
    image: np.ndarray


@dataclass(frozen=True)
class LiveSource:
    """An opened live source: its frames, whether it is live (frames it cannot take in time are dropped) and
    a description for logs."""

    frames: Iterator[LiveFrame]
    live: bool
    name: str
    # a file played in real time: start its clock again from the next frame (after the pipeline has taken
    # its first frames to prime the landmarkers); None for a camera or a stream, whose clock is the world's
    restart_clock: Callable[[], None] | None = None


def _camera_device(source: str) -> str | None:
    if re.fullmatch(r"\d{1,3}", source):
        return f"/dev/video{int(source)}"
    if re.fullmatch(r"/dev/video\d{1,3}", source):
        return source
    return None


def open_live(
    source: str,
    *,
    realtime: bool = False,
    fps: float | None = None,
    size: tuple[int, int] | None = None,
) -> LiveSource:
    """Open a camera (``0`` or ``/dev/video0``), a stream URL (``rtsp://...``, ``http://...``) or a file.

    Args:
        source: what to read.
        realtime: for a file, release each frame at its own time (as a camera would), so that the pipeline
            must keep up; without it a file is read as fast as the pipeline takes it (nothing dropped).
        fps: camera frame rate to ask for.
        size: camera (width, height) to ask for.

    Raises:
        InputError: the source cannot be opened (one line, naming it).
    """
    dev = _camera_device(source)
    if dev is not None:
        return LiveSource(_pyav_frames(dev, "v4l2", _camera_options(fps, size)), True, dev)
    if "://" in source:
        opts = {"rtsp_transport": "tcp"} if source.lower().startswith("rtsp") else {}
        return LiveSource(_pyav_frames(source, None, opts), True, source)
    path = Path(source)
    if not path.exists():
        raise InputError(f"{source} not found (give a video file, a camera index such as 0, or a stream URL)")
    restart = threading.Event()
    return LiveSource(
        _file_frames(path, realtime, restart), realtime, str(path), restart.set if realtime else None
    )


def _camera_options(fps: float | None, size: tuple[int, int] | None) -> dict[str, str]:
    opts: dict[str, str] = {}
    if fps:
        opts["framerate"] = f"{fps:g}"
    if size:
        opts["video_size"] = f"{size[0]}x{size[1]}"
    return opts


def _pyav_frames(url: str, fmt: str | None, options: dict[str, str]) -> Iterator[LiveFrame]:
    import av

    try:
        container = av.open(url, format=fmt, options=options, timeout=10.0)
    except (av.error.FFmpegError, OSError) as e:
        raise InputError(f"{url}: cannot be opened ({e})") from None

    if not container.streams.video:
        container.close()
        raise InputError(f"{url}: no video stream")

    def gen() -> Iterator[LiveFrame]:
        from microexpr.io.video import RGBConverter

        rgb = RGBConverter()
        with container:
            stream = container.streams.video[0]
            t0 = None
            try:
                for i, frame in enumerate(container.decode(stream)):
                    now = time.monotonic()
                    t = float(frame.time) if frame.time is not None else now
                    t0 = t if t0 is None else t0
                    yield LiveFrame(i, t - t0, now, rgb(frame))
            except (av.error.FFmpegError, OSError) as e:
                raise InputError(f"{url}: the stream failed ({e})") from None

    return gen()


def _file_frames(path: Path, realtime: bool, restart: threading.Event | None = None) -> Iterator[LiveFrame]:
    from microexpr.io import open_source
    from microexpr.io.video import VideoSource

    src = open_source(path)  # opened now, so that a bad file fails here, in one line
    if isinstance(src, VideoSource):
        src.thread_type = FILE_DECODE_THREADS

    def gen() -> Iterator[LiveFrame]:
        with src:
            start = None
            for fr in src:
                if realtime:
                    if start is None or (restart is not None and restart.is_set()):
                        start = time.monotonic() - fr.t_s
                        if restart is not None:
                            restart.clear()
                    wait = start + fr.t_s - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                yield LiveFrame(fr.index, fr.t_s, time.monotonic(), fr.image)

    return gen()
