"""VMC protocol sink: OSC 1.0 over UDP (default 127.0.0.1:39539), with a small OSC encoder of our own.

Each frame goes out as one OSC bundle: ``/VMC/Ext/Blend/Val`` (name, value) per rig channel, then
``/VMC/Ext/Blend/Apply``, ``/VMC/Ext/Bone/Pos`` for ``Head`` (position 0, rotation quaternion), ``/VMC/Ext/OK``
(1: tracking) and ``/VMC/Ext/T`` (the frame's time in seconds).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

from microexpr.errors import OptionError
from microexpr.stream.base import AvatarFrame, SinkBase, udp_sender

DEFAULT_PORT = 39539
MAX_DATAGRAM = 65507
_IMMEDIATELY = b"\x00\x00\x00\x00\x00\x00\x00\x01"  # OSC time tag 1: "now"


def _pad(b: bytes) -> bytes:
    """OSC string: the bytes, a NUL, then NULs up to a multiple of 4."""
    return b + b"\x00" * (4 - len(b) % 4)


def osc_message(address: str, *args: str | float | int) -> bytes:
    """Encode one OSC 1.0 message (types: ``s`` str, ``f`` float32, ``i`` int32; all big-endian).

    Raises:
        ValueError: an address not starting with "/", a NUL in a string, or an unsupported argument type.
    """
    if not address.startswith("/"):
        raise ValueError(f"OSC address must start with '/', but got {address!r}")
    tags, data = [","], []
    for a in args:
        if isinstance(a, bool) or isinstance(a, int):
            tags.append("i")
            data.append(struct.pack(">i", int(a)))
        elif isinstance(a, float):
            tags.append("f")
            data.append(struct.pack(">f", a))
        elif isinstance(a, str):
            b = a.encode("utf-8")
            if b"\x00" in b:
                raise ValueError("OSC strings cannot contain NUL")
            tags.append("s")
            data.append(_pad(b))
        else:
            raise ValueError(f"unsupported OSC argument type {type(a).__name__}")
    return _pad(address.encode("ascii")) + _pad("".join(tags).encode("ascii")) + b"".join(data)


def osc_bundle(messages: Sequence[bytes]) -> bytes:
    """Encode an OSC bundle with time tag "immediately" holding ``messages`` (each already encoded)."""
    return b"#bundle\x00" + _IMMEDIATELY + b"".join(struct.pack(">i", len(m)) + m for m in messages)


def head_quaternion(yaw_rad: float, pitch_rad: float, roll_rad: float) -> tuple[float, float, float, float]:
    """(x, y, z, w) for Unity's Euler order (roll about Z, then pitch about X, then yaw about Y)."""
    cy, sy = math.cos(yaw_rad / 2), math.sin(yaw_rad / 2)
    cp, sp = math.cos(pitch_rad / 2), math.sin(pitch_rad / 2)
    cr, sr = math.cos(roll_rad / 2), math.sin(roll_rad / 2)
    # q = qy * qx * qz
    x = cy * sp * cr + sy * cp * sr
    y = sy * cp * cr - cy * sp * sr
    z = cy * cp * sr - sy * sp * cr
    w = cy * cp * cr + sy * sp * sr
    return x, y, z, w


def encode_vmc_frame(frame: AvatarFrame) -> bytes:
    """One frame as one OSC bundle in the VMC protocol (see the module docstring)."""
    msgs = [osc_message("/VMC/Ext/Blend/Val", name, float(v)) for name, v in frame.channels.items()]
    msgs.append(osc_message("/VMC/Ext/Blend/Apply"))
    yaw, pitch, roll = (x if math.isfinite(x) else 0.0 for x in frame.head_rad)
    qx, qy, qz, qw = head_quaternion(yaw, pitch, roll)
    msgs.append(osc_message("/VMC/Ext/Bone/Pos", "Head", 0.0, 0.0, 0.0, qx, qy, qz, qw))
    msgs.append(osc_message("/VMC/Ext/OK", 1))
    msgs.append(osc_message("/VMC/Ext/T", float(frame.t_s)))
    return osc_bundle(msgs)


class VMCSink(SinkBase):
    """Sends each frame as a VMC bundle over UDP.

    Args:
        host: receiver address (127.0.0.1 unless told otherwise).
        port: receiver port (VMC's default 39539).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
        self._sock, self.address = udp_sender(host, port, "--vmc")
        self.sent = 0

    def send(self, frame: AvatarFrame) -> None:
        data = encode_vmc_frame(frame)
        if len(data) > MAX_DATAGRAM:
            raise OptionError(
                f"a VMC frame of {len(data)} bytes does not fit one UDP datagram: use fewer channels"
            )
        try:
            self._sock.sendto(data, self.address)
        except OSError:
            return  # UDP: a receiver that is not there (ICMP refused) must not stop the stream
        self.sent += 1

    def close(self) -> None:
        self._sock.close()
