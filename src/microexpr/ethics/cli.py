"""Responsible-use pieces of the CLI: ``microexpr notice``, ``microexpr audit bias`` and analyze's guard/store hooks."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import typer


def notice_cmd(
    context: Optional[str] = typer.Option(None, "--context", help="research, workplace, education, ..."),
    purpose: Optional[str] = typer.Option(None, "--purpose", help="The purpose of the analysis."),
    contact: Optional[str] = typer.Option(None, "--contact", help="Who to contact (printed at the end)."),
) -> None:
    """Print a plain-language notice for the people being analysed."""
    from microexpr.cli import _run

    def body() -> None:
        from microexpr.ethics.guard import notice_text

        if contact is not None:
            from microexpr.store.catalogue import check_text

            check_text(contact, "--contact")
        typer.echo(notice_text(context, purpose=purpose, contact=contact))

    _run(body)


def bias_cmd(
    results: Optional[Path] = typer.Option(
        None, "--results", help="results.json from the recognition trainer."
    ),
    groups: Path = typer.Option(..., "--groups", help="CSV: subject (or id) and one or more group columns."),
    frames: Optional[Path] = typer.Option(
        None,
        "--frames",
        help="Folder of analyze outputs (named by subject, or a 'folder' column in groups.csv).",
    ),
    output: Path = typer.Option(
        Path("bias-audit"), "-o", "--output", help="Writes bias.html and bias.json here."
    ),
) -> None:
    """Per-group UF1/UAR, face-tracking success and AU signal-to-noise, with the worst/best ratio."""
    from microexpr.cli import _run, out

    def body() -> None:
        from rich.table import Table

        from microexpr.errors import OutputError
        from microexpr.ethics.bias import bias_audit, render_html
        from microexpr.outputs import atomic_write_text, write_json

        rep = bias_audit(results, groups, frames)
        try:
            output.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(f"cannot write to {output}: {e.strerror or e}") from None
        write_json(output / "bias.json", rep.to_json())
        atomic_write_text(output / "bias.html", render_html(rep))

        def f(v: float | None, pct: bool = False) -> str:
            if v is None or math.isnan(v):
                return "-"
            return f"{100 * v:.1f}%" if pct else f"{v:.3f}"

        for col, ratios in rep.ratios.items():
            t = Table(title=f"by {col}")
            for h in ("group", "samples", "UF1", "UAR", "videos", "tracking", "AU SNR dB"):
                t.add_column(h, justify="left" if h == "group" else "right")
            for r in (r for r in rep.rows if r.column == col):
                t.add_row(
                    r.group,
                    str(r.n_samples),
                    f(r.uf1),
                    f(r.uar),
                    str(r.n_videos),
                    f(r.tracking_rate, True),
                    f(r.au_snr_db),
                )
            t.add_row(
                "worst/best",
                "",
                f(ratios["uf1"]),
                f(ratios["uar"]),
                "",
                f(ratios["tracking_rate"]),
                f(ratios["au_snr_db"]),
                style="bold",
            )
            out.print(t)
        if rep.unmatched:
            out.print(f"[yellow]{rep.unmatched} prediction(s) not in {groups} were left out[/]")
        out.print(f"written: {output / 'bias.html'}, {output / 'bias.json'}", highlight=False, soft_wrap=True)

    _run(body)


@dataclass
class UseRun:
    """What analyze needs after the guard and consent checks: the adjusted options and where to store."""

    opts: object
    notes: list[str]
    store: object | None = None
    subject: str | None = None


def prepare_analysis(
    opts: object,
    *,
    subject: Optional[str],
    store: Optional[Path],
    key_file: Optional[Path],
    context: Optional[str],
    purpose: Optional[str],
) -> UseRun:
    """Before any analysis: apply the use guard, and with a subject check consent (capture+storage).

    Refusals raise before anything is analysed or written, so nothing about a subject without consent exists.
    """
    from microexpr.ethics.guard import apply, decide

    decision = decide(context, purpose)
    opts = apply(opts, decision)
    notes = [] if decision.emotions_allowed else [decision.reason]
    run = UseRun(opts, notes)
    if subject is None:
        if store is not None or key_file is not None:
            from microexpr.errors import OptionError

            raise OptionError(
                "--store and --key-file need --subject (analysis without a subject is a local job)"
            )
        return run
    from dataclasses import replace

    from microexpr.store.catalogue import open_store
    from microexpr.store.crypto import load_master_key

    s = open_store(store, key=load_master_key(key_file))
    try:
        s.require_consent(subject, ("capture", "storage"), use="capture and store this analysis")
        if getattr(run.opts, "emotions", False) and "emotion" not in s.active_scopes(subject):
            if getattr(run.opts, "recognizer", None) is not None:
                from microexpr.ethics.guard import UseRefused

                raise UseRefused(
                    f"refused: subject {s.pseudonym(subject)} has not consented to emotion inference (scope"
                    " 'emotion'); drop --recognizer or record that consent"
                )
            run.opts = replace(run.opts, emotions=False)  # type: ignore[type-var]
            notes.append("no emotion estimates: the subject's consent does not include the 'emotion' scope")
    except BaseException:
        s.close()
        raise
    run.store, run.subject = s, subject
    return run


def finish_analysis(run: UseRun, result: object, say: Callable[[str], None]) -> None:
    """After the normal output: store the results encrypted and log the analysis (with a subject)."""
    if run.store is None:
        return
    s = run.store
    try:
        aid = s.save_analysis(  # type: ignore[attr-defined]
            run.subject,
            result,
            context=getattr(run.opts, "context", None),
            purpose=getattr(run.opts, "purpose", None),
        )
        say(f"stored as analysis {aid} of subject {s.pseudonym(run.subject)} in {s.folder}")  # type: ignore[attr-defined]
    finally:
        s.close()  # type: ignore[attr-defined]


def authorize_stream(
    subject: str,
    *,
    store: Optional[Path] = None,
    key_file: Optional[Path] = None,
    purpose: Optional[str] = None,
    sink: str = "",
) -> str:
    """For streaming commands: check the subject's 'streaming' consent and log the stream start.

    Returns the subject's pseudonym (use it, not the id, in anything sent); raises ConsentError when refused.
    """
    from microexpr.store.catalogue import check_text, open_store
    from microexpr.store.crypto import load_master_key

    if purpose is not None:
        check_text(purpose, "--purpose")
    with open_store(store, key=load_master_key(key_file)) as s:
        pseud = s.require_consent(subject, ("capture", "streaming"), use="stream this subject's data")
        with s.transaction() as con:
            s._touch(con, pseud)
        s.log("stream.start", subject=pseud, purpose=purpose, sink=sink[:200])
    return pseud
