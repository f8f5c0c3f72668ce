"""Landmarker worker process: ``python -m microexpr._worker``, started by track.observe.observe_parallel.

A plain subprocess rather than multiprocessing, so that a user's script needs no ``if __name__ ==
"__main__"`` guard and nothing is forked from a process that may hold MediaPipe's threads. The job comes
as one pickle on stdin; results go back on stdout as messages (a kind byte, a length, a pickle): "frames"
(a batch of RawFrame), "end" after each chunk, "warning" and "error".
"""

from __future__ import annotations

import os
import pickle
import struct
import sys
from pathlib import Path
from typing import BinaryIO

BATCH_FRAMES = 24


_KINDS = ("frames", "end", "warning", "error")


def send(out: BinaryIO, kind: str, payload: object) -> None:
    """One message: a kind byte, the payload's length, the pickled payload."""
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(struct.pack("<BQ", _KINDS.index(kind), len(data)))
    out.write(data)
    out.flush()


def read_frame(inp: BinaryIO) -> tuple[str, bytes] | None:
    """(kind, pickled payload) of the next message, or None at the end of the stream."""
    head = inp.read(9)
    if len(head) < 9:
        return None
    code, n = struct.unpack("<BQ", head)
    data = inp.read(n)
    if len(data) < n:
        return None
    return _KINDS[code], data


def run(job: dict, out: BinaryIO) -> None:
    from microexpr.errors import MicroexprError
    from microexpr.io import open_source
    from microexpr.track.landmarker import FaceLandmarker
    from microexpr.track.observe import detect_raw

    try:
        with (
            open_source(Path(job["path"]), **job["src_kwargs"]) as src,
            FaceLandmarker(
                Path(job["model_path"]) if job["model_path"] else None,
                max_faces=job["max_faces"],
                mode=job["mode"],
            ) as lm,
        ):
            for first, stop, keep_from in job["chunks"]:
                batch = []
                for fr in src.iter_range(first, stop):
                    faces, err = detect_raw(lm, fr.image, fr.t_s)
                    if fr.index < keep_from:
                        continue
                    batch.append((fr.index, fr.t_s, fr.name, faces, err))
                    if len(batch) >= BATCH_FRAMES:
                        send(out, "frames", batch)
                        batch = []
                if batch:
                    send(out, "frames", batch)
                send(out, "end", keep_from)
            for w in src.warnings:
                send(out, "warning", w)
    except MicroexprError as e:
        send(out, "error", str(e))
    except Exception as e:  # reported by the parent as one line
        send(out, "error", f"landmarker worker failed: {type(e).__name__}: {e}")


def main() -> None:
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed by libraries goes to stderr, never into the result stream
    job = pickle.load(sys.stdin.buffer)
    run(job, out)
    out.close()


if __name__ == "__main__":
    main()
