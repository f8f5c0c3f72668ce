"""Image files as frames: image-sequence folders as datasets store them, and independent photos."""

from __future__ import annotations

import math
import numbers
import os
import re
import warnings
from collections.abc import Generator
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from microexpr.errors import InputError, OptionError
from microexpr.io.base import Source, select
from microexpr.types import Frame, VideoInfo

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
_DIGITS = re.compile(r"(\d+)")
_CV_RGB = getattr(cv2, "IMREAD_COLOR_RGB", None)  # OpenCV >= 4.11 decodes straight to RGB


def natural_key(name: str) -> tuple[tuple[str | int, ...], str]:
    """Sort key that compares the numbers inside file names as numbers: img2 < img10 < reg_img46.

    Args:
        name: a file name.
    """
    parts = _DIGITS.split(name.lower())
    # split() puts text at even positions and digits at odd ones, so two keys never compare str with int
    return tuple(int(p) if k % 2 else p for k, p in enumerate(parts)), name


def list_images(folder: Path) -> tuple[list[Path], list[str], list[str]]:
    """The image files of a folder in natural order, the names of its other files, and of its sub-folders.

    Hidden entries (``.DS_Store``, ``._img1.jpg``) are left out of all three lists.

    Args:
        folder: the folder.

    Returns:
        (image paths, names of non-image files, names of sub-folders), each in natural order.
    """
    try:
        with os.scandir(folder) as it:
            entries = sorted((e for e in it if not e.name.startswith(".")), key=lambda e: natural_key(e.name))
            images, others, folders = [], [], []
            for e in entries:
                if e.is_dir():
                    folders.append(e.name)
                elif os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES:
                    images.append(folder / e.name)
                else:
                    others.append(e.name)
    except OSError as e:
        raise InputError(f"{folder} cannot be read: {e.strerror or e}") from None
    return images, others, folders


def read_image(path: Path) -> np.ndarray:
    """Read an image file as RGB.

    Greyscale becomes 3 channels, alpha is dropped, 16-bit is scaled to 8-bit, EXIF orientation applied.

    Args:
        path: the image file.

    Returns:
        (H, W, 3) uint8 RGB.

    Raises:
        InputError: the file cannot be read or decoded; the message names it.
    """
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise InputError(f"{path} cannot be read: {e.strerror or e}") from None
    image = None
    if data.size:
        try:
            image = cv2.imdecode(data, _CV_RGB if _CV_RGB is not None else cv2.IMREAD_COLOR)
        except cv2.error:
            image = None
    if image is not None:
        return image if _CV_RGB is not None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    try:  # formats OpenCV lacks (or was built without)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PIL's EXIF and decompression-bomb warnings
            with Image.open(path) as im:
                return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    except Exception as e:  # PIL raises many types for bad data
        why = "empty file" if data.size == 0 else str(e) or type(e).__name__
        raise InputError(f"{path} is not a readable image ({why})") from None


def _some(names: list[str], k: int = 3) -> str:
    return ", ".join(names[:k]) + (f" and {len(names) - k} more" if len(names) > k else "")


class ImageSource(Source):
    """Frames read from image files.

    ``kind == "sequence"``: the images of a folder in natural order are the frames of one video at
    ``fps``; ``Frame.index`` is the image's position in the folder and ``t_s = index / fps``.
    ``kind == "images"``: independent photos (a file, or a folder's images); index is the position and
    ``t_s`` is 0.0.
    """

    def __init__(
        self,
        path: Path,
        *,
        kind: str,
        fps: float | None = None,
        start_s: float | None = None,
        end_s: float | None = None,
    ) -> None:
        """Open an image folder or photo.

        Args:
            path: a folder, or (``kind="images"``) a single image file.
            kind: ``"sequence"`` or ``"images"``.
            fps: frame rate of a sequence (required for it; for photos, info.fps is 1.0).
            start_s: first time kept in seconds (sequences only), or None.
            end_s: first time no longer kept in seconds (sequences only), or None.

        Raises:
            InputError: no images, none readable, or a sequence without fps.
            OptionError: fps not positive, start/end with photos, or a selection that holds no image.
        """
        super().__init__()
        self.path = path
        self.kind = kind
        if kind == "sequence":
            if fps is None:
                raise InputError(
                    f"{path} is a folder of images: pass its frame rate with --fps "
                    "(e.g. --fps 200 for CASME II or SAMM, --fps 100 for SMIC-HS)"
                )
            if not (isinstance(fps, numbers.Real) and math.isfinite(fps) and fps > 0):
                raise OptionError(f"--fps must be a positive number of frames per second, but got {fps!r}")
        elif start_s is not None or end_s is not None:
            raise OptionError(f"--start/--end do not apply to photos (--images {path})")
        if path.is_dir():
            self._files = self._list(path)
            first_image = self._first_readable()
        else:
            self._files = [path]
            first_image = read_image(path)  # a single photo: its own error message
        self._size = first_image.shape[:2]
        self._sizes_differ = False
        n = len(self._files)
        if kind == "sequence":
            self._fps = float(fps)  # type: ignore[arg-type]
            self._warn_number_gaps()
            t = np.arange(n, dtype=np.float64) / self._fps
            self.first_index, stop = select(t, start_s, end_s, what=str(path), duration_s=n / self._fps)
            codec, duration = "image-sequence", n / self._fps
        else:
            self._fps, self.first_index, stop, codec, duration = 1.0, 0, n, "images", None
        self.info = VideoInfo(
            path=path,
            fps=self._fps,
            frame_count=stop - self.first_index,
            width=int(self._size[1]),
            height=int(self._size[0]),
            codec=codec,
            duration_s=duration,
        )

    def _list(self, folder: Path) -> list[Path]:
        files, others, folders = list_images(folder)
        if not files:
            held = _some(others) or (f"folders {_some(folders)}: pass one of them" if folders else "")
            raise InputError(
                f"{folder} has no images{f' (it holds {held})' if held else ''}; "
                f"supported: {', '.join(sorted(IMAGE_SUFFIXES))}"
            )
        if others:
            self._warn(f"{folder}: ignored {len(others)} non-image file(s): {_some(others, 5)}")
        return files

    def _first_readable(self) -> np.ndarray:
        for f in self._files:
            try:
                return read_image(f)
            except InputError as e:
                self._warn(f"{e}; skipped")
        raise InputError(f"{self.path}: none of its {len(self._files)} image file(s) could be read")

    def _warn_number_gaps(self) -> None:
        nums = []
        for f in self._files:
            m = _DIGITS.findall(f.stem)
            if not m:
                return
            nums.append(int(m[-1]))
        jumps = [(a, b) for a, b in zip(nums, nums[1:]) if b != a + 1]
        if jumps:
            a, b = jumps[0]
            self._warn(
                f"{self.path}: the numbers in the file names jump {len(jumps)} time(s) (first {a} -> {b}); "
                "frame times follow the images' order (position / fps), not their numbers"
            )

    def timestamps(self) -> np.ndarray:
        """(N,) float64 times of the selection's images: position / fps (all 0.0 for photos)."""
        positions = np.arange(self.first_index, self.first_index + (self.info.frame_count or 0))
        if self.kind == "images":
            return np.zeros(len(positions), dtype=np.float64)
        return positions / self._fps

    def _read(self, first: int, stop: int) -> Generator[Frame, None, None]:
        sequence = self.kind == "sequence"
        for index in range(first, stop):
            path = self._files[index]
            try:
                image = read_image(path)
            except InputError as e:
                self._warn(f"{e}; skipped")
                continue
            if sequence and image.shape[:2] != self._size and not self._sizes_differ:
                self._sizes_differ = True
                self._warn(
                    f"{self.path}: image sizes differ ({path.name} is {image.shape[1]}x{image.shape[0]}, "
                    f"the first is {self._size[1]}x{self._size[0]})"
                )
            yield Frame(index, index / self._fps if sequence else 0.0, image, path.name)
