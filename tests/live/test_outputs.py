"""`microexpr live` with streaming sinks and the dashboard's endpoints: real processes, real loopback sockets,
one-line errors for bad options."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from pythonosc.osc_bundle import OscBundle

from microexpr.stream.base import SinkBase
from microexpr.types import Event
from tests.cli_checks import assert_one_line_error


def _cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "microexpr", *args], capture_output=True, text=True, timeout=300, **kw
    )


def _udp() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    return s


def _drain(sock: socket.socket, out: list[bytes]) -> None:
    sock.settimeout(120.0)  # the process starts (imports, model) before the first packet
    while True:
        try:
            out.append(sock.recv(65535))
        except (TimeoutError, OSError):
            return
        sock.settimeout(3.0)


def test_live_sends_every_face_frame_to_vmc_and_live_link(smile_video, tmp_path):
    vmc, ll = _udp(), _udp()
    got_vmc: list[bytes] = []
    got_ll: list[bytes] = []
    threads = [threading.Thread(target=_drain, args=a) for a in ((vmc, got_vmc), (ll, got_ll))]
    for t in threads:
        t.start()
    stats = tmp_path / "s.json"
    try:
        p = _cli("live", str(smile_video), "--realtime", "--stats", str(stats),
                 "--vmc", f"127.0.0.1:{vmc.getsockname()[1]}",
                 "--livelink", f"127.0.0.1:{ll.getsockname()[1]}")  # fmt: skip
        for t in threads:
            t.join(30)
    finally:
        vmc.close()
        ll.close()
    assert p.returncode == 0, p.stderr
    d = json.loads(stats.read_text())
    sinks = d["sinks"]
    assert sinks["offered"] == d["frames"] >= 80  # every analysed frame of this clip has the face
    assert sinks["sent"] + sinks["dropped"] == sinks["offered"]
    assert len(got_vmc) == sinks["sent"] == len(got_ll) and sinks["sent"] > 0.9 * d["frames"]
    assert sinks["events"] == d["events"] >= 1  # the smile's event went to the sinks too
    smile, t_s = [], []
    for data in got_vmc:
        msgs = list(OscBundle(data))
        vals = {m.params[0]: m.params[1] for m in msgs if m.address == "/VMC/Ext/Blend/Val"}
        assert len(vals) == 52 and any(m.address == "/VMC/Ext/Bone/Pos" for m in msgs)  # the ARKit rig
        smile.append(vals["mouthSmileLeft"])
        t_s.append(next(m.params[0] for m in msgs if m.address == "/VMC/Ext/T"))
    t_s, smile = np.array(t_s), np.array(smile)
    assert np.all(np.diff(t_s) > 0)  # in frame order
    assert smile[(t_s > 1.95) & (t_s < 2.25)].max() > smile[t_s < 1.4].max() + 0.2  # the smile (1.6-2.6 s)


class _SlowSink(SinkBase):
    """Stands for a receiver that cannot keep up: each frame takes 20 ms to send."""

    def __init__(self) -> None:
        self.frames: list[int] = []
        self.events: list[int] = []

    def send(self, frame) -> None:
        time.sleep(0.02)
        self.frames.append(frame.index)

    def event(self, ev) -> None:
        self.events.append(ev.onset_frame)


def test_a_slow_sink_drops_the_oldest_frames_but_never_an_event(smile_video):
    from microexpr.live import open_live, run_live
    from microexpr.live.sinks import SinkWorker
    from microexpr.stream.run import SinkFeed

    results = []
    run_live(open_live(str(smile_video)), on_frame=lambda fr, ev, lat: fr and results.append(fr))
    sink = _SlowSink()
    worker = SinkWorker(SinkFeed([sink]), queue_frames=8)
    events = [
        Event(0, "micro", k, k + 1, k + 2, k / 30, (k + 1) / 30, (k + 2) / 30, ("AU12",))
        for k in range(0, 90, 3)
    ]
    for fr in results:  # all 90 frames at once: far faster than 20 ms a frame
        worker.put(fr, [e for e in events if e.onset_frame == fr.index])
        assert worker.stats()["queue"] <= 8  # bounded
    worker.close()  # flushes what is queued
    st = worker.stats()
    assert st["dropped"] > 0 and st["sent"] + st["dropped"] == st["offered"] == 90
    assert sink.frames == sorted(sink.frames) and len(sink.frames) == st["sent"]
    assert sink.frames[-1] == 89  # the newest frames are the ones kept
    assert sink.events == [e.onset_frame for e in events]  # every event, in order


def test_the_stats_endpoint_serves_until_ctrl_c_after_the_source_ends(smile_video, tmp_path):
    import httpx

    port = _free_port()
    stats = tmp_path / "s.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "microexpr", "live", str(smile_video), "--realtime", "--dashboard",
         "--no-video", "--port", str(port), "--stats", str(stats)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        seen_running, last = False, None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                last = httpx.get(f"http://127.0.0.1:{port}/stats", timeout=2).json()
            except httpx.HTTPError:
                assert proc.poll() is None, proc.stderr.read()
                time.sleep(0.2)
                continue
            seen_running |= last["running"] and last["frames"] > 0
            if not last["running"] and last["frames"] > 0:
                break
            time.sleep(0.2)
        assert seen_running  # figures while it runs
        assert last["frames"] + last["dropped"] == 90 and last["latency_ms"]["p95"] > 0
        assert {"p50", "p95", "p99"} <= set(last["latency_ms"]) and last["fps"] > 0
        time.sleep(1.0)
        assert proc.poll() is None  # the file has ended, the dashboard still serves
        assert httpx.get(f"http://127.0.0.1:{port}/stats", timeout=2).json()["frames"] == last["frames"]
        assert httpx.get(f"http://127.0.0.1:{port}/static/../../pyproject.toml", timeout=2).status_code == 404
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        proc.wait(20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == 0
    assert json.loads(stats.read_text())["frames"] == last["frames"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--vmc", "127.0.0.1:99999"], "--vmc"),
        (["--livelink", "127.0.0.1:x"], "--livelink"),
        (["--vmc", ":9", "--rig", "nosuchrig"], "nosuchrig"),
        (["--vmc", ":9", "--gain", "-3"], "--gain"),
        (["--blur-video"], "--dashboard"),
        (["--dashboard", "--blur-video", "--no-video"], "--no-video"),
        (["--dashboard", "--host", "bad host;"], "bad host"),
        (["--stored-subject", "x"], "--stored-subject"),
    ],
)
def test_bad_output_options_are_one_line_errors(smile_video, args, needle):
    assert_one_line_error(_cli("live", str(smile_video), *args), needle)


def test_streaming_a_stored_subject_without_streaming_consent_sends_nothing(smile_video, tmp_path):
    from microexpr.store.crypto import encode_key, new_key

    env = {**os.environ, "MICROEXPR_KEY": encode_key(new_key())}
    st = tmp_path / "store"
    assert _cli("store", "init", "--store", str(st), env=env).returncode == 0
    p = _cli("consent", "grant", "bob", "--purpose", "research", "--scope", "capture,storage",
             "--store", str(st), env=env)  # fmt: skip
    assert p.returncode == 0, p.stderr
    rx = _udp()
    rx.settimeout(0.5)
    try:
        p = _cli("live", str(smile_video), "--vmc", f"127.0.0.1:{rx.getsockname()[1]}",
                 "--stored-subject", "bob", "--store", str(st), env=env)  # fmt: skip
        assert_one_line_error(p, "streaming")
        with pytest.raises(TimeoutError):
            rx.recv(65536)  # nothing was sent
    finally:
        rx.close()


def test_blurred_video_hides_the_face_and_keeps_the_rest(smile_video):
    import av
    import cv2

    from microexpr.live.dashboard import _face_boxes, video_jpeg
    from microexpr.pipeline import FrameAnalyzer
    from microexpr.track.landmarker import FaceLandmarker
    from microexpr.track.observe import detect_raw

    with av.open(str(smile_video)) as c:
        image = next(c.decode(video=0)).to_ndarray(format="rgb24")
    with FaceLandmarker(None, mode="image") as lm:
        faces, _ = detect_raw(lm, image, 0.0)
    fr = FrameAnalyzer().process(0, 0.0, faces)
    boxes = _face_boxes(fr)
    assert len(boxes) == 1

    def decode(b: bytes) -> np.ndarray:
        return cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_GRAYSCALE).astype(np.float64)

    plain, blurred = decode(video_jpeg(image, boxes)), decode(video_jpeg(image, boxes, blur=True))
    assert plain.shape[1] == 320 and plain.shape == blurred.shape  # scaled down to 320 px wide
    s = 320 / image.shape[1]
    x0, y0, x1, y1 = (int(v * s) for v in boxes[0])
    x0, y0 = max(x0, 0) + 2, max(y0, 0) + 2

    def detail(a: np.ndarray) -> float:
        return float(cv2.Laplacian(a, cv2.CV_64F).var())

    face_plain, face_blur = plain[y0 : y1 - 2, x0 : x1 - 2], blurred[y0 : y1 - 2, x0 : x1 - 2]
    assert detail(face_blur) < 0.2 * detail(face_plain)  # the face is pixelated
    outside = np.ones(plain.shape, bool)
    outside[max(y0 - 12, 0) : y1 + 10, max(x0 - 12, 0) : x1 + 10] = False
    assert np.abs(plain[outside] - blurred[outside]).mean() < 2.0  # the rest is as it was
    whole = decode(video_jpeg(image, [], blur=True))  # no face found: nothing is shown sharp
    assert detail(whole) < 0.2 * detail(plain)


def test_the_page_is_told_a_source_name_without_folders_or_credentials():
    from microexpr.live.outputs import display_name

    assert display_name("rtsp://user:secret@cam.local:8554/live?token=abc") == "rtsp://cam.local:8554"
    assert display_name("/home/ana/sessions/2026-11-24 ana.mp4") == "2026-11-24 ana.mp4"
    assert display_name("/dev/video0") == "/dev/video0"
