"""The live dashboard: a page at ``/`` (``web/static/live.html``), a WebSocket ``/ws`` and ``GET /stats``.

The pipeline's callback only hands over references (:meth:`Dashboard.on_frame`: the latest result wins);
a thread of its own, at most ``VIDEO_FPS`` times a second and only while a page is connected, scales the
matching video frame to ``VIDEO_WIDTH_PX``, blurs the faces away (``blur``: down to ``PIXEL_BLOCKS`` samples
across, then back up), encodes it as JPEG with OpenCV and publishes it with the AU intensities and head
pose; latency, fps and drop figures follow a few times a second. Events are published as they close.
Messages (JSON, ``type``): ``hello``, ``video`` (``jpeg``: base64), ``face``, ``stats``, ``event``
(:func:`~microexpr.stream.base.event_json`), ``status``.
"""

from __future__ import annotations

import base64
import ipaddress
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator

import numpy as np

from microexpr.live.sources import LiveFrame

VIDEO_WIDTH_PX = 320
VIDEO_FPS = 15.0
STATS_HZ = 4.0
JPEG_QUALITY = 70
PIXEL_BLOCKS = 8  # a blurred face keeps this many samples across
NICE = 10  # the dashboard's threads run at lower CPU priority than the pipeline's
KEEP_IMAGES = 32  # captured frames waiting for their result, at most (references, not copies)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def video_jpeg(
    image: np.ndarray,
    boxes: list[tuple[float, float, float, float]] | None = None,
    *,
    width_px: int = VIDEO_WIDTH_PX,
    blur: bool = False,
    quality: int = JPEG_QUALITY,
) -> bytes:
    """An RGB frame as a small JPEG, at most ``width_px`` wide.

    Args:
        image: (H, W, 3) RGB uint8.
        boxes: face boxes (x0, y0, x1, y1) in the image's pixels.
        width_px: widest output.
        blur: blur each face box away (down to ``PIXEL_BLOCKS`` samples across, back up smoothly); with no
            box, the whole frame (a face the tracker missed is never shown).
        quality: JPEG quality 1-100.
    """
    import cv2

    h, w = image.shape[:2]
    scale = min(1.0, width_px / max(w, 1))
    out = np.ascontiguousarray(image)
    if scale < 1.0:
        out = cv2.resize(
            out, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
        )
    if blur:
        out = out.copy() if out is image else out
        oh, ow = out.shape[:2]
        regions = [(0.0, 0.0, float(w), float(h))] if not boxes else boxes
        for x0, y0, x1, y1 in regions:
            a0, b0 = max(0, int(x0 * scale)), max(0, int(y0 * scale))
            a1, b1 = min(ow, int(np.ceil(x1 * scale))), min(oh, int(np.ceil(y1 * scale)))
            if a1 - a0 < 2 or b1 - b0 < 2:
                continue
            roi = out[b0:b1, a0:a1]
            bw = max(1, min(PIXEL_BLOCKS, a1 - a0))
            bh = max(1, round(bw * (b1 - b0) / (a1 - a0)))
            small = cv2.resize(roi, (bw, bh), interpolation=cv2.INTER_AREA)
            out[b0:b1, a0:a1] = cv2.resize(small, (a1 - a0, b1 - b0), interpolation=cv2.INTER_LINEAR)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 image
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def _face_boxes(fr: object, margin: float = 0.15) -> list[tuple[float, float, float, float]]:
    boxes = []
    for f in fr.faces:  # type: ignore[attr-defined]
        p = np.asarray(f.landmarks_px)[:, :2]
        x0, y0 = p.min(axis=0)
        x1, y1 = p.max(axis=0)
        mx, my = (x1 - x0) * margin, (y1 - y0) * margin
        boxes.append((float(x0 - mx), float(y0 - 2 * my), float(x1 + mx), float(y1 + my)))
    return boxes


def face_json(fr: object) -> dict:
    """The ``face`` message of one FrameResult: per face its AUs (0-5) and head pose in degrees."""
    from microexpr.stream.base import _f

    faces = []
    for f in fr.faces:  # type: ignore[attr-defined]
        pose = np.asarray(f.pose, np.float64)
        faces.append(
            {
                "face_id": int(f.face_id),
                "au": {k: _f(v, 3) for k, v in f.au.items()},
                "head_deg": {
                    "yaw": _f(np.degrees(pose[4]), 2),
                    "pitch": _f(np.degrees(pose[3]), 2),
                    "roll": _f(np.degrees(pose[5]), 2),
                },
                "calibrated": bool(f.calibrated),
            }
        )
    index, t_s = fr.index, fr.t_s  # type: ignore[attr-defined]
    return {"type": "face", "index": index, "t_s": _f(t_s, 6), "faces": faces}


class Dashboard:
    """Serves the live dashboard on ``host:port`` and publishes what the live run produces.

    Args:
        stats: ``stats(recent)`` -> the run's figures (``LiveStats.to_dict`` and extras); ``GET /stats``
            returns ``stats(False)``, the page gets ``stats(True)``.
        host: address to bind (127.0.0.1 unless told otherwise).
        port: port to bind (0: any free port; read ``.port``).
        video: ``"plain"``, ``"blur"`` (faces blurred away) or ``None`` (no video is sent).
        hello: extra fields of the hello message (e.g. the source's name).
    """

    def __init__(
        self,
        stats: Callable[[bool], dict],
        *,
        host: str = "127.0.0.1",
        port: int = 8766,
        video: str | None = "plain",
        hello: dict | None = None,
    ) -> None:
        from microexpr.stream.ws import BackgroundServer, Hub

        if video not in ("plain", "blur", None):
            raise ValueError(f"video must be 'plain', 'blur' or None, not {video!r}")
        self.video = video
        self._stats = stats
        self.hub = Hub({"video": video, "video_fps": VIDEO_FPS, **(hello or {})})
        self._images: OrderedDict[int, np.ndarray] = OrderedDict()
        self._latest: tuple[object, np.ndarray | None] | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self.video_frames = 0  # JPEGs sent
        self.encode_ms = 0.0  # time spent scaling, blurring and encoding them
        self._server = BackgroundServer(self._app(), host, port, name="mx-dashboard", nice=NICE)
        self.host, self.port = host, self._server.port
        self._thread = threading.Thread(target=self._loop, name="mx-dashboard-pub", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def _app(self):  # noqa: ANN202 - FastAPI is imported here
        from fastapi import FastAPI
        from fastapi.responses import JSONResponse

        from microexpr.stream.ws import add_page_routes, add_ws_route

        app = FastAPI(title="microexpr live", docs_url=None, redoc_url=None, openapi_url=None)
        add_ws_route(app, self.hub)
        add_page_routes(app, index="live.html")

        @app.get("/stats")
        def stats() -> JSONResponse:
            return JSONResponse(self._stats(False))

        return app

    def tap(self, frames: Iterator[LiveFrame]) -> Iterator[LiveFrame]:
        """Pass the source's frames through, keeping a reference to the last few images (for the video)."""
        for fr in frames:
            if self.video is not None:
                with self._lock:
                    self._images[fr.index] = fr.image
                    while len(self._images) > KEEP_IMAGES:
                        self._images.popitem(last=False)
            yield fr

    def wait_for_client(self, timeout_s: float) -> bool:
        """Block until a page is connected (True) or ``timeout_s`` passed (False)."""
        return self.hub.connected.wait(timeout_s)

    def on_frame(self, fr: object | None, events: list, latency_ms: float = 0.0) -> None:
        """The pipeline's callback: publish the events, hand the frame over (cheap; the latest wins)."""
        from microexpr.stream.base import event_json

        for ev in events:
            self.hub.publish(event_json(ev), is_event=True)
        if fr is None:
            return
        image = None
        with self._lock:
            if self.video is not None:
                image = self._images.pop(fr.index, None)  # type: ignore[attr-defined]
                while self._images and next(iter(self._images)) < fr.index:  # type: ignore[attr-defined]
                    self._images.popitem(last=False)  # frames dropped or already shown
            self._latest = (fr, image)
        self._wake.set()

    def status(self, **fields: object) -> None:
        """Publish a ``status`` message (``state``: running, ended; ``text``)."""
        self.hub.publish({"type": "status", **fields})

    def _loop(self) -> None:
        from microexpr.stream.ws import lower_thread_priority

        lower_thread_priority(NICE)  # the pipeline's threads come first
        period, stats_every = 1.0 / VIDEO_FPS, 1.0 / STATS_HZ
        next_stats = 0.0
        while not self._closed.is_set():
            t0 = time.monotonic()
            self._wake.wait(period)
            self._wake.clear()
            with self._lock:
                latest, self._latest = self._latest, None
            if self.hub.n_clients:
                if latest is not None:
                    self._publish(*latest)
                if t0 >= next_stats:
                    next_stats = t0 + stats_every
                    self.hub.publish({"type": "stats", **self._stats(True)})
            rest = period - (time.monotonic() - t0)
            if rest > 0:
                self._closed.wait(rest)  # at most VIDEO_FPS messages a second, however fast the source

    def _publish(self, fr: object, image: np.ndarray | None) -> None:
        if image is not None:
            t = time.perf_counter()
            jpeg = video_jpeg(image, _face_boxes(fr), blur=self.video == "blur")
            self.encode_ms += (time.perf_counter() - t) * 1000.0
            self.video_frames += 1
            self.hub.publish(
                {
                    "type": "video",
                    "index": fr.index,  # type: ignore[attr-defined]
                    "jpeg": base64.b64encode(jpeg).decode("ascii"),
                }
            )
        self.hub.publish(face_json(fr))

    def stats(self) -> dict:
        """The dashboard's own figures (for ``/stats`` and ``--stats``)."""
        n = self.video_frames
        return {
            "clients": self.hub.n_clients,
            "video_frames": n,
            "encode_ms_mean": round(self.encode_ms / n, 3) if n else None,
            "ws_dropped": self.hub.dropped,
        }

    def close(self, drain_s: float = 0.5) -> None:
        """Publish the last figures, give the pages ``drain_s`` to receive them, stop serving."""
        if self.hub.n_clients:
            self.hub.publish({"type": "stats", **self._stats(True)})
            time.sleep(drain_s)
        self._closed.set()
        self._wake.set()
        self._thread.join(5.0)
        self._server.close()
