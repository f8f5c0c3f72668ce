"""``microexpr live``: the command body (mounted in microexpr.cli)."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from typing import Optional

import typer

from microexpr.live.pipeline import QUEUE_FRAMES


def live_cmd(
    source: str = typer.Argument(..., help="A camera (0 or /dev/video0), a stream URL, or a video file."),
    realtime: bool = typer.Option(
        False, "--realtime", help="Play a file at its own speed, as a camera would."
    ),
    stats: Optional[Path] = typer.Option(
        None, "--stats", help="Write latency, fps and drops as JSON at exit."
    ),
    workers: int = typer.Option(
        2, "--workers", help="Landmarker threads (2 uses both cores of a 2-core machine)."
    ),
    queue: int = typer.Option(
        QUEUE_FRAMES,
        "--queue",
        help=f"Frames waiting for a landmarker, at most (then the oldest drop); {QUEUE_FRAMES} is 130 ms at 120 fps.",
    ),
    max_faces: int = typer.Option(1, "--max-faces", help="Most faces tracked per frame."),
    fps: Optional[float] = typer.Option(None, "--fps", help="Camera frame rate to ask for."),
    size: Optional[str] = typer.Option(None, "--size", help="Camera size WIDTHxHEIGHT to ask for."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
    vmc: Optional[str] = typer.Option(None, "--vmc", help="Send VMC (OSC/UDP) to HOST:PORT (default 39539)."),
    livelink: Optional[str] = typer.Option(
        None, "--livelink", help="Send Live Link Face packets to HOST:PORT (default port 11111)."
    ),
    ws: Optional[str] = typer.Option(None, "--ws", help="Serve WebSocket JSON on HOST:PORT (path /ws)."),
    rig: str = typer.Option(
        "arkit", "--rig", help="arkit, livelink, vrm0, vrm1, or a rig file (.json/.yaml)."
    ),
    gain: str = typer.Option("1", "--gain", help="Gain: NUMBER for all channels and/or CHANNEL=NUMBER,..."),
    smoothing_ms: float = typer.Option(
        0.0, "--smoothing-ms", help="Smoothing time constant in ms (its latency; 0: none)."
    ),
    subject: str = typer.Option("microexpr", "--subject", help="Live Link subject name."),
    dashboard: bool = typer.Option(
        False, "--dashboard", help="Serve the live dashboard (video, AUs, pose, events, latency)."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Dashboard address (127.0.0.1: this machine only)."),
    port: int = typer.Option(8766, "--port", help="Dashboard port (page at /, WebSocket /ws, GET /stats)."),
    blur_video: bool = typer.Option(False, "--blur-video", help="Dashboard video with the faces pixelated."),
    no_video: bool = typer.Option(False, "--no-video", help="Dashboard without video."),
    wait_s: float = typer.Option(
        0.0, "--wait-s", help="Seconds to wait for a dashboard page before starting (0: start at once)."
    ),
    once: bool = typer.Option(
        False, "--once", help="Stop serving the dashboard when the source ends (else: until Ctrl-C)."
    ),
    stored_subject: Optional[str] = typer.Option(
        None, "--stored-subject", help="A stored person's id: needs their 'streaming' consent in --store."
    ),
    store: Optional[Path] = typer.Option(None, "--store", help="Store folder ($MICROEXPR_HOME/store)."),
    key_file: Optional[Path] = typer.Option(None, "--key-file", help="Master key file (or $MICROEXPR_KEY)."),
    purpose: Optional[str] = typer.Option(None, "--purpose", help="Purpose, for the audit log."),
    neutral: Optional[str] = typer.Option(
        None,
        "--neutral",
        help="START-END seconds when the subject is neutral (default: least active of the first 1 s).",
    ),
    landmark_mode: str = typer.Option(
        "video", "--landmark-mode", help="MediaPipe mode: video (tracks between frames) or image."
    ),
    events_out: Optional[Path] = typer.Option(
        None, "--events", help="Write the events as CSV (events.csv columns) at exit."
    ),
) -> None:
    """Analyse a live source frame by frame: events as they close, latency and drops measured; optionally
    stream to avatar apps (--vmc, --livelink, --ws) and serve a dashboard (--dashboard)."""
    from microexpr.cli import _run, err, out

    def body() -> None:
        from microexpr.errors import OptionError
        from microexpr.live import LiveStats, open_live, run_live
        from microexpr.outputs import atomic_write_text

        if not 1 <= workers <= 8 or not 1 <= queue <= 1000 or not 1 <= max_faces <= 16:
            raise OptionError("--workers must be 1-8, --queue 1-1000 and --max-faces 1-16")
        from microexpr.live.check import parse_size
        from microexpr.live.outputs import LiveOutputs

        wh = parse_size(size)
        from microexpr.calibrate import parse_range

        neutral_range = parse_range(neutral) if neutral is not None else None
        if neutral_range is not None and neutral_range[1] > 60.0:
            raise OptionError("--neutral must end within the first 60 s of a live source")
        if landmark_mode not in ("video", "image"):
            raise OptionError(f"--landmark-mode must be video or image, but got {landmark_mode!r}")
        spotted: list = []

        outs = LiveOutputs.check(
            vmc=vmc, livelink=livelink, ws=ws, rig=rig, gain=gain, smoothing_ms=smoothing_ms,
            dashboard=dashboard, host=host, port=port, blur_video=blur_video, no_video=no_video,
        )  # fmt: skip
        src = open_live(source, realtime=realtime, fps=fps, size=wh)
        if stored_subject is not None:  # consent first: nothing is sent without it (issue 7)
            if not outs.targets:
                raise OptionError("--stored-subject goes with --vmc, --livelink, --ws or --dashboard")
            from microexpr.ethics.cli import authorize_stream

            authorize_stream(
                stored_subject, store=store, key_file=key_file, purpose=purpose, sink=",".join(outs.targets)
            )

        def show(fr: object, events: list, latency_ms: float) -> None:
            if quiet:
                return
            for e in events:
                out.print(
                    f"{e.kind:5s} face {e.face_id}  {e.onset_s:8.3f}-{e.offset_s:8.3f} s  "
                    f"{e.duration_ms:5.0f} ms  {'+'.join(e.au_codes) or '-'}{'  (face lost)' if e.truncated else ''}",
                    highlight=False,
                )

        st = LiveStats()
        say = None if quiet else (lambda m: err.print(m, highlight=False, soft_wrap=True))
        with outs.open(src, st, subject=subject, log=say) as session:
            if outs.dashboard is not None and wait_s > 0 and not session.wait_for_page(wait_s):
                err.print(f"no page connected within {wait_s:g} s; starting anyway", highlight=False)

            def on_frame(fr: object, events: list, latency_ms: float) -> None:
                spotted.extend(events)
                show(fr, events, latency_ms)
                session.on_frame(fr, events, latency_ms)

            stop = threading.Event()
            interrupted = threading.Event()

            def on_sigint(*_: object) -> None:  # Ctrl-C: stop, flush, write stats
                interrupted.set()
                stop.set()

            previous = signal.signal(signal.SIGINT, on_sigint)
            try:
                run_live(
                    session.source,
                    on_frame=on_frame,
                    workers=workers,
                    queue_size=queue,
                    max_faces=max_faces,
                    stop=stop,
                    stats=st,
                    mode=landmark_mode,
                    neutral_range=neutral_range,
                )
            finally:
                signal.signal(signal.SIGINT, previous)
            session.finish()  # the sinks have sent everything queued
            d = session.stats_dict()
            if events_out is not None:
                from microexpr.outputs import events_table

                atomic_write_text(events_out, events_table(spotted).to_csv(index=False))
            if stats is not None:
                atomic_write_text(stats, json.dumps(d, indent=1))
            if not quiet:
                lat = d["latency_ms"]
                sinks = d.get("sinks")
                sent = f", {sinks['sent']} face-frames sent ({sinks['dropped']} dropped)" if sinks else ""
                err.print(
                    f"[green]done:[/] {d['frames']} frames at {d['fps']:.1f} frames/s, "
                    f"{d['dropped']} dropped "
                    f"({100 * d['drop_ratio']:.1f}%), latency p50 {lat['p50']} ms, p95 {lat['p95']} ms, "
                    f"{d['events']} events{sent}",
                    highlight=False,
                )
            if session.dashboard is not None and not once and not interrupted.is_set():
                if not quiet:
                    err.print(f"source ended; still serving {session.dashboard.url} (Ctrl-C to stop)")
                try:
                    while True:
                        time.sleep(3600)
                except KeyboardInterrupt:
                    pass

    _run(body)
