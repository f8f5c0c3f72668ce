"""Throughput and memory of `microexpr analyze`, measured side by side in one run.

On the same generated 640x480 clip (a real face photo with rendered AUs and head motion):
  decode-only frames/s (PyAV), raw Face Landmarker frames/s in one process (decode + detect_for_video: the
  floor any user loop gets; plus pure inference on frames already decoded), and full `analyze` frames/s
  (the library call, tables written). Prints the ratios.
Memory: peak RSS of the whole `microexpr analyze` process tree for a 10-second and a 10-minute video.

    python benchmarks/throughput.py [--seconds 20] [--long-minutes 10] [--skip-memory]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import av


def make_clip(path: Path, seconds: float, fps: float = 30.0) -> Path:
    from microexpr.synth import make_sample_video

    return make_sample_video(path, fps=fps, seconds=seconds)


def loop_video(src: Path, dst: Path, repeats: int) -> Path:
    """A long video made by repeating a short one (re-encoded with continuous timestamps)."""
    with av.open(str(src)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        fps = c.streams.video[0].average_rate
    from microexpr.synth import write_video

    def gen():
        for _ in range(repeats):
            yield from frames

    return write_video(gen(), dst, fps=float(fps))


def decode_fps(path: Path) -> float:
    from microexpr.io import open_source

    t = time.perf_counter()
    n = 0
    with open_source(path) as src:
        for _ in src:
            n += 1
    return n / (time.perf_counter() - t)


def raw_landmarker_fps(path: Path) -> tuple[float, float]:
    """(decode + detect loop, detect only on pre-decoded frames) in this one process."""
    from microexpr.io import open_source
    from microexpr.track.landmarker import FaceLandmarker

    with FaceLandmarker() as lm, open_source(path) as src:
        frames = []
        t = time.perf_counter()
        for fr in src:
            lm.detect(fr.image, fr.t_s)
            if len(frames) < 300:
                frames.append(fr)
        n = src.info.frame_count or 0
        loop = n / (time.perf_counter() - t)
    with FaceLandmarker() as lm:
        t = time.perf_counter()
        for fr in frames:
            lm.detect(fr.image, fr.t_s)
        pure = len(frames) / (time.perf_counter() - t)
    return loop, pure


def _raw_loop_process(path: str, q) -> None:  # noqa: ANN001
    loop, _ = raw_landmarker_fps(Path(path))
    q.put(loop)


def parallel_raw_fps(path: Path, processes: int) -> float:
    """Sum of frames/s of ``processes`` independent raw loops run at once: the machine's ceiling for
    process-level parallelism (cores that share caches and memory bandwidth do not scale perfectly)."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    ps = [ctx.Process(target=_raw_loop_process, args=(str(path), q)) for _ in range(processes)]
    for p in ps:
        p.start()
    total = sum(q.get() for _ in ps)
    for p in ps:
        p.join()
    return total


def analyze_fps(path: Path, out: Path, workers: int) -> float:
    from microexpr import analyze_video

    t = time.perf_counter()
    r = analyze_video(path, workers=workers)
    r.save(out)
    return r.n_rows / (time.perf_counter() - t)


def _tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants, in KiB (Linux /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                parts = f.read().rsplit(")", 1)[1].split()
            ppid, pages = int(parts[1]), int(parts[21])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
        rss[int(d)] = pages * os.sysconf("SC_PAGE_SIZE") // 1024
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo += children.get(p, [])
    return total


def peak_rss_mb(path: Path, out: Path) -> tuple[float, float]:
    """(peak RSS of the process tree in MiB, wall seconds) of `microexpr analyze path`."""
    t = time.perf_counter()
    workers = str(os.cpu_count() or 1)  # the same process layout for both lengths
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "microexpr",
            "analyze",
            str(path),
            "-o",
            str(out),
            "--quiet",
            "--workers",
            workers,
        ]
    )
    peak = [0]

    def poll() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss_kb(proc.pid))
            time.sleep(0.05)

    th = threading.Thread(target=poll)
    th.start()
    proc.wait()
    th.join()
    if proc.returncode:
        raise SystemExit(f"analyze failed on {path}")
    return peak[0] / 1024, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the throughput clip")
    ap.add_argument("--long-minutes", type=float, default=10.0, help="length of the long memory clip")
    ap.add_argument("--skip-memory", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mx-bench-") as tmp:
        tmp = Path(tmp)
        clip = make_clip(tmp / "clip.mp4", a.seconds)
        print(f"clip: 640x480, 30 fps, {a.seconds:g} s, {os.cpu_count()} cores")
        dec = decode_fps(clip)
        loop, pure = raw_landmarker_fps(clip)
        ceiling = parallel_raw_fps(clip, os.cpu_count() or 1)
        full1 = analyze_fps(clip, tmp / "o1", workers=1)
        full = analyze_fps(clip, tmp / "o2", workers=0)
        print(f"decode only (PyAV)                       {dec:8.1f} frames/s")
        print(f"raw landmarker, decode+detect, 1 process {loop:8.1f} frames/s   (the floor)")
        print(f"raw landmarker, detect only, 1 process   {pure:8.1f} frames/s")
        print(f"raw loops, one per core, run at once     {ceiling:8.1f} frames/s   (machine ceiling)")
        print(f"full analyze, 1 worker                   {full1:8.1f} frames/s")
        print(f"full analyze, default (1 per core)       {full:8.1f} frames/s")
        print(f"ratio full / raw decode+detect           {full / loop:8.2f}x   (target >= 1.6)")
        print(f"ratio full / raw detect only             {full / pure:8.2f}x")
        print(f"ratio ceiling / raw decode+detect        {ceiling / loop:8.2f}x")
        if a.skip_memory:
            return
        short = make_clip(tmp / "short.mp4", 10.0)
        long = loop_video(short, tmp / "long.mp4", int(round(a.long_minutes * 6)))
        s_mb, s_t = peak_rss_mb(short, tmp / "m1")
        l_mb, l_t = peak_rss_mb(long, tmp / "m2")
        print(f"peak RSS, 10 s video                     {s_mb:8.1f} MiB   ({s_t:.1f} s wall)")
        print(
            f"peak RSS, {a.long_minutes:g} min video                   {l_mb:8.1f} MiB   ({l_t:.1f} s wall)"
        )
        print(f"ratio long / short                       {l_mb / s_mb:8.2f}x   (target <= 1.2)")


if __name__ == "__main__":
    main()
