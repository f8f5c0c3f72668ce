"""The live pipeline: capture -> landmarkers -> measures and online spotting -> your callback, in threads
joined by bounded queues, with capture-to-output latency measured on every frame.

Threads: one reads the source; ``workers`` landmarker threads each own a MediaPipe landmarker in video mode
and take the next waiting frame (with two, each sees about every other frame and still tracks: MediaPipe
releases the GIL while it runs, so both cores work); one puts results back in frame order and runs the
per-frame analysis (:class:`~microexpr.pipeline.FrameAnalyzer`), the online spotter and the callback.

A live source (a camera, a stream, a file with ``--realtime``) never waits for the pipeline: when the
input queue is full the oldest frame is dropped and counted. A file read as fast as possible is not live:
capture waits instead, and nothing is dropped. Memory is bounded either way.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from microexpr.live.sources import LiveFrame, LiveSource
from microexpr.types import Event


@dataclass
class LiveStats:
    """What a live run measured (``to_dict`` is the ``--stats`` file)."""

    frames: int = 0  # frames analysed
    dropped: int = 0  # frames dropped because the pipeline could not keep up
    events: int = 0
    duration_s: float = 0.0
    max_queue: int = 0  # the input queue's highest occupancy
    workers: int = 0
    latencies_ms: list[float] = field(default_factory=list)  # capture -> output, per analysed frame

    def to_dict(self) -> dict:
        lat = np.asarray(self.latencies_ms, np.float64)

        def q(p: float) -> float | None:
            return round(float(np.percentile(lat, p)), 3) if len(lat) else None

        seen = self.frames + self.dropped
        return {
            "latency_ms": {
                "p50": q(50),
                "p95": q(95),
                "p99": q(99),
                "max": q(100),
                "mean": round(float(lat.mean()), 3) if len(lat) else None,
            },
            "fps": round(self.frames / self.duration_s, 3) if self.duration_s > 0 else 0.0,
            "frames": self.frames,
            "dropped": self.dropped,
            "drop_ratio": round(self.dropped / seen, 6) if seen else 0.0,
            "events": self.events,
            "duration_s": round(self.duration_s, 3),
            "max_queue": self.max_queue,
            "workers": self.workers,
        }


class _Inbox:
    """A bounded FIFO of frames; a live source drops the oldest when it is full, a file waits."""

    def __init__(self, size: int, drop_oldest: bool) -> None:
        self.q: deque[LiveFrame] = deque()
        self.size = size
        self.drop_oldest = drop_oldest
        self.cv = threading.Condition()
        self.closed = False
        self.dropped: set[int] = set()  # indices of the frames dropped
        self.max_len = 0

    def put(self, fr: LiveFrame, stop: threading.Event) -> None:
        with self.cv:
            if self.drop_oldest:
                if len(self.q) >= self.size:
                    self.dropped.add(self.q.popleft().index)
            else:
                while len(self.q) >= self.size and not stop.is_set():
                    self.cv.wait(0.1)
            self.q.append(fr)
            self.max_len = max(self.max_len, len(self.q))
            self.cv.notify_all()

    def get(self, stop: threading.Event) -> LiveFrame | None:
        with self.cv:
            while not self.q and not self.closed and not stop.is_set():
                self.cv.wait(0.1)
            if not self.q:
                return None
            fr = self.q.popleft()
            self.cv.notify_all()
            return fr

    def close(self) -> None:
        with self.cv:
            self.closed = True
            self.cv.notify_all()


def run_live(
    source: LiveSource,
    *,
    on_frame: Callable[[object, list[Event], float], None] | None = None,
    workers: int = 2,
    queue_size: int = 4,
    max_faces: int = 1,
    model_path: object = None,
    stop: threading.Event | None = None,
    spot: bool = True,
) -> LiveStats:
    """Run the live pipeline until the source ends or ``stop`` is set (Ctrl-C sets it from the CLI).

    Args:
        source: from :func:`~microexpr.live.sources.open_live`.
        on_frame: called in frame order with (FrameResult, events that closed with it, latency in ms).
        workers: landmarker threads (2 uses both cores of a 2-core machine).
        queue_size: frames waiting for a landmarker, at most.
        max_faces: faces tracked per frame.
        model_path: a face model other than the installed one.
        stop: set it to end the run early; everything is flushed.
        spot: run the online spotter.

    Returns:
        The run's :class:`LiveStats`.
    """
    from microexpr.pipeline import FrameAnalyzer
    from microexpr.temporal.online import OnlineSpotter
    from microexpr.track.landmarker import FaceLandmarker
    from microexpr.track.model import require_model
    from microexpr.track.observe import detect_raw

    model = model_path if model_path is not None else require_model()
    stop = stop if stop is not None else threading.Event()
    inbox = _Inbox(queue_size, drop_oldest=source.live)
    results: dict[int, tuple] = {}
    res_cv = threading.Condition()
    stats = LiveStats(workers=workers)
    errors: list[BaseException] = []
    produced = [0]  # frames read from the source
    done_reading = threading.Event()
    landmarkers = [FaceLandmarker(model, max_faces=max_faces, mode="video") for _ in range(workers)]

    def capture() -> None:
        try:
            for fr in source.frames:
                if stop.is_set():
                    break
                inbox.put(fr, stop)
                produced[0] = fr.index + 1
        except BaseException as e:  # noqa: BLE001  reported by the caller
            errors.append(e)
        finally:
            done_reading.set()
            inbox.close()

    def landmark(lm: FaceLandmarker) -> None:
        try:
            while True:
                fr = inbox.get(stop)
                if fr is None:
                    return
                faces, _err = detect_raw(lm, fr.image, fr.t_s)
                with res_cv:
                    results[fr.index] = (fr.t_s, fr.captured, faces)
                    res_cv.notify_all()
        except BaseException as e:  # noqa: BLE001
            errors.append(e)
            stop.set()

    analyzer = FrameAnalyzer()
    spotter = OnlineSpotter() if spot else None
    threads = [threading.Thread(target=capture, daemon=True, name="mx-capture")]
    threads += [
        threading.Thread(target=landmark, args=(lm,), daemon=True, name=f"mx-lm{k}")
        for k, lm in enumerate(landmarkers)
    ]
    t_start = time.monotonic()
    for t in threads:
        t.start()
    next_index = 0
    try:
        while True:
            with res_cv:
                while next_index not in results and not stop.is_set():
                    if next_index in inbox.dropped:
                        break
                    workers_done = all(not t.is_alive() for t in threads[1:])
                    if done_reading.is_set() and workers_done and next_index >= produced[0]:
                        break
                    res_cv.wait(0.05)
                item = results.pop(next_index, None)
            if item is None:
                if next_index in inbox.dropped:
                    next_index += 1
                    continue
                break  # the source ended (or stop was set)
            t_s, captured, faces = item
            fr = analyzer.process(next_index, t_s, faces)
            events = spotter.push(fr) if spotter is not None else []
            latency_ms = (time.monotonic() - captured) * 1000.0
            stats.latencies_ms.append(latency_ms)
            stats.frames += 1
            stats.events += len(events)
            if on_frame is not None:
                on_frame(fr, events, latency_ms)
            next_index += 1
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=5)
        for lm in landmarkers:
            lm.close()
        if spotter is not None:
            late = spotter.flush()
            stats.events += len(late)
            if on_frame is not None and late:
                on_frame(None, late, 0.0)
        stats.duration_s = time.monotonic() - t_start
        stats.dropped = len(inbox.dropped)
        stats.max_queue = inbox.max_len
    if errors and not isinstance(errors[0], KeyboardInterrupt):
        raise errors[0]
    return stats
