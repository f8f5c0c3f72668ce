"""``microexpr batch``: the command body (mounted in microexpr.cli). Heavy imports happen inside."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import typer


def batch_cmd(
    input: Path = typer.Argument(..., help="A folder (searched recursively), a manifest .csv or a video."),
    output: Path = typer.Option(..., "-o", "--output", help="Output folder (OUT/<relative path>/...)."),
    workers: int = typer.Option(0, "--workers", help="Worker processes or Ray actors (0: one per core)."),
    executor: str = typer.Option("local", "--executor", help="local (processes) or ray."),
    address: Optional[str] = typer.Option(
        None, "--address", help="Ray cluster address, e.g. 10.0.0.5:6379 (default: a local Ray instance)."
    ),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Analyse again what failed before."),
    max_faces: int = typer.Option(1, "--max-faces", help="Most faces tracked per frame."),
    fps: Optional[float] = typer.Option(None, "--fps", help="Frame rate of image-sequence folders."),
    landmark_mode: str = typer.Option("video", "--landmark-mode", help="MediaPipe mode: video or image."),
    micro_max_ms: float = typer.Option(
        500.0, "--micro-max-ms", help="Longest micro-expression in ms (longer events are macro)."
    ),
    chunk_frames: int = typer.Option(
        240, "--chunk-frames", help="Frames per time chunk of a long video (chunks run in parallel)."
    ),
    no_report: bool = typer.Option(False, "--no-report", help="Skip report.html."),
    no_csv: bool = typer.Option(False, "--no-csv", help="Write frames.parquet only."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar, no summary."),
) -> None:
    """Analyse many videos: resumable (done inputs are skipped), failures recorded in OUT/batch.csv."""
    from microexpr.cli import _run, err, out

    def body() -> None:
        from microexpr.batch.run import BatchOptions, run_batch
        from microexpr.pipeline import AnalyzeOptions

        analysis = {"max_faces": max_faces, "fps": fps, "landmark_mode": landmark_mode}
        analysis["micro_max_ms"] = micro_max_ms
        AnalyzeOptions(**analysis)  # type: ignore[arg-type]  # a bad option fails here, once, not per input
        opts = BatchOptions(
            workers=workers,
            executor=executor,
            address=address,
            retry_failed=retry_failed,
            analysis=analysis,
            report=not no_report,
            csv=not no_csv,
            chunk_frames=chunk_frames,
        )
        logging.getLogger("microexpr").setLevel(logging.ERROR)
        if quiet:
            rows = run_batch(input, output, opts)
        else:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            with Progress(
                TextColumn("batch"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("inputs"),
                TimeRemainingColumn(),
                console=err,
                transient=True,
            ) as bar:
                task = bar.add_task("inputs", total=None)
                rows = run_batch(
                    input, output, opts, progress=lambda d, t: bar.update(task, completed=d, total=t)
                )
        counts = {s: sum(r["status"] == s for r in rows) for s in ("ok", "skipped", "failed")}
        if not quiet:
            out.print(
                f"[green]done:[/] {output / 'batch.csv'}  ({counts['ok']} analysed, "
                f"{counts['skipped']} skipped, {counts['failed']} failed)",
                highlight=False,
            )
            for r in rows:
                if r["status"] == "failed":
                    err.print(f"[red]failed:[/] {r['input']}: {r['error']}", highlight=False, soft_wrap=True)
        if counts["failed"]:
            raise typer.Exit(1)

    _run(
        body,
        interrupted=f"interrupted; the inputs already finished are kept in {output} (batch.csv): "
        "run the same command again to resume",
    )
