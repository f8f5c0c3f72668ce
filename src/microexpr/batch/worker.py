"""A batch worker process: ``python -m microexpr.batch.worker``.

Reads jobs as JSON lines on stdin and answers each with one JSON line on stdout. MediaPipe and the model are
loaded once, by the first job; each video then gets a fresh landmarker graph (about 30 ms), so that no
tracking state leaks from one video into the next and outputs equal `microexpr analyze`'s.
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    import os

    import cv2

    # one worker per core: no second core's worth of threads inside it (they would fight the other workers)
    os.environ.setdefault("MICROEXPR_THREADS", "1")
    cv2.setNumThreads(1)
    from microexpr.batch.run import run_job

    out = sys.stdout
    sys.stdout = sys.stderr  # nothing but answers on the real stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        result = run_job(json.loads(line))
        out.write(json.dumps(result) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
