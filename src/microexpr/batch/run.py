"""Run a batch: plan what is left to do, deal it to local worker processes or Ray actors, keep the table true.

Each input gets exactly `microexpr analyze`'s outputs in ``OUT/<relative path>/``, written atomically, plus
a ``.batch.json`` marker with its content key. An input whose marker matches its content and parameters is
``skipped``; a failure is recorded with its one-line error and never stops the others; OUT/batch.csv is
rewritten (atomically) as each input finishes, so a killed batch leaves a truthful table and the next run
picks up where it stopped.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from microexpr.batch.inputs import BatchInput, find_inputs
from microexpr.batch.ledger import content_key, read_marker, read_table, write_marker, write_table
from microexpr.errors import MicroexprError, OptionError, OutputError

SINGLE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MICROEXPR_THREADS": "1",
}


@dataclass(frozen=True)
class BatchOptions:
    """How a batch runs (analysis settings are the same for every input, as `analyze` takes them)."""

    workers: int = 0  # worker processes (or Ray actors); 0 = one per core
    executor: str = "local"  # "local" processes or "ray"
    address: str | None = None  # Ray cluster address; None starts a local Ray instance
    retry_failed: bool = False  # analyse again the inputs an earlier run recorded as failed
    analysis: dict = field(default_factory=dict)  # AnalyzeOptions fields (max_faces, landmark_mode, fps, ...)
    report: bool = True  # write report.html for each input
    csv: bool = True  # write frames.csv besides frames.parquet
    chunk_frames: int = 240  # frames per time chunk of a long video (observed in parallel, then stitched)

    def __post_init__(self) -> None:
        if self.executor not in ("local", "ray"):
            raise OptionError(f"--executor must be 'local' or 'ray', but got {self.executor!r}")
        if not 0 <= self.workers <= 256:
            raise OptionError(f"--workers must be between 0 (one per core) and 256, but got {self.workers}")
        if not 8 <= self.chunk_frames <= 1_000_000:
            raise OptionError(f"--chunk-frames must be between 8 and 1000000, but got {self.chunk_frames}")


def _n_workers(opts: BatchOptions) -> int:
    return opts.workers or max(1, os.cpu_count() or 1)


def _versions() -> dict:
    from microexpr import __version__
    from microexpr.track.model import MODEL_SHA256

    return {"microexpr": __version__, "model_sha256": MODEL_SHA256}


def run_job(job: dict) -> dict:
    """Analyse one input and save its outputs (in whatever process runs it); never raises.

    Args:
        job: ``{"input", "out_parent", "analysis" (AnalyzeOptions fields), "key", "workers", "report", "csv"}``.

    Returns:
        A batch.csv row: input, status (ok or failed), frames, faces, events, seconds, error, output.
    """
    from microexpr.pipeline import AnalyzeOptions, analyze_video
    from microexpr.track import observe

    t0 = time.perf_counter()
    row = {"input": job["input"], "status": "failed", "frames": 0, "faces": 0, "events": 0, "error": ""}
    row["output"] = ""
    try:
        a = dict(job["analysis"])
        if a.get("neutral") is not None:
            a["neutral"] = tuple(a["neutral"])
        opts = AnalyzeOptions(**{**a, "workers": job.get("workers", 1)})
        chunk = observe.CHUNK_FRAMES
        try:  # observe.plan_chunks reads the chunk length here; only batch worker processes get here
            observe.CHUNK_FRAMES = int(job.get("chunk_frames", chunk))
            result = analyze_video(job["input"], opts)
        finally:
            observe.CHUNK_FRAMES = chunk
        folder = result.save(
            Path(job["out_parent"]), csv=job.get("csv", True), report=job.get("report", True)
        )
        c = result.meta()["counts"]
        row.update(status="ok", frames=c["frames"], faces=c["faces"], events=c["events"], output=str(folder))
        mark = {"key": job["key"], "input": job["input"], "subject": job.get("subject")}
        write_marker(folder, {**mark, **{k: row[k] for k in ("frames", "faces", "events")}})
    except MicroexprError as e:
        row["error"] = str(e).splitlines()[0] if str(e) else e.__class__.__name__
    except Exception as e:  # noqa: BLE001  one bad input must not stop the batch; the table says why
        row["error"] = f"{e.__class__.__name__}: {str(e).splitlines()[0] if str(e) else ''}".strip()
    row["seconds"] = round(time.perf_counter() - t0, 3)
    return row


def _frames_of(inp: BatchInput) -> int:
    """Frame count for planning (0 when unknown)."""
    from microexpr.io import open_source

    try:
        with open_source(inp.path, fps=inp.fps or 30.0) as src:
            return int(src.info.frame_count or 0)
    except Exception:  # noqa: BLE001  the job itself will report the error
        return 0


def _effective(analysis: dict) -> dict:
    """Every AnalyzeOptions field with its value (defaults filled in), as the content key hashes them: the
    same analysis asked for in different words is the same analysis."""
    from dataclasses import asdict

    from microexpr.pipeline import AnalyzeOptions

    a = asdict(AnalyzeOptions(**{k: v for k, v in analysis.items() if k != "workers"}))
    a.pop("workers")  # how many processes observe a video does not change what is measured
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in a.items()}


def plan(root: Path, out: Path, opts: BatchOptions) -> tuple[list[dict], list[dict]]:
    """(rows for every input in order, jobs still to run). Rows of inputs that need no work are final."""
    inputs = find_inputs(root)
    previous = read_table(out)
    base = _effective(opts.analysis)
    rows: list[dict] = []
    jobs: list[dict] = []
    seen: dict[Path, str] = {}
    for inp in inputs:
        row = {"input": inp.key, "status": "pending", "frames": 0, "faces": 0, "events": 0, "seconds": 0.0}
        row.update(error="", output="")
        rows.append(row)
        folder = out / inp.rel
        if inp.error:
            row.update(status="failed", error=inp.error)
            continue
        try:
            exists = inp.path.exists()
        except (OSError, ValueError):
            exists = False
        if not exists:
            row.update(status="failed", error=f"{inp.key} not found")
            continue
        if folder in seen:
            row.update(
                status="failed",
                error=f"{inp.key} and {seen[folder]} would write the same output folder {folder}",
            )
            continue
        seen[folder] = inp.key
        analysis = dict(base)
        if inp.fps is not None:
            analysis["fps"] = inp.fps
        if inp.neutral is not None:
            analysis["neutral"] = list(inp.neutral)
        try:
            key = content_key(inp.path, {"analysis": analysis, "report": opts.report, **_versions()})
        except OSError as e:
            row.update(status="failed", error=f"{inp.key}: cannot be read ({e.strerror or e})")
            continue
        mark = read_marker(folder)
        if mark is not None and mark.get("key") == key and (folder / "frames.parquet").exists():
            row.update(
                status="skipped",
                output=str(folder),
                **{k: mark.get(k, 0) for k in ("frames", "faces", "events")},
            )
            continue
        prev = previous.get(inp.key)
        if prev is not None and prev.get("status") == "failed" and not opts.retry_failed:
            row.update(status="failed", error=prev.get("error", ""), seconds=prev.get("seconds", 0))
            continue
        jobs.append(
            {
                "input": inp.key,
                "out_parent": str(folder.parent),
                "analysis": analysis,
                "key": key,
                "workers": 1,
                "report": opts.report,
                "csv": opts.csv,
                "chunk_frames": opts.chunk_frames,
                "subject": inp.subject,
                "_row": len(rows) - 1,
            }
        )
    return rows, jobs


def run_batch(
    root: Path | str,
    out: Path | str,
    options: BatchOptions | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict]:
    """Analyse every input under ``root`` (a folder, a manifest CSV or one video) into ``out``.

    A long video (at least two chunks of ``chunk_frames`` and more frames than an even share of the batch)
    is split into time chunks that all the workers' cores observe in parallel, then stitched in frame order
    so that face ids, calibration and events are those of a single pass (the machinery of
    ``analyze --workers N``); the other inputs are dealt whole, one per worker at a time, longest first.

    Args:
        root: a folder (searched recursively), a manifest CSV or one video.
        out: the output folder; each input's outputs go to ``out/<relative path>/``.
        options: how to run; defaults to local workers, one per core.
        progress: called as ``progress(inputs_done, inputs_to_do)``.

    Returns:
        The batch.csv rows, in input order.
    """
    opts = options if options is not None else BatchOptions()
    root, out = Path(root), Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot write to output folder {out}: {e.strerror or e}") from None
    rows, jobs = plan(root, out, opts)
    n = _n_workers(opts)
    lock = threading.Lock()
    done = [0]
    total = len(jobs)

    def finish(job: dict, result: dict) -> None:
        with lock:
            row = rows[job["_row"]]
            row.update({k: v for k, v in result.items() if k in row})
            if row["status"] == "pending":  # a worker answered without a status: never leave it pending
                row["status"] = "failed"
            write_table(out, rows)
            done[0] += 1
            if progress is not None:
                progress(done[0], total)

    write_table(out, rows)
    if progress is not None:
        progress(0, total)
    if not jobs:
        return rows
    frames = {id(j): _frames_of_job(j) for j in jobs}
    long_jobs: list[dict] = []
    if n > 1:
        share = sum(frames.values()) / n
        long_jobs = [{**j, "workers": n} for j in jobs if frames[id(j)] >= max(2 * opts.chunk_frames, share)]
        long_ids = {j["_row"] for j in long_jobs}
        jobs = [j for j in jobs if j["_row"] not in long_ids]
    jobs.sort(key=lambda j: -frames[id(j)])  # longest first: the workers finish together
    if opts.executor == "ray":
        _run_ray(long_jobs, jobs, n, opts.address, finish)
        return rows
    if long_jobs:  # one at a time, each over all the cores, in one batch worker process
        _run_local(long_jobs, 1, finish)
    if n == 1 and jobs:
        _run_local(jobs, 1, finish)
    elif jobs:
        _run_local(jobs, n, finish)
    return rows


def _frames_of_job(job: dict) -> int:
    return _frames_of(BatchInput(Path(job["input"]), Path("."), fps=job["analysis"].get("fps")))


def _public(job: dict) -> dict:
    return {k: v for k, v in job.items() if not k.startswith("_")}


def _run_local(jobs: list[dict], n: int, finish: Callable[[dict, dict], None]) -> None:
    """Deal jobs to ``n`` worker subprocesses (no multiprocessing: user scripts need no __main__ guard)."""
    todo: queue.Queue[dict] = queue.Queue()
    for j in jobs:
        todo.put(j)

    # one core per worker: BLAS and OpenMP pools sized to one thread before numpy loads (as Ray does for
    # its one-CPU actors), else N workers x N threads fight over N cores
    env = {**os.environ, **SINGLE_THREAD_ENV}

    def start() -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "microexpr.batch.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            env=env,
        )

    def stop(proc: subprocess.Popen, *, kill: bool = False) -> None:
        if kill:
            proc.kill()
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()  # type: ignore[union-attr]
            except OSError:
                pass
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def serve() -> None:
        proc = start()
        try:
            while True:
                try:
                    j = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    proc.stdin.write(json.dumps(_public(j)) + "\n")  # type: ignore[union-attr]
                    proc.stdin.flush()  # type: ignore[union-attr]
                    line = proc.stdout.readline()  # type: ignore[union-attr]
                    result = json.loads(line) if line else None
                except (OSError, ValueError):
                    result = None
                if result is None:  # the worker died (killed, out of memory): record it, start a new one
                    code = proc.poll()
                    finish(j, {"status": "failed", "error": f"the worker process died (exit code {code})"})
                    stop(proc, kill=True)
                    proc = start()
                    continue
                finish(j, result)
        finally:
            stop(proc)

    threads = [threading.Thread(target=serve, daemon=True) for _ in range(min(n, len(jobs)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _check_reachable(address: str) -> None:
    """Fail in seconds, with one line, on a head node that does not answer (Ray itself retries for minutes)."""
    import socket

    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto" and other forms: left to Ray
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as e:
        raise OptionError(f"--address {address}: no Ray head answers there ({e.strerror or e})") from None


def _run_ray(
    long_jobs: list[dict],
    jobs: list[dict],
    n: int,
    address: str | None,
    finish: Callable[[dict, dict], None],
) -> None:
    """Run jobs on Ray actors that each keep MediaPipe loaded; a local instance unless ``address`` is given.

    Short inputs go to ``n`` one-CPU actors, each taking the next job as it finishes one. A long video is
    one task that reserves ``n`` CPUs on one node and observes its chunks there in parallel.
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # never phone home
    try:
        import ray
    except ImportError:
        raise OptionError("--executor ray needs Ray: pip install 'microexpr[ray]'") from None

    started = False
    if not ray.is_initialized():
        if address:
            _check_reachable(address)
        try:
            if address:
                ray.init(address=address, log_to_driver=False, configure_logging=False)
            else:
                ray.init(
                    num_cpus=n,
                    include_dashboard=False,
                    log_to_driver=False,
                    configure_logging=False,
                    _node_ip_address="127.0.0.1",
                )
        except Exception as e:  # noqa: BLE001  a bad address or a cluster that does not answer
            raise OptionError(f"cannot start or reach Ray ({address or 'local'}): {e}") from None
        started = True
    try:
        # one core per actor, as the local workers: BLAS and OpenMP read their thread counts when the actor's
        # process starts, so they go in its environment (set later, a multi-threaded BLAS sums in another
        # order and the tables differ from the local workers' in the last digits)
        @ray.remote(num_cpus=1, runtime_env={"env_vars": dict(SINGLE_THREAD_ENV)})
        class Analyst:
            def __init__(self) -> None:
                import cv2

                os.environ.setdefault("MICROEXPR_THREADS", "1")
                cv2.setNumThreads(1)

            def run(self, job: dict) -> dict:
                from microexpr.batch.run import run_job

                return run_job(job)

        def ask(ref, job: dict) -> dict:  # noqa: ANN001
            try:
                return ray.get(ref)
            except Exception as e:  # noqa: BLE001  a node or actor lost: record it, go on
                return {"status": "failed", "error": f"Ray: {e.__class__.__name__}: {str(e).splitlines()[0]}"}

        for j in long_jobs:
            big = Analyst.options(num_cpus=n).remote()
            finish(j, ask(big.run.remote(_public(j)), j))
            ray.kill(big)
        if not jobs:
            return
        actors = [Analyst.remote() for _ in range(min(n, len(jobs)))]
        pending: dict = {}
        todo = list(jobs)
        for a in actors:
            if todo:
                j = todo.pop(0)
                pending[a.run.remote(_public(j))] = (a, j)
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            a, j = pending.pop(ready[0])
            finish(j, ask(ready[0], j))
            if todo:
                nj = todo.pop(0)
                pending[a.run.remote(_public(nj))] = (a, nj)
    finally:
        if started:
            ray.shutdown()
