"""Observation: frames -> raw faces (landmarks, blendshapes, transform, crop measures, aligned crop).

Runs the landmarker in this process, or in worker subprocesses that each take chunks of the video
(decoding their own frames, seeking to keyframes). A pump thread per worker spools its results to one file
per chunk, so workers never wait for the parent and the parent reads chunks back in frame order with flat
memory. Light on imports: worker
processes import this module, not the pipeline, so they start fast.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from microexpr.errors import MicroexprError
from microexpr.measure.motion import face_crop
from microexpr.measure.quality import crop_measures
from microexpr.track.landmarker import FaceLandmarker

CHUNK_FRAMES = 240  # most frames per chunk handed to a worker process
OVERLAP_FRAMES = 12  # frames decoded before a chunk so that the landmarker's tracking settles; discarded

# One observed frame: (index, t_s, name, [RawFace, ...], error); a RawFace is
# (landmarks, blendshapes, transform, (sharpness, luminance, face_size_px), aligned grey crop, image-to-crop matrix)
RawFace = tuple[np.ndarray, np.ndarray, np.ndarray, tuple[float, float, float], np.ndarray, np.ndarray]
RawFrame = tuple[int, float, str, list[RawFace], str]


def detect_raw(lm: FaceLandmarker, image: np.ndarray, t_s: float) -> tuple[list[RawFace], str]:
    """Faces of one frame as plain arrays plus crop measures; a frame MediaPipe refuses gives no face."""
    try:
        faces = lm.detect(image, t_s)
    except Exception as e:  # an odd frame becomes a success=0 row with a warning, not a crash
        return [], f"landmarker failed: {e}"
    if not faces:
        return [], ""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return [
        (
            f.landmarks_px,
            f.blendshapes,
            f.transform,
            crop_measures(image, f.landmarks_px, grey),
            *face_crop(grey, f.landmarks_px),
        )
        for f in faces
    ], ""


def observe_in_process(src, *, model_path, max_faces: int, mode: str) -> Iterator[RawFrame]:  # noqa: ANN001
    """Raw faces of every frame of ``src``, one at a time, in this process."""
    with FaceLandmarker(model_path, max_faces=max_faces, mode=mode) as lm:
        for fr in src:
            faces, err = detect_raw(lm, fr.image, fr.t_s)
            yield fr.index, fr.t_s, fr.name, faces, err


def plan_chunks(
    first: int,
    n: int,
    workers: int,
    seek_points: np.ndarray | None = None,
    decode_cost: float = 0.1,
    overlap: int = OVERLAP_FRAMES,
) -> list[tuple[int, int, int]]:
    """Split frames [first, first+n) into chunks for ``workers`` processes.

    Each chunk is (decode_from, stop, keep_from): decoding starts at ``decode_from`` (``overlap`` frames
    before ``keep_from``, so the landmarker's temporal filter settles; 0 in image mode) and reaching it
    costs decoding from the keyframe before it. Small chunks (at most CHUNK_FRAMES) balance the workers; when
    keyframes are sparse (a long-GOP research clip can have a single one) the re-decoding they would cost,
    weighed at ``decode_cost`` of a landmarker frame, makes fewer, longer chunks cheaper. Chunk k goes to
    worker k % workers.
    """
    seeks = np.asarray(seek_points if seek_points is not None else np.arange(first, first + n), np.int64)

    def plan(n_chunks: int) -> tuple[list[tuple[int, int, int]], float]:
        bounds = [first + round(k * n / n_chunks) for k in range(n_chunks + 1)]
        chunks, wasted = [], 0.0
        for k in range(n_chunks):
            a, b = bounds[k], bounds[k + 1]
            start = max(first, a - overlap)
            j = int(np.searchsorted(seeks, start, side="right")) - 1
            key = int(seeks[j]) if j >= 0 else first
            wasted += (start - key) * decode_cost
            chunks.append((start, b, a))
        return chunks, wasted

    per_round = max(1, workers)
    small_chunks, small_waste = plan(per_round * max(1, -(-n // (per_round * CHUNK_FRAMES))))
    if small_waste <= 0.02 * n:  # small chunks keep the spool short and the workers balanced: prefer them
        return small_chunks
    long_chunks, long_waste = plan(per_round)
    return small_chunks if small_waste <= long_waste else long_chunks


def _pump(proc, spool_dir: Path, chunk_ids: list[int], state: _SpoolState) -> None:  # noqa: ANN001
    """Copy one worker's messages into one spool file per chunk, so the parent can read chunks in order
    while every worker runs at full speed (nothing waits on the parent, and memory stays flat)."""
    from microexpr._worker import read_frame

    pos = 0
    f = None
    try:
        while (msg := read_frame(proc.stdout)) is not None:
            kind, raw = msg
            if pos >= len(chunk_ids):
                if kind == "warning":
                    state.add_warning(raw)
                continue
            k = chunk_ids[pos]
            if kind == "frames":
                if f is None:
                    f = open(spool_dir / f"chunk{k}.bin", "wb")  # noqa: SIM115
                f.write(struct.pack("<BQ", 0, len(raw)))
                f.write(raw)
                f.flush()
                state.wrote(k)
            elif kind == "end":
                if f is not None:
                    f.close()
                    f = None
                state.done(k)
                pos += 1
            elif kind == "warning":
                state.add_warning(raw)
            else:
                state.fail(raw)
                return
    finally:
        if f is not None:
            f.close()
        state.exited(chunk_ids[pos:])


class _SpoolState:
    """What the pumps have written: message counts per chunk, finished chunks, warnings, a failure."""

    def __init__(self) -> None:
        import threading

        self.cond = threading.Condition()
        self.count: dict[int, int] = {}
        self.finished: set[int] = set()
        self.lost: set[int] = set()
        self.warnings: list[str] = []
        self.error: str | None = None

    def wrote(self, k: int) -> None:
        with self.cond:
            self.count[k] = self.count.get(k, 0) + 1
            self.cond.notify_all()

    def done(self, k: int) -> None:
        with self.cond:
            self.finished.add(k)
            self.cond.notify_all()

    def add_warning(self, raw: bytes) -> None:
        import pickle

        with self.cond:
            self.warnings.append(pickle.loads(raw))

    def fail(self, raw: bytes) -> None:
        import pickle

        with self.cond:
            self.error = pickle.loads(raw)
            self.cond.notify_all()

    def exited(self, unfinished: list[int]) -> None:
        with self.cond:
            self.lost.update(unfinished)
            self.cond.notify_all()


def observe_parallel(
    src,
    src_kwargs: dict,
    *,
    model_path,
    max_faces: int,
    mode: str,
    workers: int,  # noqa: ANN001
    warnings: list[str],
    spool_dir: Path,
) -> Iterator[RawFrame]:
    """Frames observed by ``workers`` landmarker subprocesses, merged back in frame order.

    Args:
        spool_dir: a private temporary folder for the per-chunk spool files (each deleted once read).
    """
    import pickle
    import subprocess
    import sys
    import threading

    from microexpr._worker import read_frame

    overlap = OVERLAP_FRAMES if mode == "video" else 0  # each frame alone: nothing to settle
    chunks = plan_chunks(src.first_index, src.info.frame_count, workers, src.seek_points(), overlap=overlap)
    state = _SpoolState()
    procs, threads, tails = [], [], []
    for w in range(workers):
        ids = list(range(w, len(chunks), workers))
        proc = subprocess.Popen(
            [sys.executable, "-m", "microexpr._worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        job = {
            "path": str(src.info.path),
            "src_kwargs": src_kwargs,
            "max_faces": max_faces,
            "mode": mode,
            "model_path": str(model_path) if model_path else None,
            "chunks": [chunks[k] for k in ids],
        }
        proc.stdin.write(pickle.dumps(job))
        proc.stdin.close()
        tail: list[bytes] = []

        def drain(proc=proc, tail=tail) -> None:
            for line in proc.stderr:
                tail[:] = (tail + [line])[-5:]

        for th in (
            threading.Thread(target=_pump, args=(proc, spool_dir, ids, state), daemon=True),
            threading.Thread(target=drain, daemon=True),
        ):
            th.start()
            threads.append(th)
        procs.append(proc)
        tails.append(tail)
    try:
        for k in range(len(chunks)):
            read = 0
            f = None
            while True:
                with state.cond:
                    while True:
                        if state.error is not None:
                            raise MicroexprError(state.error)
                        available = state.count.get(k, 0)
                        if read < available or k in state.finished or k in state.lost:
                            break
                        state.cond.wait(timeout=5.0)
                    finished = k in state.finished
                if read < available:
                    if f is None:
                        f = open(spool_dir / f"chunk{k}.bin", "rb")  # noqa: SIM115
                    for _ in range(available - read):
                        kind, raw = read_frame(f)
                        yield from pickle.loads(raw)
                    read = available
                    continue
                if f is not None:
                    f.close()
                    (spool_dir / f"chunk{k}.bin").unlink(missing_ok=True)
                if finished:
                    break
                proc = procs[k % workers]
                proc.wait()
                last = tails[k % workers][-1].decode(errors="replace").strip() if tails[k % workers] else ""
                raise MicroexprError(
                    f"a landmarker worker stopped unexpectedly (exit code {proc.returncode})"
                    + (f": {last}" if last else "")
                )
        for proc in procs:
            proc.wait()
        for th in threads:
            th.join(timeout=5)
        for wmsg in state.warnings:
            if wmsg not in warnings:
                warnings.append(wmsg)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        for th in threads:
            th.join(timeout=5)
        for proc in procs:
            proc.stdout.close()
            proc.stderr.close()
