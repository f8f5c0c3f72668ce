"""Live streaming: the :class:`Sink` shape and network sinks (VMC/OSC, Live Link Face, WebSocket).

Sinks are context managers with ``send(frame)`` per analysed face-frame and ``event(ev)`` per spotted event;
:func:`microexpr.stream.run.stream_video` drives them from a video file (issue #6 adds cameras and back-pressure).
Heavy dependencies (FastAPI, uvicorn) are imported by the WebSocket sink only.
"""

from __future__ import annotations

from microexpr.stream.base import AvatarFrame, Sink, event_json, frame_json
from microexpr.stream.livelink import LiveLinkSink, encode_livelink
from microexpr.stream.vmc import VMCSink, encode_vmc_frame, osc_bundle, osc_message

__all__ = [
    "AvatarFrame",
    "LiveLinkSink",
    "Sink",
    "VMCSink",
    "encode_livelink",
    "encode_vmc_frame",
    "event_json",
    "frame_json",
    "osc_bundle",
    "osc_message",
]
