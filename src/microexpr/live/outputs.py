"""Where a live run's results go besides the terminal: streaming sinks (``--vmc``, ``--livelink``, ``--ws``,
through :class:`~microexpr.live.sinks.SinkWorker`) and the dashboard (``--dashboard``).

:meth:`LiveOutputs.check` validates every option before anything is opened; :meth:`LiveOutputs.open` opens
the sockets and servers and returns a :class:`LiveSession`, whose :meth:`~LiveSession.on_frame` is what the
pipeline calls (it only queues or hands over references, so outputs never stall the pipeline).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from microexpr.errors import OptionError
from microexpr.live.sources import LiveSource


def display_name(name: str) -> str:
    """What a page may show of a source: a file's name without its folders, a URL without credentials, path
    or query (``rtsp://user:secret@cam/stream?token=x`` -> ``rtsp://cam``), a camera device as it is."""
    if "://" in name:
        from urllib.parse import urlsplit

        u = urlsplit(name)
        return f"{u.scheme}://{u.hostname or ''}" + (f":{u.port}" if u.port else "")
    if name.startswith("/dev/video"):
        return name
    return Path(name).name


@dataclass
class LiveOutputs:
    """The validated output options of ``microexpr live``."""

    vmc: tuple[str, int] | None = None
    livelink: tuple[str, int] | None = None
    ws: tuple[str, int] | None = None
    rig: str = "arkit"
    gain: float = 1.0
    channel_gain: dict[str, float] = field(default_factory=dict)
    smoothing_ms: float = 0.0
    dashboard: tuple[str, int] | None = None
    video: str | None = "plain"

    @classmethod
    def check(
        cls,
        *,
        vmc: str | None = None,
        livelink: str | None = None,
        ws: str | None = None,
        rig: str = "arkit",
        gain: str = "1",
        smoothing_ms: float = 0.0,
        dashboard: bool = False,
        host: str = "127.0.0.1",
        port: int = 8766,
        blur_video: bool = False,
        no_video: bool = False,
    ) -> LiveOutputs:
        """Parse and check the options (rig, gains, addresses) before any socket is opened.

        Raises:
            OptionError: one line naming the option.
        """
        from microexpr.avatar.retarget import Retargeter, parse_gain
        from microexpr.stream.base import parse_hostport
        from microexpr.stream.livelink import DEFAULT_PORT as LL_PORT
        from microexpr.stream.vmc import DEFAULT_PORT as VMC_PORT

        if blur_video and no_video:
            raise OptionError("give --blur-video or --no-video, not both")
        if not dashboard and (blur_video or no_video):
            raise OptionError("--blur-video and --no-video go with --dashboard")
        o = cls(
            vmc=parse_hostport(vmc, default_port=VMC_PORT, option="--vmc") if vmc is not None else None,
            livelink=(
                parse_hostport(livelink, default_port=LL_PORT, option="--livelink")
                if livelink is not None
                else None
            ),
            ws=parse_hostport(ws, default_port=8765, option="--ws") if ws is not None else None,
            dashboard=parse_hostport(f"{host}:{port}", default_port=8766, option="--host/--port")
            if dashboard
            else None,
            video=None if no_video else ("blur" if blur_video else "plain"),
            rig=rig,
            smoothing_ms=smoothing_ms,
        )
        if o.ws is not None and o.dashboard is not None and o.ws[1] == o.dashboard[1] and o.ws[1] != 0:
            raise OptionError(f"--ws and the dashboard cannot share port {o.ws[1]}")
        if o.sinks:
            o.gain, per = parse_gain(gain)
            o.channel_gain = dict(per or {})
            Retargeter(rig, gain=o.gain, channel_gain=per, smoothing_ms=smoothing_ms)  # rig and gains valid
        return o

    @property
    def sinks(self) -> list[str]:
        """The streaming sinks asked for (vmc, livelink, ws)."""
        return [n for n, v in (("vmc", self.vmc), ("livelink", self.livelink), ("ws", self.ws)) if v]

    @property
    def targets(self) -> list[str]:
        """Every place data leaves the process: the sinks and the dashboard."""
        return self.sinks + (["dashboard"] if self.dashboard else [])

    def open(
        self,
        source: LiveSource,
        stats: object,
        *,
        subject: str = "microexpr",
        log: Callable[[str], None] | None = None,
    ) -> LiveSession:
        """Open the sinks and the dashboard for a run of ``source`` whose figures go into ``stats``
        (a :class:`~microexpr.live.pipeline.LiveStats`)."""
        return LiveSession(self, source, stats, subject=subject, log=log)


class LiveSession:
    """The open outputs of one live run (a context manager; closing flushes the sinks and stops serving).

    Attributes:
        source: the source to run (the original one, or passed through the dashboard's tap for the video).
        worker: the sinks' :class:`~microexpr.live.sinks.SinkWorker`, or None.
        dashboard: the :class:`~microexpr.live.dashboard.Dashboard`, or None.
    """

    def __init__(
        self,
        outputs: LiveOutputs,
        source: LiveSource,
        stats: object,
        *,
        subject: str = "microexpr",
        log: Callable[[str], None] | None = None,
    ) -> None:
        from microexpr.live.dashboard import is_loopback

        self.stats = stats
        self.worker = None
        self.dashboard = None
        self._sinks: list = []
        self._finished = False
        from microexpr.stream.run import _labeller

        self._label = _labeller(True)
        say = log or (lambda _m: None)
        try:
            o = outputs
            if o.sinks:
                from microexpr.live.sinks import SinkWorker
                from microexpr.stream.run import SinkFeed

                self._sinks = self._open_sinks(o, subject)
                for s in self._sinks:
                    if hasattr(s, "hub"):
                        say(f"WebSocket on ws://{s.host}:{s.port}/ws")
                feed = SinkFeed(
                    self._sinks,
                    rig=o.rig,
                    gain=o.gain,
                    channel_gain=o.channel_gain,
                    smoothing_ms=o.smoothing_ms,
                )
                self.worker = SinkWorker(feed)
            if o.dashboard is not None:
                from microexpr.live.dashboard import Dashboard

                host, port = o.dashboard
                self.dashboard = Dashboard(
                    self.stats_dict,
                    host=host,
                    port=port,
                    video=o.video,
                    hello={"source": display_name(source.name)},
                )
                if not is_loopback(host):
                    say(
                        f"warning: the dashboard listens on {host}, reachable from other machines; "
                        "it shows the face and what it expresses"
                    )
                say(f"dashboard on {self.dashboard.url} (stats: {self.dashboard.url}stats)")
                if o.video is not None:
                    source = LiveSource(
                        self.dashboard.tap(source.frames), source.live, source.name, source.restart_clock
                    )
            self.source = source
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _open_sinks(o: LiveOutputs, subject: str) -> list:
        from microexpr.stream.livelink import LiveLinkSink
        from microexpr.stream.vmc import VMCSink

        sinks: list = []
        try:
            if o.vmc is not None:
                sinks.append(VMCSink(*o.vmc))
            if o.livelink is not None:
                sinks.append(LiveLinkSink(*o.livelink, subject=subject))
            if o.ws is not None:
                from microexpr.stream.ws import WebSocketSink

                sinks.append(WebSocketSink(*o.ws, page=False))
        except BaseException:
            for s in sinks:
                s.close()
            raise
        return sinks

    def on_frame(self, fr: object | None, events: list, latency_ms: float) -> None:
        """The pipeline's callback: queue for the sinks, hand over to the dashboard; never blocks."""
        if events:
            events = [self._label(e) for e in events]  # the emotion, as analyze and stream label events
        if self.worker is not None:
            self.worker.put(fr, events)
        if self.dashboard is not None:
            self.dashboard.on_frame(fr, events, latency_ms)

    def wait_for_page(self, timeout_s: float) -> bool:
        """Wait for a dashboard page to connect (True), or ``timeout_s`` (False)."""
        return self.dashboard is not None and self.dashboard.wait_for_client(timeout_s)

    def stats_dict(self, recent: bool = False) -> dict:
        """The run's figures (``LiveStats.to_dict``) with the sinks' (``sinks``) and the dashboard's."""
        d = self.stats.to_dict(recent=recent)  # type: ignore[attr-defined]
        if self.worker is not None:
            d["sinks"] = self.worker.stats()
        if self.dashboard is not None:
            d["dashboard"] = self.dashboard.stats()
        return d

    def finish(self) -> None:
        """The source has ended: send what the sinks still have queued, tell the pages."""
        if self._finished:
            return
        self._finished = True
        if self.worker is not None:
            self.worker.close()  # flushes; raises a sink's error
        if self.dashboard is not None:
            d = self.stats_dict()
            self.dashboard.status(
                state="ended", text=f"source ended: {d['frames']} frames, {d['events']} events", stats=d
            )

    def close(self) -> None:
        """Flush and close everything (idempotent)."""
        try:
            if self.worker is not None and not self._finished:
                self._finished = True
                self.worker.close()
        finally:
            for s in self._sinks:
                s.close()
            self._sinks = []
            if self.dashboard is not None:
                self.dashboard.close()

    def __enter__(self) -> LiveSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
