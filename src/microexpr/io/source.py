"""Open any input (video file, image-sequence folder, photos) as a :class:`~microexpr.io.base.Source`."""

from __future__ import annotations

import os
from pathlib import Path

from microexpr.errors import InputError
from microexpr.io.base import Source, check_range
from microexpr.io.images import IMAGE_SUFFIXES, ImageSource
from microexpr.io.video import VideoSource, container_kind


def open_source(
    path: str | os.PathLike[str],
    *,
    fps: float | None = None,
    images: bool = False,
    start_s: float | None = None,
    end_s: float | None = None,
) -> Source:
    """Open a video file, an image-sequence folder, or photos, for reading frames.

    Args:
        path: a video file (anything FFmpeg reads: mp4, mov, avi, mkv, wmv, webm, ...); a folder of
            images that are the frames of one video (``img1.jpg ... img46.jpg``, in natural order); or,
            with ``images=True``, a photo or a folder of independent photos. A single image file is
            always read as a photo.
        fps: frame rate of an image-sequence folder (required for it). For videos it is only used when
            the file declares no frame rate: their times come from the container's timestamps.
        images: read ``path`` as independent photos (``kind == "images"``), not as a sequence.
        start_s: keep frames with ``t_s >= start_s`` (seconds); None keeps from the start.
        end_s: keep frames with ``t_s < end_s`` (seconds); None keeps to the end.

    Returns:
        A :class:`Source` (a context manager); iterate it for the frames.

    Raises:
        InputError: the input is missing, unreadable, truncated, empty, or not a video or images; the
            message is one line and names the file.
        OptionError: fps, start_s or end_s cannot work with this input.
    """
    p = Path(path)
    check_range(start_s, end_s)
    if not p.exists():
        raise InputError(f"{p} not found")
    if p.is_dir():
        return ImageSource(p, kind="images" if images else "sequence", fps=fps, start_s=start_s, end_s=end_s)
    if not p.is_file():
        raise InputError(f"{p} is not a regular file")
    if p.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSource(p, kind="images", start_s=start_s, end_s=end_s)
    if images:
        if container_kind(p) is not None:
            raise InputError(f"{p} is a video, but --images expects a photo or a folder of photos")
        return ImageSource(p, kind="images", start_s=start_s, end_s=end_s)
    return VideoSource(p, fps=fps, start_s=start_s, end_s=end_s)
