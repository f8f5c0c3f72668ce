"""`microexpr stream` as a user runs it: a real process sending to real sockets; bad input is one line."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading

import pytest
from pythonosc.osc_bundle import OscBundle

from microexpr.avatar.rig import VRM1_NAMES

from .test_livelink import parse_livelink


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "microexpr", *args], capture_output=True, text=True, timeout=300
    )


def _drain(sock: socket.socket, out: list[bytes]) -> None:
    sock.settimeout(120.0)  # the process starts (imports, model) before the first packet
    while True:
        try:
            out.append(sock.recv(65535))
        except TimeoutError:
            return
        sock.settimeout(3.0)


def test_stream_sends_vmc_with_a_vrm_rig_and_live_link_at_once(smile_video, udp_receiver):
    ll = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ll.bind(("127.0.0.1", 0))
    got_vmc: list[bytes] = []
    got_ll: list[bytes] = []
    threads = [
        threading.Thread(target=_drain, args=(udp_receiver, got_vmc)),
        threading.Thread(target=_drain, args=(ll, got_ll)),
    ]
    try:
        p = subprocess.Popen(
            [sys.executable, "-m", "microexpr", "stream", str(smile_video), "--rig", "vrm1", "--gain", "happy=4",
             "--vmc", f"127.0.0.1:{udp_receiver.getsockname()[1]}", "--livelink", f"127.0.0.1:{ll.getsockname()[1]}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        for th in threads:
            th.start()
        stdout, stderr = p.communicate(timeout=300)
        for th in threads:
            th.join(10)
    finally:
        ll.close()
    assert p.returncode == 0, stderr
    assert "streamed 90 frames" in stdout
    assert len(got_vmc) == 90 and len(got_ll) == 90
    names, happy = set(), []
    for data in got_vmc:
        b = OscBundle(data)
        vals = {m.params[0]: m.params[1] for m in b if m.address == "/VMC/Ext/Blend/Val"}
        names |= set(vals)
        happy.append(vals["happy"])
    assert names == set(VRM1_NAMES)
    assert max(happy[57:68]) > 0.2 and max(happy[:45]) < 0.1  # the smile (1.9-2.25 s) reads as "happy"
    pk = [parse_livelink(d) for d in got_ll]
    assert all(x["count"] == 61 for x in pk)
    assert max(x["values"]["MouthSmileLeft"] for x in pk[57:68]) > max(
        x["values"]["MouthSmileLeft"] for x in pk[:45]
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["missing.mp4", "--vmc", ":39539"], "missing.mp4"),
        (["0", "--vmc", ":39539"], "issue #6"),
        (["/dev/video0", "--ws", ":0"], "issue #6"),
        (["{video}"], "--vmc"),
        (["{video}", "--vmc", "127.0.0.1:99999"], "port"),
        (["{video}", "--vmc", "127.0.0.1:x"], "port"),
        (["{video}", "--vmc", ":9", "--rig", "nosuchrig"], "nosuchrig"),
        (["{video}", "--vmc", ":9", "--gain", "Joy=2"], "Joy"),
        (["{video}", "--vmc", ":9", "--gain", "-3"], "--gain"),
    ],
)
def test_bad_input_is_a_one_line_error(tmp_path, args, needle):
    video = tmp_path / "not_a_video.mp4"
    video.write_bytes(b"\x00" * 100)
    p = run("stream", *[a.replace("{video}", str(video)) for a in args])
    assert p.returncode == 2, p.stdout + p.stderr
    assert "Traceback" not in p.stderr
    lines = [ln for ln in p.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0], p.stderr


def test_a_corrupt_video_is_a_one_line_error(tmp_path):
    video = tmp_path / "corrupt.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x07" * 1000)
    p = run("stream", str(video), "--vmc", "127.0.0.1:9")
    assert p.returncode != 0 and "Traceback" not in p.stderr and "corrupt.mp4" in p.stderr
