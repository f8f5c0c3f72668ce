"""Commands ``microexpr stream``, ``microexpr serve`` and ``microexpr synth curves`` (mounted by microexpr.cli).

Command bodies import the library inside, so ``microexpr --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

_TRACK_SUFFIXES = (".csv",)


def _sinks(vmc: Optional[str], livelink: Optional[str], ws: Optional[str], subject: str, ws_page: bool):  # noqa: ANN202
    from microexpr.stream.base import parse_hostport
    from microexpr.stream.livelink import DEFAULT_PORT as LL_PORT
    from microexpr.stream.livelink import LiveLinkSink
    from microexpr.stream.vmc import DEFAULT_PORT as VMC_PORT
    from microexpr.stream.vmc import VMCSink

    sinks = []
    if vmc is not None:
        sinks.append(VMCSink(*parse_hostport(vmc, default_port=VMC_PORT, option="--vmc")))
    if livelink is not None:
        sinks.append(
            LiveLinkSink(
                *parse_hostport(livelink, default_port=LL_PORT, option="--livelink"), subject=subject
            )
        )
    if ws is not None:
        from microexpr.stream.ws import WebSocketSink

        sinks.append(WebSocketSink(*parse_hostport(ws, default_port=8765, option="--ws"), page=ws_page))
    return sinks


def _check(source: str, rig: str, gain: str, smoothing_ms: float) -> None:
    from microexpr.avatar.retarget import Retargeter, parse_gain
    from microexpr.stream.run import check_source

    check_source(source)
    overall, per = parse_gain(gain)
    Retargeter(rig, gain=overall, channel_gain=per, smoothing_ms=smoothing_ms)


def _play(
    source: str, sinks: list, *, rig: str, gain: str, smoothing_ms: float, realtime: bool, log
) -> object:  # noqa: ANN001
    from microexpr.avatar.retarget import parse_gain
    from microexpr.stream.run import check_source, stream_track, stream_video

    overall, per = parse_gain(gain)
    path = check_source(source)
    kw = dict(rig=rig, gain=overall, channel_gain=per, smoothing_ms=smoothing_ms, realtime=realtime)
    if path.suffix.lower() in _TRACK_SUFFIXES:
        from microexpr.synth.expression import read_track

        return stream_track(read_track(path), sinks, **kw)
    return stream_video(path, sinks, **kw)


def register(app: typer.Typer, synth_app: typer.Typer) -> None:
    """Add the commands to the main app and to ``synth``."""

    @app.command("stream")
    def stream_cmd(
        source: str = typer.Argument(
            ..., help="Video file, or a curves CSV from `synth curves` (a camera: `microexpr live`)."
        ),
        vmc: Optional[str] = typer.Option(
            None, "--vmc", help="Send VMC (OSC/UDP) to HOST:PORT (default port 39539)."
        ),
        livelink: Optional[str] = typer.Option(
            None, "--livelink", help="Send Live Link Face packets to HOST:PORT (default port 11111)."
        ),
        ws: Optional[str] = typer.Option(None, "--ws", help="Serve WebSocket JSON on HOST:PORT (path /ws)."),
        realtime: bool = typer.Option(False, "--realtime", help="Play at the source's own speed."),
        rig: str = typer.Option(
            "arkit", "--rig", help="arkit, livelink, vrm0, vrm1, or a rig file (.json/.yaml)."
        ),
        gain: str = typer.Option(
            "1", "--gain", help="Gain: NUMBER for all channels and/or CHANNEL=NUMBER,..."
        ),
        smoothing_ms: float = typer.Option(
            0.0, "--smoothing-ms", help="Smoothing time constant in ms (its latency; 0: none)."
        ),
        subject: str = typer.Option("microexpr", "--subject", help="Live Link subject name."),
        stored_subject: Optional[str] = typer.Option(
            None, "--stored-subject", help="A stored person's id: needs their 'streaming' consent in --store."
        ),
        store: Optional[Path] = typer.Option(None, "--store", help="Store folder ($MICROEXPR_HOME/store)."),
        key_file: Optional[Path] = typer.Option(
            None, "--key-file", help="Master key file (or $MICROEXPR_KEY)."
        ),
        purpose: Optional[str] = typer.Option(None, "--purpose", help="Purpose, for the audit log."),
    ) -> None:
        """Analyse SOURCE and stream retargeted blendshapes, head pose and events to avatar apps."""
        from microexpr.cli import _run, err, out

        def body() -> None:
            if vmc is None and livelink is None and ws is None:
                from microexpr.errors import OptionError

                raise OptionError("give at least one of --vmc, --livelink and --ws")
            _check(source, rig, gain, smoothing_ms)  # before any socket or server is opened
            if stored_subject is not None:  # consent first: nothing is sent without it (issue 7)
                from microexpr.ethics.cli import authorize_stream

                authorize_stream(
                    stored_subject,
                    store=store,
                    key_file=key_file,
                    purpose=purpose,
                    sink=",".join(x for x in (vmc and "vmc", livelink and "livelink", ws and "ws") if x),
                )
            sinks = _sinks(vmc, livelink, ws, subject, ws_page=False)
            try:
                for s in sinks:
                    if hasattr(s, "port") and hasattr(s, "hub"):
                        err.print(f"WebSocket on ws://{s.host}:{s.port}/ws", highlight=False)
                stats = _play(
                    source, sinks, rig=rig, gain=gain, smoothing_ms=smoothing_ms, realtime=realtime, log=err
                )
            finally:
                for s in sinks:
                    s.close()
            out.print(
                f"streamed {stats.frames} frames ({stats.sent} face-frames, {len(stats.events)} events) "
                f"in {stats.wall_s:.2f} s",
                highlight=False,
            )

        _run(body)

    @app.command("serve")
    def serve_cmd(
        source: Optional[str] = typer.Argument(None, help="Video file or curves CSV to stream to the page."),
        host: str = typer.Option(
            "127.0.0.1", "--host", help="Address to bind (127.0.0.1: this machine only)."
        ),
        port: int = typer.Option(8765, "--port", help="Port of the page and of /ws."),
        realtime: bool = typer.Option(True, "--realtime/--fast", help="Play at the source's own speed."),
        rig: str = typer.Option("arkit", "--rig", help="Rig of the frames' channels (the page uses ARKit)."),
        gain: str = typer.Option("1", "--gain", help="Gain: NUMBER and/or CHANNEL=NUMBER,..."),
        smoothing_ms: float = typer.Option(0.0, "--smoothing-ms", help="Smoothing time constant in ms."),
        wait_s: float = typer.Option(
            60.0, "--wait-s", help="Seconds to wait for a page to connect before streaming (0: do not wait)."
        ),
        once: bool = typer.Option(False, "--once", help="Exit when the source has been streamed."),
    ) -> None:
        """Host the live preview page (vector face, AU bars, event feed) and stream SOURCE to it."""
        from microexpr.cli import _run, err, out

        def body() -> None:
            import time

            from microexpr.stream.base import parse_hostport
            from microexpr.stream.ws import WebSocketSink

            h, p = parse_hostport(f"{host}:{port}", default_port=8765, option="--port")
            if source is not None:
                _check(source, rig, gain, smoothing_ms)
            with WebSocketSink(h, p, hello={"source": Path(source).name if source else None}) as sink:
                out.print(f"serving {sink.url} (Ctrl-C to stop)", highlight=False)
                if source is not None:
                    if wait_s > 0 and not sink.wait_for_client(wait_s):
                        err.print(f"no page connected within {wait_s:g} s; streaming anyway", highlight=False)
                    sink.status(state="streaming", text=f"streaming {Path(source).name}")
                    stats = _play(
                        source,
                        [sink],
                        rig=rig,
                        gain=gain,
                        smoothing_ms=smoothing_ms,
                        realtime=realtime,
                        log=err,
                    )
                    sink.status(
                        state="ended", text=f"stream ended: {stats.frames} frames, {len(stats.events)} events"
                    )
                    out.print(f"streamed {stats.frames} frames, {len(stats.events)} events", highlight=False)
                if not once:
                    while True:
                        time.sleep(3600)

        _run(body)

    @synth_app.command("curves")
    def synth_curves_cmd(
        emotion: str = typer.Option(
            ..., "--emotion", help="happiness, sadness, surprise, fear, anger, disgust, contempt."
        ),
        kind: str = typer.Option("micro", "--kind", help="micro (40-500 ms) or macro (0.5-4 s)."),
        duration_ms: float = typer.Option(250.0, "--duration-ms", help="Onset to offset, ms."),
        intensity: float = typer.Option(
            0.6, "--intensity", help="Peak as a share of the FACS maximum (0-1)."
        ),
        fps: float = typer.Option(120.0, "--fps", help="Frames per second of the curves."),
        output: Path = typer.Option(
            Path("curves.csv"), "-o", "--output", help="CSV (or JSON keyframes with --json)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Write JSON keyframes instead of CSV."),
        over: Optional[Path] = typer.Option(
            None, "--over", help="Layer onto this track CSV (e.g. an idle loop)."
        ),
        at_s: float = typer.Option(0.0, "--at-s", help="With --over: where the expression starts, seconds."),
        asymmetry: float = typer.Option(0.0, "--asymmetry", help="0 symmetric .. 1 one side only."),
        jitter: float = typer.Option(0.0, "--jitter", help="Relative tremor on the active part (0-0.3)."),
        seed: int = typer.Option(0, "--seed", help="Seed of stagger and jitter."),
        render: Optional[Path] = typer.Option(
            None, "--render", help="Render on this face photo to OUTPUT.mp4."
        ),
    ) -> None:
        """Synthesise an expression as AU and ARKit curves (fast onset, brief apex, slower offset)."""
        from microexpr.cli import _run, out

        def body() -> None:
            from microexpr.synth.expression import expression_track, layer, read_track, write_track

            lead = 0.0 if over is not None else 0.1
            track = expression_track(
                emotion,
                kind=kind,
                duration_ms=duration_ms,
                intensity=intensity,
                fps=fps,
                lead_s=lead,
                tail_s=lead,
                asymmetry=asymmetry,
                jitter=jitter,
                seed=seed,
            )
            if over is not None:
                track = layer(read_track(over), track, at_s=at_s)
            video = None
            if render is not None:
                video = _render(track, render, output.with_suffix(".mp4"))
            write_track(track, output, as_json=as_json)
            out.print(f"[green]wrote[/] {output} ({len(track)} frames at {track.fps:g} fps)", highlight=False)
            if video is not None:
                out.print(f"[green]wrote[/] {video}", highlight=False)

        _run(body)


def _render(track, photo: Path, video: Path) -> Path:  # noqa: ANN001
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    from microexpr.errors import InputError
    from microexpr.synth import face_photo, render_clip, write_video
    from microexpr.synth.expression import renderer_curves

    if not photo.is_file():
        raise InputError(f"{photo}: no such file")
    try:
        with Image.open(photo) as im:
            image = np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError) as e:
        raise InputError(f"{photo}: not a readable image ({e})") from None
    face = face_photo(image)
    curves = renderer_curves(track)
    return write_video(render_clip(face, curves, fps=track.fps, n_frames=len(track)), video, fps=track.fps)
