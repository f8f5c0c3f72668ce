"""Cost of storing a subject's analysis encrypted, against writing the plain local output, in one run.

Analyses one rendered clip once, then times (median of --repeat runs): ``result.save`` (the local output:
frames.parquet + CSV + events + meta, no report), ``Store.save_analysis`` (Parquet in memory, AES-256-GCM,
one SQLite transaction, audit entry), ``Store.load_result`` of the frames table, and ``Store.export``.

    python benchmarks/store.py [--seconds 10] [--fps 30] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()

    from microexpr.pipeline import AnalyzeOptions, analyze_video
    from microexpr.store.catalogue import open_store
    from microexpr.store.crypto import new_key
    from microexpr.synth import make_sample_video

    with tempfile.TemporaryDirectory(prefix="mx-store-") as tmp:
        t = Path(tmp)
        clip = make_sample_video(t / "clip.mp4", fps=a.fps, seconds=a.seconds)
        r = analyze_video(clip, AnalyzeOptions(workers=1))
        s = open_store(t / "store", key=new_key(), create=True)
        s.grant("s01", purpose="benchmark", scopes="capture,storage")

        def timed(fn) -> float:  # noqa: ANN001
            runs = []
            for i in range(a.repeat):
                t0 = time.perf_counter()
                fn(i)
                runs.append(time.perf_counter() - t0)
            return statistics.median(runs)

        local = timed(lambda i: r.save(t / f"out{i}", report=False))
        store = timed(lambda i: s.save_analysis("s01", r, context="research", purpose="benchmark"))
        load = timed(lambda i: s.load_result("s01", 1, "frames"))
        export = timed(lambda i: s.export("s01", t / f"exp{i}"))
        db_mib = (t / "store" / "catalogue.sqlite").stat().st_size / 2**20 / a.repeat
        s.close()
    print(f"{r.n_rows} rows ({a.seconds:g} s at {a.fps:g} fps), median of {a.repeat}")
    print(f"local output (no report)   {local * 1000:8.1f} ms   1.00x")
    print(
        f"store.save_analysis        {store * 1000:8.1f} ms   {store / local:.2f}x   ({db_mib:.1f} MiB per analysis)"
    )
    print(f"store.load_result(frames)  {load * 1000:8.1f} ms   {load / local:.2f}x")
    print(f"store.export ({a.repeat} analyses) {export * 1000:8.1f} ms   {export / local:.2f}x")


if __name__ == "__main__":
    main()
