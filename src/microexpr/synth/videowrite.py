"""Write rendered frames to a video file with PyAV: exact timestamps, one key frame by default, atomic."""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np

from microexpr.errors import OptionError, OutputError

LONG_GOP = 100_000  # frames between key frames when keyint is None: one key frame for any clip we render
_X264 = ("libx264", "libx264rgb")


def frame_rate(fps: float | Fraction) -> Fraction:
    """``fps`` as an exact fraction (29.97 -> 2997/100; pass Fraction(30000, 1001) for NTSC)."""
    if isinstance(fps, Fraction):
        rate = fps
    else:
        f = float(fps)
        if not math.isfinite(f):
            raise OptionError(f"fps must be a finite number, but got {fps}")
        rate = Fraction(f).limit_denominator(10_000)
    if not 1 <= rate <= 1000:
        raise OptionError(f"fps must be between 1 and 1000 frames/s, but got {float(rate):g}")
    return rate


def write_video(
    frames: Iterable[np.ndarray],
    path: Path,
    *,
    fps: float | Fraction,
    codec: str = "libx264",
    crf: int = 12,
    keyint: int | None = None,
    lossless: bool = False,
    tune: str | None = None,
) -> Path:
    """Encode frames into a video file.

    Frame ``i`` gets presentation time ``i / fps`` exactly (the stream's time base is ``1 / fps`` as a
    fraction, so 120 and 200 frames/s have exact timestamps). By default the whole clip has one key frame:
    x264's default of one every 250 frames puts a jump larger than a micro-expression into a still face.
    The file is written under a temporary name in the same folder and renamed when complete, so a failed or
    interrupted run never leaves a half-written file at ``path``.

    Args:
        frames: (H, W, 3) uint8 RGB arrays, all the same size. Odd sizes are padded to even by repeating the
            last row / column (4:2:0 chroma needs even sizes) unless ``lossless``.
        path: output file; the container follows its suffix (".mp4", ".mkv", ".avi", ...).
        fps: frame rate in frames/s (1 to 1000), or an exact Fraction.
        codec: FFmpeg encoder name ("libx264", "mpeg4", "ffv1", ...).
        crf: x264 constant rate factor (0 = lossless in YUV, 12 = visually lossless, 23 = x264's default).
        keyint: frames between key frames; None for a single key frame at the start.
        lossless: encode RGB losslessly (x264's RGB encoder, crf 0): decoded frames equal the input exactly.
        tune: x264 tune ("grain" keeps sensor noise), or None.

    Returns:
        ``path``.

    Raises:
        OptionError: bad fps / crf / keyint, no frames, or frames of the wrong shape, dtype or size.
        OutputError: the folder cannot be created or the file cannot be written.
    """
    import av

    path = Path(path)
    rate = frame_rate(fps)
    if not 0 <= int(crf) <= 51:
        raise OptionError(f"crf must be in [0, 51], but got {crf}")
    if keyint is not None and int(keyint) < 1:
        raise OptionError(f"keyint must be a positive number of frames or None, but got {keyint}")
    gop = LONG_GOP if keyint is None else int(keyint)
    if lossless:
        codec, crf = "libx264rgb", 0
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create the folder {path.parent}: {e.strerror or e}") from e
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.partial{path.suffix}")
    n = 0
    try:
        container = av.open(str(tmp), mode="w")
        try:
            stream = None
            size: tuple[int, int] | None = None
            for img in frames:
                img = _check_frame(img, n, size)
                if stream is None:
                    size = img.shape[:2]
                    stream = _open_stream(
                        container, codec, rate, img.shape[1], img.shape[0], crf, gop, lossless, tune
                    )
                padded = _pad_even(img) if not lossless else img
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(padded), format="rgb24")
                frame.pts = n
                frame.time_base = 1 / rate
                for packet in stream.encode(frame):
                    container.mux(packet)
                n += 1
            if stream is None:
                raise OptionError(f"no frames to write to {path}")
            for packet in stream.encode():
                container.mux(packet)
        finally:
            container.close()
        os.replace(tmp, path)
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from e
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _check_frame(img: np.ndarray, i: int, size: tuple[int, int] | None) -> np.ndarray:
    if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        got = getattr(img, "shape", type(img).__name__), getattr(img, "dtype", "")
        raise OptionError(f"frame {i} must be a uint8 np.ndarray with shape (_, _, 3), but got {got}")
    if size is not None and img.shape[:2] != size:
        raise OptionError(
            f"frame {i} has size {img.shape[1]}x{img.shape[0]}, but the video is {size[1]}x{size[0]}"
        )
    return img


def _pad_even(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return img
    return np.pad(img, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def _open_stream(
    container,
    codec: str,
    rate: Fraction,
    width: int,
    height: int,
    crf: int,
    gop: int,
    lossless: bool,
    tune: str | None,
):  # noqa: ANN001, ANN202 (PyAV types)
    import av

    try:
        stream = container.add_stream(codec, rate=rate)
    except (av.error.FFmpegError, ValueError) as e:  # type: ignore[attr-defined]
        raise OptionError(f"unknown or unavailable video codec {codec!r}: {e}") from e
    stream.width = width + (width % 2 if not lossless else 0)
    stream.height = height + (height % 2 if not lossless else 0)
    stream.time_base = 1 / rate
    stream.codec_context.gop_size = gop
    if codec in _X264:
        stream.pix_fmt = "rgb24" if codec == "libx264rgb" else "yuv420p"
        opts = {
            "crf": str(int(crf)),
            "preset": "medium",
            "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0",
        }
        if tune:
            opts["tune"] = tune
        stream.options = opts
    else:
        formats = [f.name for f in (stream.codec_context.codec.video_formats or [])]
        stream.pix_fmt = "yuv420p" if "yuv420p" in formats or not formats else formats[0]
    return stream
