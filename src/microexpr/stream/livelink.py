"""Unreal Live Link Face sink: the iPhone app's binary UDP packet (default port 11111).

Layout (all multi-byte fields big-endian), as the app sends it:

    uint8   version (6)
    int32   device id length N, then N bytes UTF-8
    int32   subject name length M, then M bytes UTF-8
    int32   frame number
    float32 subframe (0 <= subframe < 1)
    int32   frame rate numerator
    int32   frame rate denominator
    uint8   value count (61)
    61 x float32: the 52 ARKit blendshapes in Live Link order (rig.LIVELINK_NAMES), then HeadYaw, HeadPitch,
            HeadRoll, LeftEyeYaw, LeftEyePitch, LeftEyeRoll, RightEyeYaw, RightEyePitch, RightEyeRoll (radians)
"""

from __future__ import annotations

import math
import struct
import uuid
from fractions import Fraction

from microexpr.avatar.rig import LIVELINK_NAMES
from microexpr.errors import OptionError
from microexpr.stream.base import AvatarFrame, SinkBase, udp_sender

DEFAULT_PORT = 11111
VERSION = 6
N_VALUES = 61
_CAMEL = tuple(n[0].lower() + n[1:] for n in LIVELINK_NAMES)


def frame_time(t_s: float, fps: Fraction) -> tuple[int, float]:
    """(frame number, subframe) of time ``t_s`` at frame rate ``fps``."""
    x = max(0.0, t_s) * float(fps)
    n = math.floor(x + 1e-9)
    return int(n), float(min(max(x - n, 0.0), 0.99999))


def encode_livelink(
    frame: AvatarFrame, *, subject: str, device_id: str, fps: Fraction = Fraction(60)
) -> bytes:
    """One Live Link Face packet for ``frame`` (layout in the module docstring)."""
    dev, name = device_id.encode("utf-8"), subject.encode("utf-8")
    number, sub = frame_time(frame.t_s, fps)
    vals = [float(frame.arkit.get(n, 0.0)) for n in _CAMEL]
    yaw, pitch, roll = frame.head_rad
    gyaw, gpitch = frame.gaze_rad
    vals += [yaw, pitch, roll, gyaw, gpitch, 0.0, gyaw, gpitch, 0.0]
    vals = [v if math.isfinite(v) else 0.0 for v in vals]
    return (
        struct.pack(">B", VERSION)
        + struct.pack(">i", len(dev))
        + dev
        + struct.pack(">i", len(name))
        + name
        + struct.pack(">ifiiB", number, sub, fps.numerator, fps.denominator, N_VALUES)
        + struct.pack(f">{N_VALUES}f", *vals)
    )


class LiveLinkSink(SinkBase):
    """Sends each frame as a Live Link Face packet over UDP.

    Args:
        host: receiver address (127.0.0.1 unless told otherwise).
        port: receiver port (the app's default 11111).
        subject: subject name Unreal shows in its Live Link window.
        fps: frame rate written in the packets' frame time.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        subject: str = "microexpr",
        fps: float = 60.0,
    ) -> None:
        if not subject or len(subject) > 128 or not subject.isprintable():
            raise OptionError(f"Live Link subject must be 1-128 printable characters, but got {subject!r}")
        if not (math.isfinite(fps) and 0 < fps <= 1000):
            raise OptionError(f"Live Link frame rate must be in (0, 1000], but got {fps}")
        self._sock, self.address = udp_sender(host, port, "--livelink")
        self.subject = subject
        self.fps = Fraction(fps).limit_denominator(1001)
        self.device_id = str(uuid.uuid4()).upper()
        self.sent = 0

    def send(self, frame: AvatarFrame) -> None:
        data = encode_livelink(frame, subject=self.subject, device_id=self.device_id, fps=self.fps)
        try:
            self._sock.sendto(data, self.address)
        except OSError:
            return
        self.sent += 1

    def close(self) -> None:
        self._sock.close()
