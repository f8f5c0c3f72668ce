"""Live Link Face packets on loopback, read back by a parser written here from the published layout."""

from __future__ import annotations

import struct

import pytest

from microexpr.avatar.rig import LIVELINK_EXTRA, LIVELINK_NAMES
from microexpr.errors import OptionError
from microexpr.stream import AvatarFrame, LiveLinkSink


def parse_livelink(data: bytes) -> dict:
    """Test-side decoder: uint8 version, int32 + device id, int32 + subject, int32 frame, float32 subframe,
    int32 rate numerator, int32 rate denominator, uint8 count, count float32 (all big-endian)."""
    pos = 0
    (version,) = struct.unpack_from(">B", data, pos)
    pos += 1
    (n,) = struct.unpack_from(">i", data, pos)
    device = data[pos + 4 : pos + 4 + n].decode("utf-8")
    pos += 4 + n
    (n,) = struct.unpack_from(">i", data, pos)
    subject = data[pos + 4 : pos + 4 + n].decode("utf-8")
    pos += 4 + n
    frame, sub, num, den, count = struct.unpack_from(">ifiiB", data, pos)
    pos += 17
    values = struct.unpack_from(f">{count}f", data, pos)
    assert pos + 4 * count == len(data), "trailing bytes"
    names = LIVELINK_NAMES + LIVELINK_EXTRA
    return {
        "version": version,
        "device": device,
        "subject": subject,
        "frame": frame,
        "subframe": sub,
        "rate": (num, den),
        "count": count,
        "values": dict(zip(names, values)),
    }


def test_a_packet_has_the_apps_layout_with_61_values_in_live_link_order(udp_receiver):
    port = udp_receiver.getsockname()[1]
    arkit = {n[0].lower() + n[1:]: 0.0 for n in LIVELINK_NAMES}
    arkit.update(mouthSmileLeft=0.5, eyeBlinkRight=0.25, jawOpen=0.75)
    fr = AvatarFrame(
        3, 2.0 + 1 / 120, 0, {}, arkit, head_rad=(0.25, -0.125, 0.5), gaze_rad=(0.0625, -0.03125)
    )
    with LiveLinkSink("127.0.0.1", port, subject="Héloïse", fps=60) as sink:
        sink.send(fr)
        dev = sink.device_id
    p = parse_livelink(udp_receiver.recv(65535))
    assert p["version"] == 6 and p["device"] == dev and p["subject"] == "Héloïse"
    assert p["count"] == 61 and p["rate"] == (60, 1)
    assert p["frame"] == 120 and p["subframe"] == pytest.approx(0.5, abs=1e-4)  # 2 s + half a frame at 60 fps
    v = p["values"]
    assert list(v)[23] == "MouthSmileLeft" and v["MouthSmileLeft"] == 0.5
    assert v["EyeBlinkRight"] == 0.25 and v["JawOpen"] == 0.75 and v["TongueOut"] == 0.0
    assert (v["HeadYaw"], v["HeadPitch"], v["HeadRoll"]) == (0.25, -0.125, 0.5)
    assert (v["LeftEyeYaw"], v["LeftEyePitch"], v["RightEyeYaw"], v["RightEyePitch"]) == (
        0.0625,
        -0.03125,
        0.0625,
        -0.03125,
    )


def test_frame_numbers_count_up_with_time(udp_receiver):
    port = udp_receiver.getsockname()[1]
    with LiveLinkSink("127.0.0.1", port, fps=30) as sink:
        for i in range(5):
            sink.send(AvatarFrame(i, i / 30, 0, {}, {}))
    frames = [parse_livelink(udp_receiver.recv(65535))["frame"] for _ in range(5)]
    assert frames == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("subject", ["", "x" * 500, "bad\nname"])
def test_bad_subject_names_are_refused(subject):
    with pytest.raises(OptionError, match="subject"):
        LiveLinkSink("127.0.0.1", 9, subject=subject)
