"""Streaming sinks in live mode: the ``microexpr stream`` sinks (VMC, Live Link, WebSocket) fed from the live
pipeline through their own thread, so that a slow sink never stalls capture or analysis.

The pipeline's callback only queues (:meth:`SinkWorker.put`); the worker retargets and sends
(:class:`~microexpr.stream.run.SinkFeed`, the same code as ``microexpr stream``). The queue is bounded: when
it is full the oldest *frame* is dropped and counted; events are never dropped.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable

from microexpr.types import Event

QUEUE_FRAMES = 64  # frames waiting for the sinks, at most (then the oldest is dropped)


class SinkWorker:
    """A thread that sends queued frames and events through a :class:`~microexpr.stream.run.SinkFeed`.

    Args:
        feed: the sinks, rig and gains (``SinkFeed``).
        queue_frames: frames waiting, at most.

    Attributes:
        offered: face-frames handed to :meth:`put` (frames with no face are not counted).
        sent: face-frames sent to the sinks.
        dropped: face-frames dropped because the sinks were behind.
        events: events sent.
    """

    def __init__(self, feed: object, queue_frames: int = QUEUE_FRAMES) -> None:
        self.feed = feed
        self.queue_frames = max(1, int(queue_frames))
        self._q: deque[tuple[str, object, float]] = deque()
        self._n_frames = 0
        self._cv = threading.Condition()
        self._closed = False
        self.offered = self.sent = self.dropped = self.events = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="mx-sinks", daemon=True)
        self._thread.start()

    def put(self, fr: object | None, events: Iterable[Event] = ()) -> None:
        """Queue one FrameResult (None: events only) and the events that closed with it; never blocks."""
        now = time.perf_counter()
        with self._cv:
            if fr is not None and fr.faces:  # type: ignore[attr-defined]
                n = len(fr.faces)  # type: ignore[attr-defined]
                self.offered += n
                if self._n_frames >= self.queue_frames:
                    for k, item in enumerate(self._q):  # the oldest frame (events stay, in order)
                        if item[0] == "frame":
                            del self._q[k]
                            self._n_frames -= 1
                            self.dropped += len(item[1].faces)  # type: ignore[attr-defined]
                            break
                self._q.append(("frame", fr, now))
                self._n_frames += 1
            evs = list(events)
            if evs:
                self._q.append(("events", evs, now))
            self._cv.notify()

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._q and not self._closed:
                    self._cv.wait()
                if not self._q:
                    return
                kind, payload, t_enter = self._q.popleft()
                if kind == "frame":
                    self._n_frames -= 1
            if self.error is not None:
                continue  # a failed sink: drain the queue, the caller reports the error at close
            try:
                if kind == "frame":
                    self.sent += self.feed.frame(payload, t_enter)  # type: ignore[attr-defined]
                else:
                    self.events += len(self.feed.events(payload))  # type: ignore[attr-defined]
            except Exception as e:  # noqa: BLE001 - re-raised in the caller's thread by close()
                self.error = e

    def stats(self) -> dict:
        """What the sinks did, for ``--stats`` and ``/stats``."""
        with self._cv:
            return {
                "offered": self.offered,
                "sent": self.sent,
                "dropped": self.dropped,
                "events": self.events,
                "queue": self._n_frames,
            }

    def close(self, timeout_s: float = 10.0) -> None:
        """Send what is queued (everything is flushed), stop the thread, and raise a sink's error if one
        failed."""
        with self._cv:
            self._closed = True
            self._cv.notify()
        self._thread.join(timeout_s)
        if self.error is not None:
            raise self.error
