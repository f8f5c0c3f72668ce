"""Observation: frames -> raw faces (landmarks, blendshapes, transform, crop measures, aligned crop).

Runs the landmarker in this process, or in worker subprocesses that each take contiguous chunks of the
video (decoding their own frames by seeking) and send results back in order. Light on imports: worker
processes import this module, not the pipeline, so they start fast.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator

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
        (f.landmarks_px, f.blendshapes, f.transform, crop_measures(image, f.landmarks_px), *face_crop(grey, f.landmarks_px))
        for f in faces
    ], ""


def observe_in_process(src, *, model_path, max_faces: int, mode: str) -> Iterator[RawFrame]:  # noqa: ANN001
    """Raw faces of every frame of ``src``, one at a time, in this process."""
    with FaceLandmarker(model_path, max_faces=max_faces, mode=mode) as lm:
        for fr in src:
            faces, err = detect_raw(lm, fr.image, fr.t_s)
            yield fr.index, fr.t_s, fr.name, faces, err


def plan_chunks(indices_first: int, n: int, workers: int) -> list[list[tuple[int, int, int]]]:
    """Split frames [first, first+n) into equal chunks of at most CHUNK_FRAMES, a multiple of ``workers`` of
    them, dealt round-robin: each worker gets (decode_from, stop, keep_from) triples."""
    per_round = max(1, workers)
    n_chunks = per_round * max(1, -(-n // (per_round * CHUNK_FRAMES)))
    bounds = [indices_first + round(k * n / n_chunks) for k in range(n_chunks + 1)]
    per_worker: list[list[tuple[int, int, int]]] = [[] for _ in range(per_round)]
    for k in range(n_chunks):
        a, b = bounds[k], bounds[k + 1]
        per_worker[k % per_round].append((max(indices_first, a - OVERLAP_FRAMES), b, a))
    return per_worker


def observe_parallel(src, src_kwargs: dict, *, model_path, max_faces: int, mode: str, workers: int,  # noqa: ANN001
                     warnings: list[str]) -> Iterator[RawFrame]:
    """Frames observed by ``workers`` landmarker subprocesses, merged back in frame order."""
    import pickle
    import subprocess
    import sys
    import threading

    from microexpr._worker import receive

    plan = plan_chunks(src.first_index, src.info.frame_count, workers)
    n_chunks = sum(len(p) for p in plan)
    plan_order = [k % workers for k in range(n_chunks)]
    procs, queues, tails, threads = [], [], [], []
    for w in range(workers):
        proc = subprocess.Popen([sys.executable, "-m", "microexpr._worker"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        job = {"path": str(src.info.path), "src_kwargs": src_kwargs, "max_faces": max_faces, "mode": mode,
               "model_path": str(model_path) if model_path else None, "chunks": plan[w]}
        proc.stdin.write(pickle.dumps(job))
        proc.stdin.close()
        q: queue.Queue = queue.Queue(maxsize=2 * CHUNK_FRAMES // 24 + 4)  # about two chunks ahead at most
        tail: list[bytes] = []

        def pump(proc=proc, q=q) -> None:
            while (msg := receive(proc.stdout)) is not None:
                q.put(msg)
            q.put(None)

        def drain(proc=proc, tail=tail) -> None:
            for line in proc.stderr:
                tail[:] = (tail + [line])[-5:]

        for fn in (pump, drain):
            th = threading.Thread(target=fn, daemon=True)
            th.start()
            threads.append(th)
        procs.append(proc)
        queues.append(q)
        tails.append(tail)
    try:
        for w in plan_order:
            while True:
                msg = queues[w].get()
                if msg is None:
                    proc = procs[w]
                    proc.wait()
                    last = tails[w][-1].decode(errors="replace").strip() if tails[w] else ""
                    raise MicroexprError(f"a landmarker worker stopped unexpectedly (exit code {proc.returncode})"
                                         + (f": {last}" if last else ""))
                kind, payload = msg
                if kind == "frames":
                    yield from payload
                elif kind == "end":
                    break
                elif kind == "warning":
                    warnings.append(payload)
                else:
                    raise MicroexprError(payload)
        for q in queues:  # what the workers said after their last chunk (warnings), up to their exit
            while (msg := q.get()) is not None:
                if msg[0] == "warning" and msg[1] not in warnings:
                    warnings.append(msg[1])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        for q in queues:  # unblock pumps stuck on a full queue after an early exit
            while not q.empty():
                q.get_nowait()
        for th in threads:
            th.join(timeout=5)
        for proc in procs:
            proc.stdout.close()
            proc.stderr.close()


