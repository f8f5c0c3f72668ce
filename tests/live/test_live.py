"""Live mode: a file played at its real speed through the threaded pipeline, drops counted, stats written."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from microexpr.live import LiveFrame, LiveSource, open_live, run_live
from microexpr.live.pipeline import QUEUE_FRAMES


def test_a_file_played_in_real_time_gives_stats_and_the_event(smile_video, tmp_path):
    stats = tmp_path / "s.json"
    p = subprocess.run(
        [sys.executable, "-m", "microexpr", "live", str(smile_video), "--realtime", "--stats", str(stats)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    d = json.loads(stats.read_text())
    assert {"p50", "p95", "p99"} <= set(d["latency_ms"]) and d["latency_ms"]["p50"] > 0
    assert d["frames"] + d["dropped"] == 90 and d["frames"] >= 80  # ends when the file ends
    assert d["duration_s"] >= 2.9  # played at its own speed (3 s), not as fast as possible
    assert 0 <= d["drop_ratio"] < 0.2 and d["fps"] > 0
    assert "AU12" in p.stdout  # the smile, printed as it closed


def test_a_real_time_file_starts_its_clock_again_after_the_landmarkers_are_primed(smile_video):
    # run_live takes each landmarker's first frame before the clock runs (priming takes ~90 ms); the frames
    # after it must then come at their own pace, not in a burst that would queue behind the priming
    import time

    from microexpr.live import open_live

    src = open_live(str(smile_video), realtime=True)
    first = next(src.frames)
    time.sleep(0.3)  # the priming
    src.restart_clock()
    a, b = next(src.frames), next(src.frames)
    assert first.index == 0 and (a.index, b.index) == (1, 2)
    assert b.captured - a.captured >= 0.8 * (b.t_s - a.t_s)  # paced (a burst would give ~0)
    assert open_live(str(smile_video)).restart_clock is None  # read as fast as taken: no clock to restart


def test_a_file_read_as_fast_as_possible_drops_nothing(smile_video):
    src = open_live(str(smile_video))
    seen = []
    st = run_live(src, on_frame=lambda fr, ev, lat: seen.append(fr.index) if fr is not None else None)
    assert st.dropped == 0 and st.frames == 90 and seen == list(range(90))  # in order, every frame
    assert st.max_queue <= QUEUE_FRAMES  # bounded: capture waits for the pipeline


def test_a_source_faster_than_the_pipeline_drops_the_oldest_and_stays_bounded(smile_video):
    import av

    with av.open(str(smile_video)) as c:
        image = next(c.decode(video=0)).to_ndarray(format="rgb24")
    n = 400

    def burst():
        for i in range(n):  # 400 frames at once: a camera far faster than two landmarkers
            yield LiveFrame(i, i / 1000.0, time.monotonic(), image)

    analysed = []
    st = run_live(
        LiveSource(burst(), True, "burst"),
        on_frame=lambda fr, ev, lat: fr and analysed.append(fr.index),
        queue_size=3,
    )
    assert st.dropped > 0 and st.frames + st.dropped == n
    assert st.max_queue <= 3  # memory never grows with the backlog
    assert analysed == sorted(analysed) and len(analysed) == st.frames  # still in order
    assert st.to_dict()["drop_ratio"] == pytest.approx(st.dropped / n)


def test_stop_ends_the_run_and_flushes(smile_video):
    stop = threading.Event()
    got = []

    def on_frame(fr, ev, lat):
        if fr is not None:
            got.append(fr.index)
            if fr.index >= 20:  # (frame 20 itself may have been dropped on a busy machine)
                stop.set()

    st = run_live(open_live(str(smile_video), realtime=True), on_frame=on_frame, stop=stop)
    assert st.frames == len(got) and 20 <= got[-1] < 89  # ended early, not with the file
    assert np.isfinite(st.to_dict()["latency_ms"]["p95"])


def test_bad_sources_are_one_line_errors(tmp_path, face_model):
    p = subprocess.run(
        [sys.executable, "-m", "microexpr", "live", str(tmp_path / "nope.mp4")],
        capture_output=True,
        text=True,
    )
    assert p.returncode != 0 and "Traceback" not in p.stderr and "not found" in p.stderr
    p = subprocess.run(
        [sys.executable, "-m", "microexpr", "live", "7"], capture_output=True, text=True, timeout=60
    )
    assert p.returncode != 0 and "Traceback" not in p.stderr and "/dev/video7" in p.stderr


def test_a_network_stream_over_http_on_loopback(smile_video, tmp_path):
    import functools
    import http.server

    import av

    ts = tmp_path / "smile.ts"  # MPEG-TS: a format made for streaming (no seeking back for an index)
    with av.open(str(smile_video)) as src, av.open(str(ts), "w", format="mpegts") as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/smile.ts"
        src = open_live(url)
        assert src.live  # a stream never waits for the pipeline
        st = run_live(src, queue_size=1000)  # a queue long enough that nothing is dropped here
        assert st.frames + st.dropped == 90 and st.frames > 0
    finally:
        server.shutdown()
        server.server_close()


def test_stats_percentiles_stay_exact_to_a_bin_with_bounded_memory():
    from microexpr.live.pipeline import LAT_BIN_MS, LiveStats

    rng = np.random.default_rng(3)
    lat = rng.gamma(3.0, 4.0, 50_000)
    st = LiveStats(recent_frames=100)
    size = st._hist.nbytes
    for v in lat:
        st.add_latency(v)
    st.duration_s = 10.0
    d = st.to_dict()
    for p in (50, 95, 99):
        assert abs(d["latency_ms"][f"p{p}"] - np.percentile(lat, p)) <= LAT_BIN_MS
    assert d["frames"] == 50_000 and d["fps"] == pytest.approx(5000.0)
    assert st._hist.nbytes == size and len(st._recent) == 100  # nothing grows with the run
    assert st.to_dict(recent=True)["latency_ms"]["p50"] == pytest.approx(
        np.percentile(lat[-100:], 50), abs=1e-3
    )
