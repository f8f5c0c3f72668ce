"""The interface every frame source implements, and the checks of the --start/--end selection."""

from __future__ import annotations

import logging
import math
import numbers
import weakref
from collections.abc import Generator, Iterator
from types import TracebackType

import numpy as np

from microexpr.errors import OptionError
from microexpr.types import Frame, VideoInfo

log = logging.getLogger("microexpr.io")


class Source:
    """Frames of one video file, image-sequence folder or set of photos, in presentation order.

    Use it as a context manager; iterating yields :class:`~microexpr.types.Frame` objects (RGB uint8,
    read-only) one at a time, so memory stays flat whatever the length of the source.

    Attributes:
        info: what is known before decoding; ``info.frame_count`` counts the frames of the
            ``[start_s, end_s)`` selection, ``info.duration_s`` is the whole source's duration.
        kind: ``"video"``, ``"sequence"`` (image-sequence folder) or ``"images"`` (independent photos).
        warnings: one-line warnings collected while opening and reading (each also logged on the
            ``microexpr.io`` logger).
        first_index: ``Frame.index`` of the first frame of the selection; the selection's frames have
            indices ``first_index .. first_index + info.frame_count - 1``.
    """

    info: VideoInfo
    kind: str
    first_index: int

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self._readers: weakref.WeakSet[Generator[Frame, None, None]] = weakref.WeakSet()

    def __enter__(self) -> Source:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop every iteration still open on this source and release its files."""
        for reader in list(self._readers):
            reader.close()

    def __iter__(self) -> Iterator[Frame]:
        """Yield the frames of the selection in presentation order."""
        return self._track(self._read(self.first_index, self.first_index + (self.info.frame_count or 0)))

    def iter_range(self, first: int, stop: int) -> Iterator[Frame]:
        """Yield the frames with ``first <= Frame.index < stop`` (clipped to the selection).

        Videos seek to the keyframe before ``first`` instead of decoding from the start; the frames are
        the same (index, time, pixels) as the corresponding part of ``iter(source)``.

        Args:
            first: index of the first frame wanted (indices as yielded by ``iter(source)``).
            stop: one past the index of the last frame wanted.
        """
        lo = max(first, self.first_index)
        hi = min(stop, self.first_index + (self.info.frame_count or 0))
        return self._track(self._read(lo, hi))

    def timestamps(self) -> np.ndarray:
        """(N,) float64 presentation times in seconds of every frame of the selection, without decoding."""
        raise NotImplementedError

    def seek_points(self) -> np.ndarray:
        """Frame indices (within the selection) where decoding can start cheaply: every frame for images."""
        return np.arange(self.first_index, self.first_index + (self.info.frame_count or 0))

    def _read(self, first: int, stop: int) -> Generator[Frame, None, None]:
        raise NotImplementedError

    def _track(self, reader: Generator[Frame, None, None]) -> Generator[Frame, None, None]:
        self._readers.add(reader)
        return reader

    def _warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)
            log.warning(message)


def check_range(start_s: float | None, end_s: float | None) -> None:
    """Raise OptionError for a --start/--end pair that cannot select anything, whatever the source.

    Args:
        start_s: first time kept in seconds, or None for the start.
        end_s: first time no longer kept in seconds, or None for the end.
    """
    for flag, v in (("--start", start_s), ("--end", end_s)):
        if v is not None and not (isinstance(v, numbers.Real) and math.isfinite(v) and v >= 0):
            raise OptionError(f"{flag} must be a number of seconds >= 0, but got {v!r}")
    if start_s is not None and end_s is not None and start_s >= end_s:
        raise OptionError(f"--start {start_s:g} s must be before --end {end_s:g} s")


def select(
    t_s: np.ndarray, start_s: float | None, end_s: float | None, *, what: str, duration_s: float
) -> tuple[int, int]:
    """Positions ``[first, stop)`` of the increasing times ``t_s`` with ``start_s <= t < end_s``.

    Args:
        t_s: (N,) increasing times in seconds.
        start_s: first time kept, or None.
        end_s: first time no longer kept, or None.
        what: the source, for the error message.
        duration_s: the source's duration, for the error message.

    Raises:
        OptionError: the selection holds no frame.
    """
    first = 0 if start_s is None else int(np.searchsorted(t_s, start_s, side="left"))
    stop = len(t_s) if end_s is None else int(np.searchsorted(t_s, end_s, side="left"))
    if stop > first or len(t_s) == 0:
        return first, stop
    if first >= len(t_s):
        raise OptionError(
            f"--start {start_s:g} s is at or beyond the end of {what} (duration {duration_s:.3f} s, "
            f"last frame at {float(t_s[-1]):.3f} s)"
        )
    a = "the start" if start_s is None else f"{start_s:g} s"
    b = "the end" if end_s is None else f"{end_s:g} s"
    raise OptionError(
        f"--start/--end select no frame of {what}: none lies in [{a}, {b}) (duration {duration_s:.3f} s)"
    )
