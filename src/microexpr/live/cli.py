"""``microexpr live``: the command body (mounted in microexpr.cli)."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Optional

import typer


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
        4, "--queue", help="Frames waiting for a landmarker, at most (then the oldest drop)."
    ),
    max_faces: int = typer.Option(1, "--max-faces", help="Most faces tracked per frame."),
    fps: Optional[float] = typer.Option(None, "--fps", help="Camera frame rate to ask for."),
    size: Optional[str] = typer.Option(None, "--size", help="Camera size WIDTHxHEIGHT to ask for."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
) -> None:
    """Analyse a live source frame by frame: events as they close, latency and drops measured."""
    from microexpr.cli import _run, err, out

    def body() -> None:
        from microexpr.errors import OptionError
        from microexpr.live import open_live, run_live
        from microexpr.outputs import atomic_write_text

        if not 1 <= workers <= 8 or not 1 <= queue <= 1000 or not 1 <= max_faces <= 16:
            raise OptionError("--workers must be 1-8, --queue 1-1000 and --max-faces 1-16")
        wh = None
        if size:
            try:
                w, h = (int(v) for v in size.lower().split("x"))
                wh = (w, h)
            except ValueError:
                raise OptionError(f"--size must be WIDTHxHEIGHT, but got {size!r}") from None
        src = open_live(source, realtime=realtime, fps=fps, size=wh)
        stop = threading.Event()
        previous = signal.signal(signal.SIGINT, lambda *_: stop.set())  # Ctrl-C: stop, flush, write stats

        def show(fr: object, events: list, latency_ms: float) -> None:
            if quiet:
                return
            for e in events:
                out.print(
                    f"{e.kind:5s} face {e.face_id}  {e.onset_s:8.3f}-{e.offset_s:8.3f} s  "
                    f"{e.duration_ms:5.0f} ms  {'+'.join(e.au_codes) or '-'}",
                    highlight=False,
                )

        try:
            st = run_live(
                src, on_frame=show, workers=workers, queue_size=queue, max_faces=max_faces, stop=stop
            )
        finally:
            signal.signal(signal.SIGINT, previous)
        d = st.to_dict()
        if stats is not None:
            atomic_write_text(stats, json.dumps(d, indent=1))
        if not quiet:
            lat = d["latency_ms"]
            err.print(
                f"[green]done:[/] {d['frames']} frames at {d['fps']:.1f} frames/s, {d['dropped']} dropped "
                f"({100 * d['drop_ratio']:.1f}%), latency p50 {lat['p50']} ms, p95 {lat['p95']} ms, "
                f"{d['events']} events",
                highlight=False,
            )

    _run(body)
