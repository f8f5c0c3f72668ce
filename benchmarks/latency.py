"""Live-mode latency: a generated 640x480 clip played in real time through `microexpr live`.

For each frame rate (default 60, 120, 200) the same rendered face clip is written at that rate and played
with `--realtime` (frames are released at their own times, as a camera would), through the threaded
pipeline with two landmarker threads. Prints capture-to-output latency p50/p95/p99, achieved frames/s, the
drop ratio and CPU time per analysed frame, in all and by thread group (Linux): ``mediapipe_ms`` is the
landmarker's own inference, the other groups are the work around it (see ``_ThreadCPU``). Targets on 2
cores (issue 6): 120 fps sustained with at most 1% dropped and p95 <= 25 ms.

    python benchmarks/latency.py [--fps 60 120 200] [--seconds 10] [--workers 2]
                                 [--dashboard [--blur]] [--repeat 3] [--switch-ms 1] [--opencv-threads 1]

With ``--dashboard`` each rate is played twice, without and with the live dashboard (server, video encoding,
one WebSocket client reading everything), alternating, and the ratios with/without are printed.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fps", type=float, nargs="+", default=[60.0, 120.0, 200.0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--dashboard", action="store_true", help="also run with the dashboard; print ratios")
    ap.add_argument("--blur", action="store_true", help="with --dashboard: blurred video")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each (alternating); ratios of medians")
    ap.add_argument(
        "--switch-ms", type=float, default=None, help="Python's thread switch interval during each run (ms)"
    )
    ap.add_argument(
        "--opencv-threads",
        type=int,
        default=0,
        help="OpenCV's threads during each run (run_live's opencv_threads; 0, the default: OpenCV's own pool)",
    )
    a = ap.parse_args()

    import pandas as pd

    from microexpr.synth import make_sample_video

    rows = []
    with tempfile.TemporaryDirectory(prefix="mx-lat-") as tmp:
        for fps in a.fps:
            clip = make_sample_video(Path(tmp) / f"clip{int(fps)}.mp4", fps=fps, seconds=a.seconds)
            n_frames = int(round(fps * a.seconds))
            for dash in [d for _ in range(a.repeat) for d in ((False, True) if a.dashboard else (False,))]:
                st, extra = _run(clip, a.workers, dash, a.blur, a.switch_ms, fps, n_frames, a.opencv_threads)
                rows.append(
                    {
                        "fps_in": fps,
                        "dashboard": dash,
                        "fps_out": st["fps"],
                        "p50_ms": st["latency_ms"]["p50"],
                        "p95_ms": st["latency_ms"]["p95"],
                        "p99_ms": st["latency_ms"]["p99"],
                        "drop_ratio": st["drop_ratio"],
                        "frames": st["frames"],
                        "dropped": st["dropped"],
                        **extra,
                    }
                )
                print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    print(df.to_string(index=False))
    if a.dashboard:
        for fps, g in df.groupby("fps_in"):
            cols = ["p50_ms", "p95_ms", "fps_out", "drop_ratio", "cpu_ms_per_frame"]
            off, on = g[~g.dashboard][cols].median(), g[g.dashboard][cols].median()
            print(
                f"{fps:g} fps, dashboard/none: p50 {on.p50_ms / off.p50_ms:.2f}x, "
                f"p95 {on.p95_ms / off.p95_ms:.2f}x, fps {on.fps_out / off.fps_out:.3f}x, "
                f"CPU per frame {on.cpu_ms_per_frame / off.cpu_ms_per_frame:.2f}x "
                f"({off.cpu_ms_per_frame:.1f} -> {on.cpu_ms_per_frame:.1f} ms), "
                f"drop ratio {off.drop_ratio:.3%} -> {on.drop_ratio:.3%}"
            )


def _cpu_s() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class _ThreadCPU:
    """CPU seconds of this process's threads over a run, in groups (Linux /proc; empty elsewhere): MediaPipe's
    own threads (``mediapipe``: the landmarker's inference), and the rest of the work around it: ``analysis``
    (the thread that called run_live: measures, flow, AUs, spotting), ``lm_python`` (the landmarker threads'
    Python side: image hand-over, result read, crops), ``capture`` (reading, decoding, RGB conversion) and
    ``other`` (MediaPipe's dispatcher threads and anything else). Unnamed native threads count as
    ``mediapipe``: that includes OpenCV's pool worker (0.4-0.9 ms a frame), unless ``--opencv-threads 1``
    runs OpenCV's calls in the threads that make them. Threads are sampled every 0.2 s, since they end
    with the run; the groups therefore miss at most the run's last 0.2 s (and threads that live shorter)."""

    def __init__(self) -> None:
        import threading

        self._last: dict[int, tuple[str, float]] = {}
        self._first: dict[int, float] = {}
        self._names: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._main = threading.get_native_id()

    def _sample(self) -> None:
        import os
        import threading

        tick = os.sysconf("SC_CLK_TCK")
        for t in threading.enumerate():
            if t.native_id is not None:
                self._names.setdefault(t.native_id, t.name)
        try:
            tids = os.listdir("/proc/self/task")
        except OSError:
            return
        for tid in tids:
            try:
                with open(f"/proc/self/task/{tid}/stat") as f:
                    stat = f.read()
                with open(f"/proc/self/task/{tid}/comm") as f:
                    comm = f.read().strip()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2 :].split()
            cpu = (int(fields[11]) + int(fields[12])) / tick
            self._first.setdefault(int(tid), cpu)
            self._last[int(tid)] = (comm, cpu)

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            self._sample()

    def __enter__(self) -> _ThreadCPU:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def groups(self) -> dict[str, float]:
        out = {"mediapipe": 0.0, "analysis": 0.0, "lm_python": 0.0, "capture": 0.0, "other": 0.0}
        if not self._last:
            return {}
        for tid, (comm, cpu) in self._last.items():
            used = cpu - self._first.get(tid, cpu)
            name = self._names.get(tid)
            if tid == self._main:
                group = "analysis"
            elif name is not None and name.startswith("mx-lm"):
                group = "lm_python"
            elif (name is not None and name.startswith("mx-capture")) or comm.startswith("av:"):
                group = "capture"
            elif name is None and (comm.startswith("drishti") or comm == "python"):
                group = "mediapipe"  # its graph threads and (unnamed) inference worker threads
            else:
                group = "other"
            out[group] += used
        return out


STEADY_AFTER_S = 2.0  # start-up: each landmarker's priming (~90 ms) and the face's calibration at 1 s


def _steady(seen: list[tuple[int, float]], fps: float, n_frames: int) -> dict:
    """Latency and drops over the frames after the first ``STEADY_AFTER_S`` (the sustained rate)."""
    import numpy as np

    first = int(STEADY_AFTER_S * fps)
    lat = np.array([ms for i, ms in seen if i >= first])
    if len(lat) == 0 or n_frames <= first:
        return {}
    p50, p95, p99 = np.percentile(lat, [50, 95, 99])
    dropped = (n_frames - first) - len(lat)
    return {
        "steady_p50_ms": round(float(p50), 2),
        "steady_p95_ms": round(float(p95), 2),
        "steady_p99_ms": round(float(p99), 2),
        "steady_drop_ratio": round(dropped / (n_frames - first), 6),
    }


def _run(
    clip: Path,
    workers: int,
    dashboard: bool,
    blur: bool,
    switch_ms: float | None = None,
    fps: float = 0.0,
    n_frames: int = 0,
    opencv_threads: int = 0,
) -> tuple[dict, dict]:
    """One real-time run of ``clip``; with ``dashboard``, a page's worth of WebSocket client reads it all."""
    import threading
    import time

    from microexpr.live import LiveStats, open_live, run_live

    src = open_live(str(clip), realtime=True)
    si = switch_ms / 1000.0 if switch_ms else None
    cv_threads = opencv_threads if opencv_threads > 0 else None
    cpu0 = _cpu_s()
    if not dashboard:
        seen: list[tuple[int, float]] = []
        with _ThreadCPU() as by_thread:
            st = run_live(
                src,
                workers=workers,
                switch_interval_s=si,
                opencv_threads=cv_threads,
                # (called with no frame once more at the end, for the events still open then)
                on_frame=lambda fr, _ev, lat_ms: fr is not None and seen.append((fr.index, lat_ms)),
            ).to_dict()
        n = max(st["frames"], 1)
        extra = {"cpu_ms_per_frame": round(1000 * (_cpu_s() - cpu0) / n, 2)}
        extra.update({f"{k}_ms": round(1000 * v / n, 2) for k, v in by_thread.groups().items()})
        extra.update(_steady(seen, fps, n_frames))
        return st, extra
    from websockets.sync.client import connect

    from microexpr.live.outputs import LiveOutputs

    st = LiveStats()
    got = {"messages": 0, "bytes": 0, "cpu_s": 0.0}
    with LiveOutputs.check(dashboard=True, port=0, blur_video=blur).open(src, st) as session:

        def read() -> None:  # stands for the browser: its CPU time is not counted
            t0 = time.thread_time()
            try:
                with connect(f"ws://127.0.0.1:{session.dashboard.port}/ws") as ws:
                    for m in ws:
                        got["messages"] += 1
                        got["bytes"] += len(m)
                        got["cpu_s"] = time.thread_time() - t0
            except Exception:  # noqa: BLE001 - the server closes at the end
                return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        session.wait_for_page(10.0)
        run_live(
            session.source,
            on_frame=session.on_frame,
            workers=workers,
            stats=st,
            switch_interval_s=si,
            opencv_threads=cv_threads,
        )
        session.finish()
        dash = session.dashboard.stats()
    reader.join(5.0)
    cpu = _cpu_s() - cpu0 - got["cpu_s"]
    d = st.to_dict()
    return d, {
        "cpu_ms_per_frame": round(1000 * cpu / max(d["frames"], 1), 2),
        "video_frames": dash["video_frames"],
        "encode_ms": dash["encode_ms_mean"],
        "ws_kb": round(got["bytes"] / 1024),
    }


if __name__ == "__main__":
    main()
