"""WebSocket JSON sink: a FastAPI app (``/ws``) served by uvicorn in a background thread.

Messages are JSON objects: ``{"type": "hello", ...}`` on connect (rig channels, event delay, recent events),
then ``{"type": "frame", ...}`` per face-frame (:func:`~microexpr.stream.base.frame_json`) and
``{"type": "event", ...}`` per spotted event. A client that reads too slowly loses frames (never events): each
client has a bounded queue and the oldest frames are dropped first. The same app serves the preview page at
``/`` (see :mod:`microexpr.web`).
"""

# no `from __future__ import annotations`: FastAPI reads the endpoint annotations (local imports) at runtime

import asyncio
import json
import threading
import time
from collections import deque

from microexpr.errors import OptionError
from microexpr.stream.base import AvatarFrame, SinkBase, event_json, frame_json
from microexpr.types import Event

QUEUE_FRAMES = 256  # per client; beyond this the oldest frames are dropped
RECENT_EVENTS = 50


class Hub:
    """Fan-out of JSON messages from the capture thread to every connected WebSocket client."""

    def __init__(self, hello: dict | None = None) -> None:
        self.hello = dict(hello or {})
        self.events: deque[str] = deque(maxlen=RECENT_EVENTS)
        self._clients: set[asyncio.Queue] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self.connected = threading.Event()
        self.dropped = 0

    def _attach(self, q: asyncio.Queue) -> list[str]:
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._clients.add(q)
            self.connected.set()
            return list(self.events)

    def _detach(self, q: asyncio.Queue) -> None:
        with self._lock:
            self._clients.discard(q)

    @property
    def n_clients(self) -> int:
        return len(self._clients)

    def publish(self, message: dict, *, is_event: bool = False) -> None:
        """Queue ``message`` for every client (thread-safe; returns at once)."""
        text = json.dumps(message, separators=(",", ":"))
        with self._lock:
            if is_event:
                self.events.append(text)
            loop, clients = self._loop, list(self._clients)
        if loop is None or not clients:
            return
        for q in clients:
            try:
                loop.call_soon_threadsafe(self._put, q, text, is_event)
            except RuntimeError:  # the server's loop has closed
                return

    def _put(self, q: asyncio.Queue, text: str, is_event: bool) -> None:
        while q.full():
            q.get_nowait()
            self.dropped += 1
        q.put_nowait(text)


def add_ws_route(app, hub: Hub, path: str = "/ws") -> None:  # noqa: ANN001 - a FastAPI app
    """Add the WebSocket endpoint that relays ``hub``'s messages (hello first, then recent events) to ``app``."""
    from fastapi import WebSocket, WebSocketDisconnect

    @app.websocket(path)
    async def ws_endpoint(ws: WebSocket) -> None:
        await ws.accept()
        q: asyncio.Queue = asyncio.Queue(maxsize=QUEUE_FRAMES)
        # attach before the hello: a frame published once the client has its hello is never lost; events
        # up to the attach come from the snapshot, later ones through the queue (none twice)
        recent = hub._attach(q)
        await ws.send_text(json.dumps({"type": "hello", **hub.hello}))
        for text in recent:
            await ws.send_text(text)

        async def pump() -> None:
            try:
                while True:
                    await ws.send_text(await q.get())
            except (WebSocketDisconnect, RuntimeError, OSError):
                return

        sender = asyncio.create_task(pump())
        try:  # read until the client leaves, so that a closed page releases its queue at once
            while (await ws.receive())["type"] != "websocket.disconnect":
                pass
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass
        finally:
            sender.cancel()
            hub._detach(q)


def add_page_routes(app, index: str = "index.html") -> None:  # noqa: ANN001 - a FastAPI app
    """Serve the shipped static files (:func:`microexpr.web.static_dir`): ``index`` at ``/`` and each file at
    ``/static/NAME`` (no other path)."""
    from fastapi import HTTPException
    from fastapi.responses import FileResponse, HTMLResponse

    from microexpr.web import static_dir

    files = {p.name: p for p in static_dir().iterdir() if p.is_file()}
    page = files[index]

    @app.get("/", response_class=HTMLResponse)
    def index_page() -> FileResponse:
        return FileResponse(page, media_type="text/html")

    @app.get("/static/{name}")
    def static(name: str) -> FileResponse:
        if name not in files:  # only the shipped files: no path from the request reaches the disk
            raise HTTPException(status_code=404)
        return FileResponse(files[name])


def make_app(hub: Hub, *, page: bool = True):  # noqa: ANN201 - FastAPI is imported here, not at module level
    """The FastAPI app: ``/ws`` (the stream), and with ``page`` the preview page at ``/``."""
    from fastapi import FastAPI

    app = FastAPI(title="microexpr stream", docs_url=None, redoc_url=None, openapi_url=None)

    add_ws_route(app, hub)

    if page:
        add_page_routes(app)

    return app


def lower_thread_priority(nice: int) -> None:
    """Raise the calling thread's niceness by ``nice`` (Linux: threads have their own; elsewhere nothing)."""
    import os

    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except (AttributeError, OSError):
        pass


class BackgroundServer:
    """A uvicorn server for ``app`` on ``host:port`` in a daemon thread (0: any free port; read ``.port``);
    ``nice`` > 0 lowers that thread's CPU priority (Linux), so that it yields to analysis threads.

    Raises:
        OptionError: the address cannot be bound (one line).
    """

    def __init__(
        self, app: object, host: str, port: int, name: str = "microexpr-http", nice: int = 0
    ) -> None:
        import uvicorn

        config = uvicorn.Config(
            app,  # type: ignore[arg-type]
            host=host,
            port=port,
            log_level="warning",
            lifespan="off",
            ws="websockets-sansio",
            timeout_graceful_shutdown=2,
        )
        self.host = host
        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._error: BaseException | None = None
        self._nice = nice
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10.0
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise OptionError(f"cannot serve on {host}:{port} (address in use or not available)")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]

    def _serve(self) -> None:
        if self._nice > 0:
            lower_thread_priority(self._nice)
        try:
            self._server.run()
        except BaseException as e:  # noqa: BLE001 - a bind failure ends up here (uvicorn calls sys.exit)
            self._error = e

    def close(self) -> None:
        """Stop serving."""
        self._server.should_exit = True
        self._thread.join(timeout=5.0)


class WebSocketSink(SinkBase):
    """Serves ``/ws`` (and the preview page) on ``host:port`` and broadcasts frames and events as JSON.

    Args:
        host: address to bind (127.0.0.1 unless told otherwise).
        port: port to bind (0: any free port; read ``.port`` after start).
        hello: extra fields of the hello message.
        page: also serve the preview page at ``/``.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 8765, *, hello: dict | None = None, page: bool = True
    ):
        self.hub = Hub(hello)
        self.host = host
        self._http = BackgroundServer(make_app(self.hub, page=page), host, port, name="microexpr-ws")
        self.port = self._http.port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def wait_for_client(self, timeout_s: float | None = None) -> bool:
        """Block until a client is connected (True) or ``timeout_s`` passed (False)."""
        return self.hub.connected.wait(timeout_s)

    def send(self, frame: AvatarFrame) -> None:
        self.hub.publish(frame_json(frame))

    def event(self, ev: Event) -> None:
        self.hub.publish(event_json(ev), is_event=True)

    def status(self, **fields: object) -> None:
        """Send a ``{"type": "status", ...}`` message (stream started / ended)."""
        self.hub.publish({"type": "status", **fields})

    def close(self, drain_s: float = 0.5) -> None:
        """Stop serving (after up to ``drain_s`` for queued messages to leave)."""
        time.sleep(drain_s if self.hub.n_clients else 0.0)
        self._http.close()
