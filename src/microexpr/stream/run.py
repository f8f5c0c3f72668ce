"""Drive sinks from a video file: analyse frame by frame, retarget, spot events online, send."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from microexpr.avatar.retarget import Retargeter
from microexpr.errors import InputError, OptionError
from microexpr.stream.base import AvatarFrame, Sink
from microexpr.types import Event

WARMUP_FRAMES = (
    600  # at most this many frames learn a face's neutral scores (the pipeline's warm-up ends first)
)


@dataclass
class StreamStats:
    """What a stream did: frames analysed, face-frames sent, events, wall time."""

    frames: int = 0
    sent: int = 0
    events: list[Event] = field(default_factory=list)
    wall_s: float = 0.0
    event_delay_ms: float = 0.0


def check_source(source: str) -> Path:
    """A video file path; a camera index or device gets a one-line pointer to ``microexpr live`` (issue #6).

    Raises:
        OptionError: a camera was asked for.
        InputError: the file does not exist.
    """
    if source.isdigit() or source.startswith("/dev/video"):
        raise OptionError(
            f"camera {source!r}: `microexpr stream` plays files; stream a camera with "
            f"`microexpr live {source} --vmc/--livelink/--ws` (issue #6)"
        )
    p = Path(source)
    if not p.exists():
        raise InputError(f"{source}: no such file")
    return p


class Retargeters:
    """One pair of retargeters (the chosen rig and ARKit) per face id, sharing gain and smoothing.

    Blendshape scores are made relative to each face's neutral, learned over the same warm-up that calibrates
    its AUs (the frames before ``face.calibrated``), so that a resting face drives no channel.
    """

    def __init__(
        self,
        rig: str,
        *,
        gain: float = 1.0,
        channel_gain: Mapping[str, float] | None = None,
        smoothing_ms: float = 0.0,
    ) -> None:
        self._make = lambda r, cg: Retargeter(r, gain=gain, channel_gain=cg, smoothing_ms=smoothing_ms)
        self.proto = self._make(rig, channel_gain)  # validates the rig and the gains once, up front
        cg = channel_gain or {}
        self._arkit_gain = {k: v for k, v in cg.items() if k in self._make("arkit", None).channels}
        self._faces: dict[int, tuple[Retargeter, Retargeter]] = {}
        self._warm: dict[int, list[np.ndarray]] = {}
        self._neutral: dict[int, np.ndarray] = {}
        self._rig, self._cg = self.proto.rig, channel_gain

    @property
    def latency_ms(self) -> float:
        return self.proto.latency_ms

    def frame(self, index: int, t_s: float, face: object, t_enter: float) -> AvatarFrame:
        """Retarget one :class:`~microexpr.pipeline.FaceResult`."""
        fid = face.face_id  # type: ignore[attr-defined]
        pair = self._faces.get(fid)
        if pair is None:
            pair = self._faces[fid] = (self._make(self._rig, self._cg), self._make("arkit", self._arkit_gain))
        rt, ark = pair
        bs = np.asarray(face.blendshapes, np.float64)  # type: ignore[attr-defined]
        if fid not in self._neutral:
            # MediaPipe scores a resting face far from 0 (mouthSmile ~0.9 on some faces): learn each face's
            # neutral in the same warm-up that calibrates its AUs, then freeze it
            warm = self._warm.setdefault(fid, [])
            warm.append(bs)
            if face.calibrated or len(warm) >= WARMUP_FRAMES:  # type: ignore[attr-defined]
                self._neutral[fid] = np.median(warm, axis=0)
                del self._warm[fid]
        neutral = self._neutral.get(fid)
        if neutral is None:
            neutral = np.median(self._warm[fid], axis=0)
        src = rt.sources(bs, face.au, neutral=neutral)  # type: ignore[attr-defined]
        ch = dict(zip(rt.channels, rt.values(t_s, src).tolist()))
        if rt.rig.target == "arkit":  # same names, same gains: no second pass
            arkit = ch
        else:
            arkit = dict(zip(ark.channels, ark.values(t_s, src).tolist()))
        pose, gaze = np.asarray(face.pose, float), np.asarray(face.gaze, float)  # type: ignore[attr-defined]
        return AvatarFrame(
            index,
            t_s,
            fid,
            ch,
            arkit,
            dict(face.au),  # type: ignore[attr-defined]
            (float(pose[4]), float(pose[3]), float(pose[5])),
            (float(gaze[0]), float(gaze[1])),
            t_enter,
        )


class SinkFeed:
    """Turns :class:`~microexpr.pipeline.FrameResult` s and spotted events into what sinks receive: each face
    retargeted (:class:`Retargeters`), each event labelled with its emotion as ``analyze`` labels it, both sent
    to every sink. Shared by ``microexpr stream`` and ``microexpr live``.

    Args:
        sinks: open sinks (the caller enters and exits them).
        rig, gain, channel_gain, smoothing_ms: as :class:`Retargeters`.
        emotions: label events with the AU-prototype emotion.
    """

    def __init__(
        self,
        sinks: Iterable[Sink],
        *,
        rig: str = "arkit",
        gain: float = 1.0,
        channel_gain: Mapping[str, float] | None = None,
        smoothing_ms: float = 0.0,
        emotions: bool = True,
    ) -> None:
        self.sinks = list(sinks)
        self.retargeters = Retargeters(rig, gain=gain, channel_gain=channel_gain, smoothing_ms=smoothing_ms)
        self._label = _labeller(emotions)

    def frame(self, fr: object, t_enter: float = 0.0) -> int:
        """Send each face of ``fr`` (a FrameResult); returns the face-frames sent."""
        n = 0
        for face in fr.faces:  # type: ignore[attr-defined]
            af = self.retargeters.frame(fr.index, fr.t_s, face, t_enter)  # type: ignore[attr-defined]
            for s in self.sinks:
                s.send(af)
            n += 1
        return n

    def events(self, events: Iterable[Event]) -> list[Event]:
        """Label and send ``events``; returns them labelled."""
        out = []
        for ev in events:
            ev = self._label(ev)
            out.append(ev)
            for s in self.sinks:
                s.event(ev)
        return out


def stream_video(
    source: Path | str,
    sinks: Iterable[Sink],
    *,
    rig: str = "arkit",
    gain: float = 1.0,
    channel_gain: Mapping[str, float] | None = None,
    smoothing_ms: float = 0.0,
    realtime: bool = False,
    options: object = None,
    on_frame: Callable[[int], None] | None = None,
) -> StreamStats:
    """Analyse ``source`` frame by frame and send every face-frame and spotted event to every sink.

    Args:
        source: video file (or image-sequence folder).
        sinks: open sinks (the caller enters and exits them).
        rig: rig for the ``channels`` of each frame (built-in name or file).
        gain: gain for every channel; ``channel_gain`` per channel.
        smoothing_ms: smoothing time constant (the stated latency), ms.
        realtime: pace the frames at the video's own timestamps (else as fast as analysis goes).
        options: :class:`~microexpr.pipeline.AnalyzeOptions`.
        on_frame: called with the number of frames done (progress).
    """
    from microexpr.pipeline import AnalyzeOptions, iter_analyze
    from microexpr.temporal.online import OnlineSpotter

    opts = options if options is not None else AnalyzeOptions(workers=1)
    feed = SinkFeed(
        sinks,
        rig=rig,
        gain=gain,
        channel_gain=channel_gain,
        smoothing_ms=smoothing_ms,
        emotions=bool(getattr(opts, "emotions", True)),
    )
    spotter = OnlineSpotter()
    stats = StreamStats(event_delay_ms=spotter.delay_ms)
    t0 = time.perf_counter()
    first_t: float | None = None
    it = iter(iter_analyze(source, opts))  # type: ignore[arg-type]
    while True:
        t_enter = time.perf_counter()
        try:
            fr = next(it)
        except StopIteration:
            break
        if realtime:
            if first_t is None:
                first_t, t0 = fr.t_s, time.perf_counter()
            wait = (fr.t_s - first_t) - (time.perf_counter() - t0)
            if wait > 0:
                time.sleep(wait)
        stats.sent += feed.frame(fr, t_enter)
        stats.events += feed.events(spotter.push(fr))
        stats.frames += 1
        if on_frame is not None:
            on_frame(stats.frames)
    stats.events += feed.events(spotter.flush())
    stats.wall_s = time.perf_counter() - t0
    if stats.frames == 0:
        raise InputError(f"{source}: no frames could be read")
    return stats


def _labeller(emotions: bool) -> Callable[[Event], Event]:
    """Label events with the AU-prototype emotion, as analyze does (unless the options turn emotions off)."""
    if not emotions:
        return lambda ev: ev
    from dataclasses import replace

    from microexpr.recognize.emotion import emotion_from_aus

    return lambda ev: ev if ev.emotion is not None else replace(ev, emotion=emotion_from_aus(ev.au_codes))


def stream_track(
    track: object,
    sinks: Iterable[Sink],
    *,
    rig: str = "arkit",
    gain: float = 1.0,
    channel_gain: Mapping[str, float] | None = None,
    smoothing_ms: float = 0.0,
    realtime: bool = False,
) -> StreamStats:
    """Send a synthesised :class:`~microexpr.synth.expression.ExpressionTrack` through the sinks as face 0
    (its known event, if it has one, is announced when its offset has been sent)."""
    sinks = list(sinks)
    tr = track
    rt = Retargeter(rig, gain=gain, channel_gain=channel_gain, smoothing_ms=smoothing_ms)
    ark = rt if rt.rig.target == "arkit" else Retargeter("arkit", gain=gain, smoothing_ms=smoothing_ms)
    stats = StreamStats()
    meta = tr.meta  # type: ignore[attr-defined]
    pending = None
    if "offset_s" in meta:
        codes = tuple(sorted(c for c, s in meta.get("sides", {}).items()))
        t = tr.t_s  # type: ignore[attr-defined]
        idx = [int(np.searchsorted(t, meta[k])) for k in ("onset_s", "apex_s", "offset_s")]
        idx = [min(i, len(t) - 1) for i in idx]
        pending = Event(
            0,
            meta["kind"],
            *idx,
            meta["onset_s"],
            meta["apex_s"],
            meta["offset_s"],
            codes,
            meta["emotion"],
            1.0,
        )
    t0 = time.perf_counter()
    names_au, names_ark = list(tr.au), list(tr.arkit)  # type: ignore[attr-defined]
    for i, t_s in enumerate(tr.t_s):  # type: ignore[attr-defined]
        t_enter = time.perf_counter()
        if realtime:
            wait = (t_s - tr.t_s[0]) - (t_enter - t0)  # type: ignore[attr-defined]
            if wait > 0:
                time.sleep(wait)
        au = {k: float(tr.au[k][i]) for k in names_au}  # type: ignore[attr-defined]
        bs = {k: float(tr.arkit[k][i]) for k in names_ark}  # type: ignore[attr-defined]
        src = rt.sources(bs, au)
        ch = dict(zip(rt.channels, rt.values(float(t_s), src).tolist()))
        arkit = ch if ark is rt else dict(zip(ark.channels, ark.values(float(t_s), src).tolist()))
        arkit["tongueOut"] = arkit.get("tongueOut", 0.0)
        af = AvatarFrame(i, float(t_s), 0, ch, arkit, au, (0.0, 0.0, 0.0), (0.0, 0.0), t_enter)
        for s in sinks:
            s.send(af)
        stats.sent += 1
        stats.frames += 1
        if pending is not None and t_s >= pending.offset_s:
            stats.events.append(pending)
            for s in sinks:
                s.event(pending)
            pending = None
    stats.wall_s = time.perf_counter() - t0
    return stats
