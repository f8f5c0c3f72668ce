"""Streaming: end-to-end delay from a frame entering the pipeline to its VMC bundle received on loopback,
and messages per second sustained, at 120 fps input.

A rendered 120 fps clip (the sample face, 640x480) is streamed with `stream_video` to a VMCSink; a thread
receives on 127.0.0.1 and decodes each bundle with python-osc. For every frame:
    delay = (receive time) - (time the pipeline was asked for the frame: decoding, landmarks, AUs, retarget,
            OSC encoding and the UDP hop all count).
Baselines measured in the same run: the pipeline alone (no sink; frames/s), and the sink alone (retargeted
frames encoded and sent as fast as possible: bundles/s and OSC messages/s received, and losses).

    python benchmarks/streaming.py [--seconds 3] [--fps 120] [--rig arkit]
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def _receiver(sock: socket.socket, got: list, stop: threading.Event) -> None:
    """Record raw datagrams and their arrival times (decoded afterwards, so that decoding cannot drop any)."""
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            data = sock.recv(65535)
        except TimeoutError:
            continue
        got.append((data, time.perf_counter()))


def _decode(got: list) -> list[tuple[float, float, int]]:
    """(frame time from /VMC/Ext/T, arrival time, OSC messages in the bundle) per datagram, via python-osc."""
    from pythonosc.osc_bundle import OscBundle

    out = []
    for data, t in got:
        b = OscBundle(data)
        t_s = next(m.params[0] for m in b if m.address == "/VMC/Ext/T")
        out.append((t_s, t, b.num_contents))
    return out


def _pct(x: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(x), q)) if x else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--fps", type=float, default=120.0)
    ap.add_argument("--rig", default="arkit")
    ap.add_argument("--sink-frames", type=int, default=20000)
    a = ap.parse_args()

    from microexpr.pipeline import AnalyzeOptions, iter_analyze
    from microexpr.stream import AvatarFrame, VMCSink
    from microexpr.stream.run import Retargeters, stream_video
    from microexpr.synth import make_sample_video

    with tempfile.TemporaryDirectory(prefix="mx-stream-") as tmp:
        clip = make_sample_video(Path(tmp) / "clip.mp4", fps=a.fps, seconds=a.seconds)

        # baseline 1: the pipeline alone
        t0 = time.perf_counter()
        n_base = sum(1 for _ in iter_analyze(clip, AnalyzeOptions(workers=1)))
        base_fps = n_base / (time.perf_counter() - t0)

        # the pipeline with the VMC sink, received on loopback
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rx.bind(("127.0.0.1", 0))
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        got: list = []
        stop = threading.Event()
        th = threading.Thread(target=_receiver, args=(rx, got, stop), daemon=True)
        th.start()
        entered: dict[float, float] = {}

        class Recording(VMCSink):
            def send(self, frame: AvatarFrame) -> None:
                entered[round(frame.t_s, 6)] = frame.t_enter
                super().send(frame)

        with Recording("127.0.0.1", rx.getsockname()[1]) as sink:
            stats = stream_video(clip, [sink], rig=a.rig)
        time.sleep(0.3)
        got[:] = _decode(got)
        delays = [
            1000 * (t - entered[round(float(np.float32(ts)), 6)])
            for ts, t, _ in got
            if round(float(np.float32(ts)), 6) in entered
        ]
        if len(delays) < len(got):  # float32 time on the wire: match to the nearest sent time
            keys = np.array(sorted(entered))
            delays = [1000 * (t - entered[float(keys[np.argmin(np.abs(keys - ts))])]) for ts, t, _ in got]
        e2e_fps = stats.frames / stats.wall_s

        # baseline 2: the sink alone (retargeted frames, encoded and sent as fast as possible)
        got.clear()  # the receiver keeps running: same list, fresh contents
        rts = Retargeters(a.rig)

        class _Face:
            face_id, calibrated = 0, True
            blendshapes = np.linspace(0, 1, 52, dtype=np.float32)
            au = {"AU12": 1.0}
            pose, gaze = np.zeros(6), np.zeros(2)

        frames = [rts.frame(i, i / a.fps, _Face, 0.0) for i in range(a.sink_frames)]
        with VMCSink("127.0.0.1", rx.getsockname()[1]) as sink:
            t0 = time.perf_counter()
            for i, f in enumerate(frames):
                sink.send(f)
                if i % 200 == 199:
                    time.sleep(0.0005)  # let the receiver thread run (2 cores, GIL)
            send_s = time.perf_counter() - t0
        time.sleep(0.5)
        stop.set()
        th.join(2)
        rx.close()
        got[:] = _decode(got)
        n_msgs = got[0][2] if got else 0

    print(f"clip: {a.seconds:g} s at {a.fps:g} fps ({stats.frames} frames), rig {a.rig}")
    print(f"pipeline alone:            {base_fps:7.1f} frames/s")
    print(
        f"pipeline + VMC sink:       {e2e_fps:7.1f} frames/s ({e2e_fps / base_fps:.2f} x the pipeline alone)"
    )
    print(f"frames received:           {len(delays)} of {stats.sent}")
    print(
        f"delay frame-in -> VMC rx:  p50 {_pct(delays, 50):6.2f} ms  p95 {_pct(delays, 95):6.2f} ms  "
        f"max {max(delays) if delays else float('nan'):6.2f} ms"
    )
    print(
        f"sink alone:                {a.sink_frames / send_s:7.0f} bundles/s sent, {len(got)} of {a.sink_frames} "
        f"received, {n_msgs} OSC messages per bundle = {n_msgs * len(got) / send_s:,.0f} messages/s"
    )
    print(f"at {a.fps:g} fps input the sink needs {a.fps:g} bundles/s = {a.fps * n_msgs:,.0f} messages/s")


if __name__ == "__main__":
    main()
