"""Throughput of `microexpr batch`: 1 and 2 local workers and Ray (local, 2 CPUs) on the same videos.

Renders N short 640x480 clips (the demo clip, two faces alternating), then, side by side in one run:
  baseline: a plain loop in this process (`analyze_video(workers=1)` then `.save`), the cost of the work;
  batch with 1 local worker, with 2 local workers, and with Ray on a local 2-CPU instance (started inside
  the timed run, and already running before it).
Prints frames/s, the speed-up against 1 worker, Ray against local, and the overhead per video (batch with 1
worker against the plain loop: worker start, planning, hashing, the table). No report.html (its cost is
the same everywhere and not what is measured).

    RAY_USAGE_STATS_ENABLED=0 python benchmarks/batch.py [--clips 6] [--seconds 10] [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def make_clips(folder: Path, n: int, seconds: float) -> int:
    from microexpr.synth import make_sample_video

    folder.mkdir(parents=True, exist_ok=True)
    first = make_sample_video(folder / "clip0.mp4", fps=30.0, seconds=seconds)
    second = make_sample_video(folder / "clip1.mp4", fps=30.0, seconds=seconds, face="hopper")
    for i in range(2, n):
        shutil.copy(first if i % 2 == 0 else second, folder / f"clip{i}.mp4")
    from microexpr.io import open_source

    total = 0
    for p in sorted(folder.glob("*.mp4")):
        with open_source(p) as src:
            total += int(src.info.frame_count or 0)
    return total


def plain_loop(folder: Path, out: Path) -> float:
    from microexpr.pipeline import analyze_video

    t = time.perf_counter()
    for p in sorted(folder.glob("*.mp4")):
        analyze_video(p, workers=1).save(out, report=False)
    return time.perf_counter() - t


def batch(folder: Path, out: Path, workers: int, executor: str = "local") -> float:
    from microexpr.batch import BatchOptions, run_batch

    t = time.perf_counter()
    rows = run_batch(folder, out, BatchOptions(workers=workers, executor=executor, report=False))
    dt = time.perf_counter() - t
    bad = [r for r in rows if r["status"] != "ok"]
    if bad:
        raise SystemExit(f"batch failed: {bad[0]}")
    return dt


def warm_ray(folder: Path, out: Path) -> float:
    """Ray with the local instance started before the clock starts (what a long-lived cluster sees)."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        return batch(folder, out, 2, "ray")
    finally:
        ray.shutdown()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--repeat", type=int, default=1, help="runs of each configuration (median reported)")
    ap.add_argument("--no-ray", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mx-batch-bench-") as tmp:
        tmp_p = Path(tmp)
        frames = make_clips(tmp_p / "in", a.clips, a.seconds)
        configs = [("plain loop, this process", lambda o: plain_loop(tmp_p / "in", o))]
        configs += [("batch, 1 local worker", lambda o: batch(tmp_p / "in", o, 1))]
        configs += [("batch, 2 local workers", lambda o: batch(tmp_p / "in", o, 2))]
        if not a.no_ray:
            configs += [("batch, Ray local (2 CPUs)", lambda o: batch(tmp_p / "in", o, 2, "ray"))]
            configs += [("batch, Ray already running", lambda o: warm_ray(tmp_p / "in", o))]
        times: dict[str, list[float]] = {name: [] for name, _ in configs}
        k = 0
        for _ in range(a.repeat):
            for name, fn in configs:  # interleaved, so that load from other jobs hits every configuration
                k += 1
                times[name].append(fn(tmp_p / f"out{k}"))
                shutil.rmtree(tmp_p / f"out{k}", ignore_errors=True)
        med = {n: statistics.median(v) for n, v in times.items()}
    one = med["batch, 1 local worker"]
    two = med["batch, 2 local workers"]
    print(
        f"{a.clips} clips x {a.seconds:g} s at 30 fps, 640x480 = {frames} frames; median of {a.repeat} run(s)"
    )
    print(f"{'configuration':32s} {'seconds':>8s} {'frames/s':>9s} {'vs 1 worker':>12s}")
    for name in times:
        print(f"{name:32s} {med[name]:8.1f} {frames / med[name]:9.1f} {one / med[name]:11.2f}x")
    print(f"2 workers vs 1: {one / two:.2f}x (target >= 1.8x)")
    if "batch, Ray local (2 CPUs)" in med:
        ray_t = med["batch, Ray local (2 CPUs)"]
        print(
            f"Ray vs 2 local workers: {two / ray_t:.2f}x speed ({(ray_t / two - 1) * 100:+.0f}% time; target within 10%)"
        )
    print(
        f"overhead per video (1 worker vs plain loop): {(one - med['plain loop, this process']) / a.clips * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
