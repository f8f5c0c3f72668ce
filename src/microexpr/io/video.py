"""Video files read with PyAV: a demux-only index of presentation times, decoding, and keyframe seeking.

Times come from the container's timestamps (``pts * time_base``), never from ``index / fps``, so variable
frame rate works. Opening a video reads its packets once without decoding (fast: no pixels are made) to
learn every frame's time and the keyframes; that index gives exact frame counts for a ``--start/--end``
selection, lets :meth:`VideoSource.iter_range` seek, and is what :meth:`VideoSource.timestamps` returns.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

from microexpr.errors import InputError
from microexpr.io.base import Source, select
from microexpr.types import Frame, VideoInfo


class RGBConverter:
    """Decoded frames -> (H, W, 3) uint8 RGB arrays, the pixels ``frame.to_ndarray(format="rgb24")`` gives.

    ``to_ndarray(format=...)`` makes a new converter (an FFmpeg SwsContext) for every frame, set up afresh
    each time with its own slice threads; one converter kept for the whole stream, converting in the
    calling thread, gives the same pixels for half the CPU (0.9 -> 0.45 ms a 640x480 frame, measured).
    """

    def __init__(self) -> None:
        from av.video.reformatter import VideoReformatter

        self._sws = VideoReformatter()

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        return self._sws.reformat(frame, format="rgb24", threads=1).to_ndarray()


_ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")


@dataclass
class _Scan:
    """What one demux-only pass over a video stream found."""

    pts: list[int | None] = field(default_factory=list)  # per shown packet, in decode order
    keys: list[int] = field(default_factory=list)  # pts of keyframe packets
    discarded: int = 0  # packets before an edit list's start (decoded for reference, never shown)
    reordered: bool = False  # the codec shows frames in another order than it decodes them
    frame_pts: list[int | None] = field(default_factory=list)  # pts of the first few decoded frames
    first_frame: av.VideoFrame | None = None
    demux_error: bool = False


@dataclass(frozen=True)
class _Index:
    """Every frame of the whole file in presentation order, from the demux-only pass."""

    pts: np.ndarray  # (N,) int64 timestamps in stream time_base (0 where missing)
    t_s: np.ndarray  # (N,) float64 times in seconds, repaired where missing or not increasing
    key_pts: np.ndarray  # (K,) int64 sorted timestamps of the keyframes
    exact: bool  # every frame has its own increasing pts: decoded frames are found by pts, seeking works
    by_count: bool  # decoded frames carry no usable pts (H.264 in AVI): the k-th one shown has t_s[k]
    n_repaired: int


@dataclass
class _Damage:
    """What went wrong while decoding one pass."""

    demux_error: bool = False
    decode_errors: int = 0


def container_kind(path: Path) -> str | None:
    """The kind of media container a file's first bytes announce, or None when they announce none.

    Args:
        path: file to sniff (only its first 400 bytes are read).
    """
    try:
        with open(path, "rb") as f:
            head = f.read(400)
    except OSError:
        return None
    if len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"):
        return "MP4/MOV"
    if head[:4] == b"RIFF" and head[8:12] in (b"AVI ", b"AVIX"):
        return "AVI"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "Matroska/WebM"
    if head[:16] == _ASF_GUID:
        return "ASF/WMV"
    if head[:4] == b"OggS":
        return "Ogg"
    if head[:3] == b"FLV":
        return "FLV"
    if head[:4] == b"\x00\x00\x01\xba":
        return "MPEG-PS"
    if head.startswith(b"nut/multimedia container"):
        return "NUT"
    if len(head) > 188 and head[0] == 0x47 and head[188] == 0x47:
        return "MPEG-TS"
    return None


def _open(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), metadata_errors="ignore")
    except PermissionError:
        raise InputError(f"{path} cannot be read: permission denied") from None
    except av.EOFError:
        raise InputError(f"{path} is truncated or damaged (it ends before any frame)") from None
    except av.FFmpegError as e:
        raise InputError(_unreadable(path, e)) from None


def _demux(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, flags: _Scan | _Damage
) -> Iterator[av.Packet]:
    """The stream's non-empty packets; a demux error ends them and sets ``flags.demux_error``."""
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.FFmpegError:
            flags.demux_error = True
            return
        if packet.size:
            yield packet


def _unreadable(path: Path, e: av.FFmpegError) -> str:
    reason = e.strerror or type(e).__name__
    try:
        size = path.stat().st_size
    except OSError:
        size = -1
    if size == 0:
        return f"{path} is empty (0 bytes)"
    kind = container_kind(path)
    if kind is not None:
        return f"{path} is truncated or damaged ({kind} file that FFmpeg cannot open: {reason})"
    return f"{path} is not a video file ({reason})"


def _video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream | None:
    for s in container.streams.video:
        if not s.disposition & av.stream.Disposition.attached_pic:  # cover art in audio files
            return s
    return None


def _next_time(t: float, prev: float, step: float, first: bool) -> tuple[float, bool]:
    """The repaired time of a frame following one at ``prev``: (time, whether it was repaired)."""
    if first:
        return (t, False) if not math.isnan(t) else (0.0, True)
    if t > prev:  # False for NaN too
        return t, False
    return prev + step, True


def repair_times(t_s: np.ndarray, step_s: float) -> tuple[np.ndarray, int]:
    """Make times strictly increasing: a time that is missing (NaN) or not after the previous one becomes
    the previous time + ``step_s``.

    Args:
        t_s: (N,) float64 times in seconds, NaN where unknown.
        step_s: nominal frame period in seconds.

    Returns:
        (repaired (N,) float64 times, number of times repaired).
    """
    if len(t_s) == 0 or (not np.isnan(t_s).any() and bool(np.all(np.diff(t_s) > 0))):
        return t_s, 0
    out = t_s.tolist()
    n = 0
    prev = 0.0
    for i, v in enumerate(out):
        prev, fixed = _next_time(v, prev, step_s, i == 0)
        out[i] = prev
        n += fixed
    return np.array(out, dtype=np.float64), n


class VideoSource(Source):
    """Frames of a video file (anything FFmpeg reads), decoded with PyAV.

    ``Frame.index`` is the frame's position in the whole file in presentation order (unchanged by
    ``start_s``), ``Frame.t_s`` its presentation time in seconds from the stream's start.
    """

    kind = "video"
    # FFmpeg's decoder threading: "AUTO" (frame and slice threads), "NONE" (decode in the reading thread), or
    # None (PyAV's default)
    thread_type: str | None = "AUTO"

    def __init__(
        self,
        path: Path,
        *,
        fps: float | None = None,
        start_s: float | None = None,
        end_s: float | None = None,
    ) -> None:
        """Open a video and index its frames (demux only).

        Args:
            path: the video file.
            fps: frame rate to assume only if the file declares none (times still come from timestamps).
            start_s: first time kept in seconds, or None.
            end_s: first time no longer kept in seconds, or None.

        Raises:
            InputError: missing, unreadable, truncated, not a video, no video stream, no frames.
            OptionError: a start/end selection that holds no frame.
        """
        super().__init__()
        self.path = path
        with _open(path) as container:
            stream = _video_stream(container)
            if stream is None:
                what = "an audio-only file" if container.streams.audio else "no streams FFmpeg can use"
                raise InputError(f"{path} has no video stream ({what})")
            if stream.codec_context is None:
                raise InputError(f"{path}: its video codec cannot be decoded by this FFmpeg build")
            self._stream_index = stream.index
            self._time_base = float(stream.time_base)
            start = stream.start_time
            self._offset = start if start is not None and start > 0 else 0
            scan = self._scan(container, stream)
            declared = stream.frames
            rate = stream.average_rate or stream.guessed_rate
            codec = stream.codec_context.name
            declared_s = float(stream.duration * stream.time_base) if stream.duration else None
            if declared_s is None and container.duration and len(container.streams) == 1:
                declared_s = container.duration / av.time_base

        if not scan.pts:
            if scan.demux_error:
                raise InputError(f"{path} is truncated or damaged (no frame could be read)")
            raise InputError(f"{path} has no video frames")
        if scan.first_frame is None:
            raise InputError(
                f"{path} is truncated or damaged (none of its {len(scan.pts)} frames could be decoded)"
            )

        self._rotation = round((scan.first_frame.rotation or 0) / 90) % 4
        width, height = scan.first_frame.width, scan.first_frame.height
        if self._rotation % 2:
            width, height = height, width
        nominal = self._choose_fps(rate, fps, scan)
        self._step = 1.0 / nominal
        self._index = self._build_index(scan)
        t = self._index.t_s
        n = len(t)
        if self._index.n_repaired:
            self._warn(
                f"{path}: {self._index.n_repaired} of {n} frames have a missing timestamp or one not after "
                f"the previous frame's; their times were repaired as previous + 1/fps ({nominal:.4g} fps"
                + (", pass --fps if that is wrong)" if self._index.n_repaired == n and fps is None else ")")
            )
        end_s_raw = float(t[-1]) + self._offset * self._time_base
        if scan.demux_error:
            self._warn(f"{path}: stream ended after {n} frames (file truncated or damaged?)")
        elif declared and n + scan.discarded < declared:
            self._warn(
                f"{path}: only {n} of the {declared} frames it declares can be read (file truncated or damaged?)"
            )
        elif not declared and declared_s is not None and end_s_raw + 3 * self._step < declared_s:
            self._warn(
                f"{path}: stream ended at {float(t[-1]):.3f} s of the {declared_s:.3f} s it declares, after {n} "
                "frames (file truncated or damaged?)"
            )
        duration_s = float(t[-1]) + self._step
        self.first_index, stop = select(t, start_s, end_s, what=str(path), duration_s=duration_s)
        self.info = VideoInfo(
            path=path,
            fps=nominal,
            frame_count=stop - self.first_index,
            width=width,
            height=height,
            codec=codec,
            duration_s=duration_s,
        )

    @staticmethod
    def _scan(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> _Scan:
        """Read every packet once; decode only the first few frames (to check their timestamps)."""
        cc = stream.codec_context
        scan = _Scan(reordered=bool(cc.has_b_frames))
        decoding = True
        for packet in _demux(container, stream, scan):
            if decoding:
                try:
                    out = cc.decode(packet)
                except av.FFmpegError:
                    out = []
                scan.frame_pts += [f.pts for f in out]
                if out and scan.first_frame is None:
                    scan.first_frame = out[0]
                decoding = scan.first_frame is None or (len(scan.frame_pts) < 8 and len(scan.pts) < 64)
            if packet.is_discard:
                scan.discarded += 1
                continue
            p, d = packet.pts, packet.dts
            scan.pts.append(p)
            if packet.is_keyframe and p is not None:
                scan.keys.append(p)
            if p is not None and d is not None and p != d:
                scan.reordered = True
        if decoding and scan.pts:
            try:
                out = cc.decode(None)  # frames the decoder still holds (reordering delay)
            except av.FFmpegError:
                out = []
            scan.frame_pts += [f.pts for f in out]
            scan.first_frame = scan.first_frame or (out[0] if out else None)
        scan.reordered = scan.reordered or bool(cc.has_b_frames)
        return scan

    def _choose_fps(self, rate: object, fps: float | None, scan: _Scan) -> float:
        declared = float(rate) if rate else 0.0
        if fps is not None and all(p is None for p in scan.pts):
            return float(fps)  # a raw stream without timestamps: the rate it "declares" is a default
        if math.isfinite(declared) and 0 < declared <= 10_000:
            if fps is not None and abs(fps - declared) > 0.01 * declared:
                self._warn(
                    f"{self.path}: --fps {fps:g} ignored: a video's times come from its timestamps "
                    f"(it declares {declared:.4g} fps)"
                )
            return declared
        if fps is not None:
            return float(fps)
        known = np.array([p for p in scan.pts if p is not None], dtype=np.int64)
        if scan.reordered:
            known.sort()
        d = np.diff(known) * self._time_base
        d = d[d > 0]
        if len(d):
            return float(1.0 / np.median(d))
        self._warn(f"{self.path}: frame rate unknown; assuming 30 fps (pass --fps to set it)")
        return 30.0

    def _build_index(self, scan: _Scan) -> _Index:
        missing = np.array([p is None for p in scan.pts], dtype=bool)
        arr = np.array([0 if p is None else p for p in scan.pts], dtype=np.int64)
        if scan.reordered and not missing.any():
            arr.sort()  # decoders give frames out in presentation order
        t = (arr - self._offset) * self._time_base
        t[missing] = np.nan
        t, n_repaired = repair_times(t, self._step)
        shown = [p for p in scan.frame_pts if p is not None]
        # Containers without presentation times (AVI) give packets pts in decode order, and reordering
        # codecs then hand them to the wrong frames: times must come from the sorted packets, by count.
        by_count = scan.reordered and any(b <= a for a, b in zip(shown, shown[1:]))
        exact = not by_count and not missing.any() and bool(np.all(np.diff(arr) > 0))
        return _Index(arr, t, np.unique(np.array(scan.keys, dtype=np.int64)), exact, by_count, n_repaired)

    def timestamps(self) -> np.ndarray:
        """(N,) float64 presentation times in seconds of the selection's frames, from the demux-only index.

        They equal the ``t_s`` of the decoded frames (repaired the same way where timestamps are missing
        or not increasing).
        """
        return self._index.t_s[self.first_index : self.first_index + (self.info.frame_count or 0)].copy()

    def seek_points(self) -> np.ndarray:
        """Frame indices (within the selection) of keyframes, where decoding can start without the frames
        before; the selection's first frame is always included (reaching it may cost decoding from earlier)."""
        idx = self._index
        lo, hi = self.first_index, self.first_index + (self.info.frame_count or 0)
        if not idx.exact or len(idx.key_pts) == 0:
            return np.array([lo], np.int64)
        keys = np.searchsorted(
            idx.pts, idx.key_pts
        )  # positions of the keyframes among the sorted frame times
        keys = keys[(keys >= lo) & (keys < hi)]
        return np.unique(np.concatenate([[lo], keys])).astype(np.int64)

    def _start_points(self, first: int) -> list[int | None]:
        """Keyframe timestamps to seek to for frame ``first``, latest first; None means the file's start."""
        idx = self._index
        if not idx.exact or first <= 0 or len(idx.key_pts) == 0:
            return [None]
        k = int(np.searchsorted(idx.key_pts, idx.pts[first], side="right")) - 1
        points: list[int | None] = [
            int(idx.key_pts[j]) for j in (k, k - 1) if j >= 0 and idx.key_pts[j] > idx.pts[0]
        ]
        return points + [None]

    def _read(self, first: int, stop: int) -> Generator[Frame, None, None]:
        if first >= stop:
            return
        for key in self._start_points(first):
            with _open(self.path) as container:
                stream = container.streams[self._stream_index]
                if self.thread_type:
                    stream.thread_type = self.thread_type
                damage = _Damage()
                started = False
                last = -1
                rgb = RGBConverter()
                for index, t_s, frame in self._decoded(container, stream, key, damage):
                    last = index
                    if index < first:
                        continue
                    if not started and index > first and key is not None:
                        break  # the seek landed after `first`: try an earlier keyframe
                    if index >= stop:
                        return
                    started = True
                    image = rgb(frame)
                    if self._rotation:
                        image = np.ascontiguousarray(np.rot90(image, self._rotation))
                    yield Frame(index, t_s, image)
                else:
                    if started or key is None:
                        self._report(last + 1, damage)
                        return

    def _decoded(
        self,
        container: av.container.InputContainer,
        stream: av.video.stream.VideoStream,
        key: int | None,
        damage: _Damage,
    ) -> Iterator[tuple[int, float, av.VideoFrame]]:
        """Decode from the start or from keyframe ``key``; yield (index, t_s, frame) in presentation order."""
        idx = self._index
        n, exact, by_count, step = len(idx.t_s), idx.exact, idx.by_count, self._step
        tb, offset = self._time_base, self._offset
        prev_i, prev_t = -1, 0.0
        for frame in self._frames(container, stream, key, damage):
            p = frame.pts
            if exact:
                i = prev_i + 1
                if p is not None and not (i < n and idx.pts[i] == p):
                    j = int(np.searchsorted(idx.pts, p))
                    if j < n and idx.pts[j] == p and j > prev_i:
                        i = j
                t = float(idx.t_s[i]) if i < n else prev_t + step
            elif by_count:  # from the start only
                i = prev_i + 1
                t = float(idx.t_s[i]) if i < n else prev_t + step
            else:  # from the start only: count frames and repair their times as the index did
                i = prev_i + 1
                raw = (p - offset) * tb if p is not None else math.nan
                t, _ = _next_time(raw, prev_t, step, i == 0)
            prev_i, prev_t = i, t
            yield i, t, frame

    @staticmethod
    def _frames(
        container: av.container.InputContainer,
        stream: av.video.stream.VideoStream,
        key: int | None,
        damage: _Damage,
    ) -> Iterator[av.VideoFrame]:
        """Decoded frames; packets that fail to decode are skipped, a demux error ends the stream."""
        cc = stream.codec_context
        if key is not None:
            try:
                container.seek(key, stream=stream, backward=True, any_frame=False)
            except av.FFmpegError:
                return  # the caller tries an earlier keyframe, then the start
        wait_for_key = key is not None
        for packet in _demux(container, stream, damage):
            if wait_for_key:
                if not packet.is_keyframe:
                    continue
                wait_for_key = False
            try:
                out = cc.decode(packet)
            except av.FFmpegError:
                damage.decode_errors += 1
                continue
            yield from out
        try:
            yield from cc.decode(None)
        except av.FFmpegError:
            damage.decode_errors += 1

    def _report(self, n_decoded: int, damage: _Damage) -> None:
        n = len(self._index.t_s)
        if damage.demux_error or n_decoded < n:
            self._warn(f"{self.path}: stream ended after {n_decoded} frames (file truncated or damaged?)")
        elif damage.decode_errors:
            self._warn(
                f"{self.path}: {damage.decode_errors} packet(s) could not be decoded and were skipped "
                "(file damaged?)"
            )
