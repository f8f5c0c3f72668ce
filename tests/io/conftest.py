"""Builders of small test inputs (videos muxed with PyAV, image folders written with PIL) in tmp_path."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

W, H = 96, 64


def gradient(i: int, width: int = W, height: int = H) -> np.ndarray:
    """Frame ``i`` of a moving gradient: (height, width, 3) uint8, clearly different from frame i +- 1."""
    y, x = np.mgrid[0:height, 0:width]
    r = (x * 2 + i * 9) % 256
    g = (y * 3 + i * 5) % 256
    b = np.full_like(x, (i * 37) % 256)
    return np.stack([r, g, b], -1).astype(np.uint8)


def identify(image: np.ndarray, n: int) -> int:
    """Which of gradient(0..n-1) a decoded (lossy) image is."""
    src = image.astype(np.int16)
    errors = [np.abs(src - gradient(i, image.shape[1], image.shape[0])).mean() for i in range(n)]
    return int(np.argmin(errors))


def write_video(
    path: Path,
    *,
    codec: str = "libx264",
    n: int = 40,
    fps: int = 30,
    size: tuple[int, int] = (W, H),
    pts: Sequence[int] | None = None,
    time_base: Fraction | None = None,
    options: dict[str, str] | None = None,
    pix_fmt: str | None = None,
    rotation: int | None = None,
    container_options: dict[str, str] | None = None,
) -> Path:
    """Encode ``n`` gradient frames; ``pts`` (in ``time_base``) gives variable frame times."""
    pix = pix_fmt or {"mjpeg": "yuvj420p", "ffv1": "bgr0"}.get(codec, "yuv420p")
    with av.open(str(path), "w", options=container_options or {}) as out:
        stream = out.add_stream(codec, rate=fps, options=options or {})
        stream.width, stream.height = size
        stream.pix_fmt = pix
        if time_base is not None:
            stream.codec_context.time_base = time_base
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(gradient(i, *size), format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = pts[i], time_base
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def write_packets(path: Path, pts: Sequence[int], *, time_base: Fraction = Fraction(1, 1000)) -> Path:
    """MJPEG frames muxed with exactly these packet timestamps (they may repeat or go backwards)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mjpeg", rate=25)
        stream.width, stream.height = W, H
        stream.pix_fmt = "yuvj420p"
        stream.time_base = time_base
        packets = []
        for i in range(len(pts)):
            frame = av.VideoFrame.from_ndarray(gradient(i), format="rgb24")
            frame.pts = i
            packets += stream.encode(frame)
        packets += stream.encode()
        for i, (packet, p) in enumerate(zip(packets, pts)):
            packet.dts, packet.pts, packet.time_base = i, p, time_base  # dts only has to grow for the muxer
            out.mux(packet)
    return path


def write_empty_video(path: Path) -> Path:
    """A container with a video stream and no frame."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mjpeg", rate=30)
        stream.width, stream.height = W, H
        stream.pix_fmt = "yuvj420p"
        out.start_encoding()
    return path


def write_audio_only(path: Path) -> Path:
    """A short silent AAC file: no video stream."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=16000)
        for k in range(8):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, k * 1024
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def truncate(path: Path, fraction: float = 0.5) -> Path:
    """Cut a file to ``fraction`` of its bytes, in place."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def write_images(
    folder: Path, names: Sequence[str], *, size: tuple[int, int] = (W, H), grey: bool = False
) -> Path:
    """Write gradient(k) as ``names[k]`` (format from the suffix)."""
    folder.mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(names):
        image = Image.fromarray(gradient(k, *size))
        if grey:
            image = image.convert("L")
        image.save(folder / name, quality=95) if name.lower().endswith((".jpg", ".jpeg")) else image.save(
            folder / name
        )
    return folder


@pytest.fixture
def mp4(tmp_path: Path) -> Path:
    """40 frames of H.264 (default libx264 settings, so B-frames) at 30 fps in mp4."""
    return write_video(tmp_path / "clip.mp4")
