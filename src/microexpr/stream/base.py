"""What every sink receives (:class:`AvatarFrame`, :class:`~microexpr.types.Event`) and the shape of a sink."""

from __future__ import annotations

import math
import socket
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from microexpr.errors import OptionError
from microexpr.types import Event


@dataclass(frozen=True)
class AvatarFrame:
    """One face in one frame, retargeted, ready to send.

    Attributes:
        index: frame index in the source.
        t_s: presentation time in seconds.
        face_id: the face.
        channels: rig channel name -> value (the rig chosen with --rig, after gain, clamp and smoothing).
        arkit: the 52 ARKit blendshapes, camelCase -> value (same gain and smoothing).
        au: AU code -> intensity on the FACS 0-5 scale.
        head_rad: (yaw, pitch, roll) in radians; yaw positive toward the subject's left, pitch positive nose
            down, roll positive toward the subject's right shoulder (the pipeline's Ry, Rx, Rz).
        gaze_rad: (yaw, pitch) of the gaze in radians (gaze_angle_x, gaze_angle_y).
        t_enter: ``time.perf_counter()`` when the frame entered the pipeline (for latency measurements).
    """

    index: int
    t_s: float
    face_id: int
    channels: dict[str, float]
    arkit: dict[str, float]
    au: dict[str, float] = field(default_factory=dict)
    head_rad: tuple[float, float, float] = (0.0, 0.0, 0.0)
    gaze_rad: tuple[float, float] = (0.0, 0.0)
    t_enter: float = 0.0


@runtime_checkable
class Sink(Protocol):
    """A destination for streamed frames: a context manager with ``send`` and ``event``.

    Example:
        >>> with VMCSink("127.0.0.1", 39539) as sink:
        ...     sink.send(frame)
        ...     sink.event(ev)
    """

    def send(self, frame: AvatarFrame) -> None:
        """Send one face-frame (must not block for long: the capture loop waits on it)."""

    def event(self, ev: Event) -> None:
        """Announce a spotted event (sinks without an event channel ignore it)."""

    def close(self) -> None:
        """Release the socket or server."""

    def __enter__(self) -> Sink: ...

    def __exit__(self, *exc: object) -> None: ...


class SinkBase:
    """Context-manager plumbing shared by the sinks."""

    def event(self, ev: Event) -> None:  # noqa: B027 - optional for sinks without events
        """Most avatar protocols have no event message: ignore."""

    def close(self) -> None:  # noqa: B027
        """Nothing to release by default."""

    def __enter__(self) -> SinkBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def parse_hostport(text: str, *, default_port: int, option: str) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT``, ``PORT`` or ``HOST`` -> (host, port); host defaults to 127.0.0.1.

    Raises:
        OptionError: a port outside 0-65535 or an empty/odd host.
    """
    s = text.strip()
    host, port = "127.0.0.1", default_port
    if s.isdigit():
        port = int(s)
    elif ":" in s:
        h, _, p = s.rpartition(":")
        host = h.strip("[]") or host
        if not p.isdigit():
            raise OptionError(f"{option}: port must be a number, but got {p!r}")
        port = int(p)
    elif s:
        host = s
    if not 0 <= port <= 65535:
        raise OptionError(f"{option}: port must be between 0 and 65535, but got {port}")
    if len(host) > 253 or not all(c.isalnum() or c in ".-:_" for c in host):
        raise OptionError(f"{option}: {host!r} is not a host name or address")
    return host, port


def _f(x: float, nd: int = 4) -> float | None:
    return round(float(x), nd) if math.isfinite(x) else None


def frame_json(frame: AvatarFrame) -> dict:
    """The WebSocket JSON of one face-frame (``type: "frame"``)."""
    return {
        "type": "frame",
        "index": frame.index,
        "t_s": _f(frame.t_s, 6),
        "face_id": frame.face_id,
        "channels": {k: _f(v) for k, v in frame.channels.items()},
        "arkit": {k: _f(v) for k, v in frame.arkit.items()},
        "au": {k: _f(v, 3) for k, v in frame.au.items()},
        "head_rad": {
            "yaw": _f(frame.head_rad[0]),
            "pitch": _f(frame.head_rad[1]),
            "roll": _f(frame.head_rad[2]),
        },
        "gaze_rad": {"yaw": _f(frame.gaze_rad[0]), "pitch": _f(frame.gaze_rad[1])},
    }


def event_json(ev: Event) -> dict:
    """The WebSocket JSON of one spotted event (``type: "event"``), with the events.csv fields."""
    return {
        "type": "event",
        "face_id": ev.face_id,
        "kind": ev.kind,
        "onset_frame": ev.onset_frame,
        "apex_frame": ev.apex_frame,
        "offset_frame": ev.offset_frame,
        "onset_s": _f(ev.onset_s, 6),
        "apex_s": _f(ev.apex_s, 6),
        "offset_s": _f(ev.offset_s, 6),
        "duration_ms": _f(ev.duration_ms, 1),
        "aus": list(ev.au_codes),
        "emotion": ev.emotion,
        "confidence": _f(ev.confidence, 3),
        "truncated": ev.truncated,
    }


def udp_sender(host: str, port: int, option: str) -> tuple[socket.socket, tuple]:
    """A UDP socket and the resolved address to send to; a name that does not resolve is a one-line error
    naming the ``option`` it came from."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except socket.gaierror as e:
        raise OptionError(f"{option}: cannot resolve {host!r} ({e.strerror})") from None
    family, _, _, _, addr = infos[0]
    return socket.socket(family, socket.SOCK_DGRAM), addr
