"""The live pipeline: capture -> landmarkers -> measures and online spotting -> your callback, in threads
joined by bounded queues, with capture-to-output latency measured on every frame.

Threads: one reads the source; ``workers`` landmarker threads each own a MediaPipe landmarker (video mode by
default). From a live source each takes the next waiting frame (least latency); from a file read as fast as
it is taken, frame i goes to landmarker i % workers (the same split on every run: reproducible). With two,
each tracks about every other frame; MediaPipe releases the GIL while it runs, so both cores work. One thread
puts results back in frame order and runs the per-frame analysis (:class:`~microexpr.pipeline.FrameAnalyzer`),
the online spotter and the callback.

A live source (a camera, a stream, a file with ``--realtime``) never waits for the pipeline: when the
input queue is full the oldest frame is dropped and counted. A file read as fast as possible is not live:
capture waits instead, and nothing is dropped. Memory is bounded either way.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np

from microexpr.live.sources import LiveFrame, LiveSource
from microexpr.types import Event

LAT_BIN_MS = 0.05  # latency histogram resolution
LAT_MAX_MS = 2000.0  # latencies above this are kept as the histogram's last bin
# frames waiting for a landmarker: about 130 ms at 120 fps, enough to ride out a landmarker's start (~90 ms of
# priming) or a face's calibration without losing frames; only a sustained overload drops (the oldest) frames
QUEUE_FRAMES = 16


class LiveStats:
    """What a live run measured, updated as it runs: read it from another thread (``to_dict``, or
    ``to_dict(recent=True)`` for the last ``recent_frames`` only) while the run goes on; ``to_dict()`` at the
    end is the ``--stats`` file. Memory stays bounded: latencies go into a fixed histogram.
    """

    def __init__(self, workers: int = 0, recent_frames: int = 600) -> None:
        self.frames = 0  # frames analysed
        self.dropped = 0  # frames dropped because the pipeline could not keep up
        self.events = 0
        self.duration_s = 0.0
        self.max_queue = 0  # the input queue's highest occupancy
        self.queue = 0  # its occupancy now
        self.workers = workers
        self.running = False
        self._hist = np.zeros(int(LAT_MAX_MS / LAT_BIN_MS) + 1, np.int64)
        self._sum_ms = 0.0
        self._max_ms = 0.0
        self._recent: deque[float] = deque(maxlen=recent_frames)
        self._recent_t: deque[float] = deque(maxlen=recent_frames)

    def add_latency(self, latency_ms: float) -> None:
        """Count one analysed frame's capture-to-output latency."""
        v = max(float(latency_ms), 0.0)
        self._hist[min(int(v / LAT_BIN_MS), len(self._hist) - 1)] += 1
        self._sum_ms += v
        self._max_ms = max(self._max_ms, v)
        self._recent.append(v)
        self._recent_t.append(time.monotonic())
        self.frames += 1

    def _quantiles(self, ps: tuple[float, ...]) -> list[float | None]:
        cum = np.cumsum(self._hist)
        n = int(cum[-1]) if len(cum) else 0
        if n == 0:
            return [None for _ in ps]
        out = []
        for p in ps:
            k = int(np.searchsorted(cum, max(1, int(np.ceil(p / 100.0 * n)))))
            out.append(round(min((k + 0.5) * LAT_BIN_MS, self._max_ms), 3))
        return out

    def to_dict(self, recent: bool = False) -> dict:
        """The figures as JSON-ready values; ``recent`` computes latency and fps over the last frames only."""
        seen = self.frames + self.dropped
        if recent:
            lat = np.array(list(self._recent), np.float64)
            ts = list(self._recent_t)
            p50, p95, p99 = (
                round(float(np.percentile(lat, p)), 3) if len(lat) else None for p in (50, 95, 99)
            )
            mx = round(float(lat.max()), 3) if len(lat) else None
            mean = round(float(lat.mean()), 3) if len(lat) else None
            fps = (len(ts) - 1) / (ts[-1] - ts[0]) if len(ts) > 1 and ts[-1] > ts[0] else 0.0
        else:
            p50, p95, p99 = self._quantiles((50, 95, 99))
            mx = round(self._max_ms, 3) if self.frames else None
            mean = round(self._sum_ms / self.frames, 3) if self.frames else None
            fps = self.frames / self.duration_s if self.duration_s > 0 else 0.0
        return {
            "latency_ms": {"p50": p50, "p95": p95, "p99": p99, "max": mx, "mean": mean},
            "fps": round(fps, 3),
            "frames": self.frames,
            "dropped": self.dropped,
            "drop_ratio": round(self.dropped / seen, 6) if seen else 0.0,
            "events": self.events,
            "duration_s": round(self.duration_s, 3),
            "max_queue": self.max_queue,
            "queue": self.queue,
            "workers": self.workers,
            "running": self.running,
        }


class _Inbox:
    """A bounded queue of frames in ``lanes`` lanes, frame i in lane i % lanes (landmarker k reads lane k, so
    each tracks a fixed, reproducible share of the frames); a live source drops the globally oldest frame
    when it is full, a file waits.

    One lock, one condition per lane and one for the space left: a frame wakes only the landmarker of its
    lane, and a taken frame wakes only a capture thread waiting for room (not every thread on every change:
    each needless wake-up is a thread switch and a GIL hand-over on a 2-core machine that has none to spare).
    """

    def __init__(self, size: int, drop_oldest: bool, lanes: int = 1) -> None:
        self.lanes: list[deque[LiveFrame]] = [deque() for _ in range(max(1, lanes))]
        self.size = size
        self.drop_oldest = drop_oldest
        self.lock = threading.Lock()
        self.lane_cv = [threading.Condition(self.lock) for _ in self.lanes]
        self.room_cv = threading.Condition(self.lock)
        self.closed = False
        self.dropped: set[int] = set()  # indices of the frames dropped
        self.max_len = 0
        self.n = 0  # frames waiting, over all lanes

    def put(self, fr: LiveFrame, stop: threading.Event) -> None:
        with self.lock:
            if self.drop_oldest:
                if self.n >= self.size:
                    oldest = min((q for q in self.lanes if q), key=lambda q: q[0].index)
                    self.dropped.add(oldest.popleft().index)
                    self.n -= 1
            else:
                while self.n >= self.size and not stop.is_set():
                    self.room_cv.wait(0.1)
            lane = fr.index % len(self.lanes)
            self.lanes[lane].append(fr)
            self.n += 1
            self.max_len = max(self.max_len, self.n)
            self.lane_cv[lane].notify()  # (one lane: its landmarker; one lane for all: one free landmarker)

    def get(self, stop: threading.Event, lane: int = 0) -> LiveFrame | None:
        q = self.lanes[lane]
        with self.lock:
            while not q and not self.closed and not stop.is_set():
                self.lane_cv[lane].wait(0.1)
            if not q:
                return None
            fr = q.popleft()
            self.n -= 1
            if not self.drop_oldest:
                self.room_cv.notify()
            if q:  # another frame waits in this lane (several landmarkers on one lane): pass the word on
                self.lane_cv[lane].notify()
            return fr

    def close(self) -> None:
        with self.lock:
            self.closed = True
            for cv in (*self.lane_cv, self.room_cv):
                cv.notify_all()


def _prime(
    source: LiveSource, landmarkers: list, results: dict, produced: list[int], stop: threading.Event
) -> None:
    """Each landmarker takes its first frame before the others are read: MediaPipe's video mode is primed on
    a landmarker's first frame (shown to it 8 times, about 90 ms), and the frames read meanwhile would wait
    behind it. Frame k goes to landmarker k, as the lanes would send it, in parallel; a file played in real
    time then starts its clock again from the next frame (a camera's runs on, and its driver holds what it
    captures meanwhile)."""
    from microexpr.track.observe import detect_raw

    first = []
    for _lm in landmarkers:
        fr = next(source.frames, None)
        if fr is None or stop.is_set():
            break
        first.append(fr)
        produced[0] = fr.index + 1

    def run(lm: object, fr: LiveFrame) -> None:
        faces, _err = detect_raw(lm, fr.image, fr.t_s)  # type: ignore[arg-type]
        results[fr.index] = (fr.t_s, fr.captured, faces)

    threads = [threading.Thread(target=run, args=(lm, fr), daemon=True) for lm, fr in zip(landmarkers, first)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if source.restart_clock is not None:
        source.restart_clock()


def run_live(
    source: LiveSource,
    *,
    on_frame: Callable[[object, list[Event], float], None] | None = None,
    workers: int = 2,
    queue_size: int = QUEUE_FRAMES,
    max_faces: int = 1,
    model_path: object = None,
    stop: threading.Event | None = None,
    spot: bool = True,
    stats: LiveStats | None = None,
    mode: str = "video",
    neutral_range: tuple[float, float] | None = None,
    baseline: object = None,
    switch_interval_s: float | None = None,
    opencv_threads: int | None = None,
) -> LiveStats:
    """Run the live pipeline until the source ends or ``stop`` is set (Ctrl-C sets it from the CLI).

    Args:
        source: from :func:`~microexpr.live.sources.open_live`.
        on_frame: called in frame order with (FrameResult, events that closed with it, latency in ms).
        workers: landmarker threads (2 uses both cores of a 2-core machine).
        queue_size: frames waiting for a landmarker, at most (then the oldest is dropped).
        max_faces: faces tracked per frame.
        model_path: a face model other than the installed one.
        stop: set it to end the run early; everything is flushed.
        spot: run the online spotter.
        stats: a :class:`LiveStats` to update as the run goes (to read it from another thread), or None.
        mode: MediaPipe running mode, ``video`` (tracks between frames) or ``image`` (each frame alone).
        neutral_range: (start_s, end_s) of the source when the subject is neutral, instead of the automatic
            warm-up (see :class:`~microexpr.pipeline.FrameAnalyzer`).
        baseline: a known neutral (:class:`~microexpr.calibrate.Baseline`) for every face.
        switch_interval_s: Python's thread switch interval during the run (``sys.setswitchinterval``; the
            default 5 ms lets the analysis thread keep the GIL that long while a landmarker thread, back from
            MediaPipe, waits for it); None leaves it as it is. Restored at the end.
        opencv_threads: OpenCV's threads during the run (``cv2.setNumThreads``), restored at the end; None
            (the default) leaves OpenCV's own pool. 1 runs each OpenCV call (grey conversion, crops, region
            flow) in the thread that makes it, with no pool worker spinning between calls: about 0.5 ms less
            CPU a frame at 120 fps, but the analysis thread then does the region flow alone, and on the 2-core
            machine the latency was higher (steady p95 20-27 ms against 19-21 ms with the pool, three
            alternating runs each). The numbers are the same either way.

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
    # a live source: each frame to the first free landmarker (least latency); a file read as fast as it is
    # taken: frame i to landmarker i % workers (the same split on every run, so results are reproducible)
    lanes = 1 if source.live else workers
    inbox = _Inbox(max(queue_size, workers), drop_oldest=source.live, lanes=lanes)
    results: dict[int, tuple] = {}
    res_cv = threading.Condition()
    stats = stats if stats is not None else LiveStats()
    stats.workers, stats.running = workers, True
    errors: list[BaseException] = []
    produced = [0]  # frames read from the source
    done_reading = threading.Event()
    landmarkers = [FaceLandmarker(model, max_faces=max_faces, mode=mode) for _ in range(workers)]

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

    def landmark(lm: FaceLandmarker, lane: int) -> None:
        try:
            while True:
                fr = inbox.get(stop, lane % lanes)
                if fr is None:
                    return
                faces, _err = detect_raw(lm, fr.image, fr.t_s)
                with res_cv:
                    results[fr.index] = (fr.t_s, fr.captured, faces)
                    res_cv.notify_all()
        except BaseException as e:  # noqa: BLE001
            errors.append(e)
            stop.set()

    analyzer = FrameAnalyzer(  # calibration in its own thread: the frames behind it are not held up
        baseline,
        neutral_range=neutral_range,
        landmark_mode=mode,
        calibrate_in_background=True,  # type: ignore[arg-type]
    )
    spotter = OnlineSpotter() if spot else None
    threads = [threading.Thread(target=capture, daemon=True, name="mx-capture")]
    threads += [
        threading.Thread(target=landmark, args=(lm, k), daemon=True, name=f"mx-lm{k}")
        for k, lm in enumerate(landmarkers)
    ]
    old_switch = sys.getswitchinterval()
    if switch_interval_s is not None:
        sys.setswitchinterval(switch_interval_s)
    import cv2

    old_cv_threads = cv2.getNumThreads()
    if opencv_threads is not None:
        cv2.setNumThreads(opencv_threads)
    # Everything imported and built so far (MediaPipe, SciPy, pandas...: some 10^5 objects) would otherwise be
    # walked by each full garbage collection during the run: a 50 ms pause holding the GIL, every few
    # seconds, that stalls every thread and makes a live source drop frames. Collect once now, before the
    # first frame, and keep those objects out of later collections until the run ends.
    gc.collect()
    unfreeze = gc.get_freeze_count() == 0  # (a caller that froze objects itself keeps them frozen)
    gc.freeze()
    try:
        _prime(source, landmarkers, results, produced, stop)
    except BaseException as e:  # noqa: BLE001  a source that fails at once: reported as any other error
        errors.append(e)
        stop.set()
    t_start = time.monotonic()  # the run's clock (throughput) starts once the landmarkers are primed
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
            now = time.monotonic()
            latency_ms = (now - captured) * 1000.0
            stats.add_latency(latency_ms)
            stats.events += len(events)
            stats.dropped, stats.queue = len(inbox.dropped), inbox.n
            stats.max_queue, stats.duration_s = inbox.max_len, now - t_start
            if on_frame is not None:
                on_frame(fr, events, latency_ms)
            next_index += 1
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=5)
        sys.setswitchinterval(old_switch)
        cv2.setNumThreads(old_cv_threads)
        if unfreeze:
            gc.unfreeze()
        for lm in landmarkers:
            lm.close()
        if spotter is not None:
            late = []
            # a face whose calibration was still running when the stream ended: its warm-up, then the end
            tracks = analyzer.settle() if not errors else ()
            if tracks:
                from microexpr.pipeline import FrameResult

                last = max(tracks, key=lambda w: w.frames[-1])
                late += spotter.push(FrameResult(int(last.frames[-1]), float(last.t_s[-1]), (), tracks))
            late += spotter.flush()
            stats.events += len(late)
            if on_frame is not None and late:
                on_frame(None, late, 0.0)
        stats.duration_s = time.monotonic() - t_start
        stats.dropped = len(inbox.dropped)
        stats.max_queue = inbox.max_len
        stats.queue, stats.running = 0, False
    if errors and not isinstance(errors[0], KeyboardInterrupt):
        raise errors[0]
    return stats
