"""VMC over OSC/UDP: our encoder's bundles, read back by python-osc from a real socket on loopback."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage

from microexpr.stream import AvatarFrame, VMCSink, osc_message
from microexpr.stream.run import stream_video


def _messages(data: bytes) -> list[tuple[str, list]]:
    assert OscBundle.dgram_is_bundle(data)
    b = OscBundle(data)
    out = []
    for i in range(b.num_contents):
        m = b.content(i)
        assert isinstance(m, OscMessage)
        out.append((m.address, list(m.params)))
    return out


def _frame(**kw) -> AvatarFrame:
    base = dict(
        index=7,
        t_s=1.25,
        face_id=0,
        channels={"Joy": 0.75, "Blink_L": 0.125, "A": 0.0},
        arkit={},
        head_rad=(0.3, -0.1, 0.05),
    )
    return AvatarFrame(**{**base, **kw})


def test_a_frame_arrives_as_vmc_blend_values_apply_head_ok_and_time(udp_receiver):
    port = udp_receiver.getsockname()[1]
    with VMCSink("127.0.0.1", port) as sink:
        sink.send(_frame())
    msgs = _messages(udp_receiver.recv(65535))
    addrs = [a for a, _ in msgs]
    assert addrs == ["/VMC/Ext/Blend/Val"] * 3 + [
        "/VMC/Ext/Blend/Apply",
        "/VMC/Ext/Bone/Pos",
        "/VMC/Ext/OK",
        "/VMC/Ext/T",
    ]
    vals = {p[0]: p[1] for a, p in msgs if a == "/VMC/Ext/Blend/Val"}
    assert vals == {"Joy": 0.75, "Blink_L": 0.125, "A": 0.0}
    bone = dict(msgs)["/VMC/Ext/Bone/Pos"]
    assert bone[0] == "Head" and bone[1:4] == [0.0, 0.0, 0.0]
    q = np.array(bone[4:8])
    assert np.linalg.norm(q) == pytest.approx(1.0, abs=1e-5)
    # a pure yaw is a rotation about Y by that angle
    with VMCSink("127.0.0.1", port) as sink:
        sink.send(_frame(head_rad=(0.3, 0.0, 0.0)))
    q = np.array(dict(_messages(udp_receiver.recv(65535)))["/VMC/Ext/Bone/Pos"][4:8])
    assert q == pytest.approx([0.0, math.sin(0.15), 0.0, math.cos(0.15)], abs=1e-6)
    assert dict(msgs)["/VMC/Ext/OK"] == [1]
    assert dict(msgs)["/VMC/Ext/T"][0] == pytest.approx(1.25)


def test_hostile_channel_names_are_encoded_or_refused_cleanly(udp_receiver):
    port = udp_receiver.getsockname()[1]
    with VMCSink("127.0.0.1", port) as sink:
        sink.send(_frame(channels={"名前 ünï": 0.5, "a" * 200: 1.0}))
    vals = {p[0]: p[1] for a, p in _messages(udp_receiver.recv(65535)) if a == "/VMC/Ext/Blend/Val"}
    assert vals == {"名前 ünï": 0.5, "a" * 200: 1.0}
    with pytest.raises(ValueError, match="NUL"):
        osc_message("/VMC/Ext/Blend/Val", "bad\x00name", 1.0)
    with pytest.raises(ValueError, match="start with"):
        osc_message("VMC", 1.0)


def test_a_rendered_smile_streams_rising_smile_values_over_vmc(smile_video, udp_receiver):
    """The whole path: real decoding, the real landmarker, retargeting, our encoder, python-osc on loopback."""
    port = udp_receiver.getsockname()[1]
    got: list[tuple[float, dict]] = []

    def receive() -> None:
        while len(got) < 90:
            try:
                data = udp_receiver.recv(65535)
            except TimeoutError:
                return
            msgs = _messages(data)
            t = dict(msgs)["/VMC/Ext/T"][0]
            got.append((t, {p[0]: p[1] for a, p in msgs if a == "/VMC/Ext/Blend/Val"}))

    th = threading.Thread(target=receive)
    th.start()
    with VMCSink("127.0.0.1", port) as sink:
        stats = stream_video(smile_video, [sink], rig="arkit")
    th.join(10)
    assert stats.frames == 90 and stats.sent == 90
    assert len(got) == 90
    t = np.array([g[0] for g in got])
    smile = np.array([(g[1]["mouthSmileLeft"] + g[1]["mouthSmileRight"]) / 2 for g in got])
    rest, apex = smile[t < 1.5].mean(), smile[(t > 1.95) & (t < 2.25)].mean()
    assert apex > rest + 0.1, (rest, apex)
    assert any(ev.kind in ("micro", "macro") and "AU12" in ev.au_codes for ev in stats.events)
