"""``microexpr datasets prepare``, ``microexpr train``, ``microexpr export`` (mounted in microexpr.cli).

Torch and onnxruntime are imported inside the command bodies only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

datasets_app = typer.Typer(
    help="Research datasets (licensed, never shipped) -> flow dataset files for training.",
    no_args_is_help=True,
)


def _cli():  # noqa: ANN202
    from microexpr import cli

    return cli


@datasets_app.command("prepare")
def prepare_cmd(
    name: str = typer.Argument(..., help="casme2, samm, smic, casme3 or megc2019."),
    path: Path = typer.Argument(..., help="The dataset's folder as delivered."),
    output: Path = typer.Option(..., "-o", "--output", help="The flow dataset file to write (.npz)."),
    size: int = typer.Option(28, "--size", help="Side of the flow maps in pixels (28, 112, ...)."),
    labels: str = typer.Option("megc3", "--labels", help="megc3 (negative/positive/surprise) or emotion."),
    no_align: bool = typer.Option(
        False, "--no-align", help="Faces are pre-cropped: skip the landmarker, use the whole image."
    ),
    gt: Optional[Path] = typer.Option(None, "--gt", help="megc2019: combined_3class_gt.csv if not in PATH."),
    sequence: int = typer.Option(
        0, "--sequence", help="T > 1: flow from the onset to T frames up to the apex, for --model cnn_gru."
    ),
) -> None:
    """Turn a micro-expression dataset into onset-apex flow maps (u, v, strain) with labels and subjects."""
    c = _cli()

    def body() -> None:
        import numpy as np

        from microexpr.datasets.prepare import prepare
        from microexpr.errors import OptionError
        from microexpr.recognize.flowdata import load_flow_dataset

        if not 8 <= size <= 512:
            raise OptionError(f"--size must be in [8, 512], but got {size}")
        written, warnings = prepare(
            name, path, output, size=size, labels=labels, align=not no_align, gt=gt, sequence=sequence
        )
        for w in warnings:
            c.err.print(f"[yellow]warning:[/] {w}", highlight=False, soft_wrap=True)
        d = load_flow_dataset(written)
        counts = ", ".join(f"{k} {n}" for k, n in zip(d.classes, np.bincount(d.y, minlength=len(d.classes))))
        c.out.print(
            f"[green]done:[/] {written}  ({len(d.y)} samples, {len(set(d.groups))} subjects; {counts})",
            highlight=False,
        )

    c._run(body)


@datasets_app.command("synth")
def synth_cmd(
    output: Path = typer.Option(..., "-o", "--output", help="The flow dataset file to write (.npz)."),
    negative: int = typer.Option(0, "--negative", help="Samples of class negative per face."),
    positive: int = typer.Option(10, "--positive", help="Samples of class positive per face."),
    surprise: int = typer.Option(10, "--surprise", help="Samples of class surprise per face."),
    size: int = typer.Option(28, "--size", help="Side of the flow maps in pixels."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Render synthetic micro-expression flow samples (astronaut, Hopper and their mirror images) for
    `microexpr train --synth`."""
    c = _cli()

    def body() -> None:
        from microexpr.errors import OptionError
        from microexpr.recognize.flowdata import save_flow_dataset
        from microexpr.recognize.synthetic import render_flow_dataset

        counts = {"negative": negative, "positive": positive, "surprise": surprise}
        if min(counts.values()) < 0 or max(counts.values()) > 1000 or sum(counts.values()) == 0:
            raise OptionError("samples per class must be in [0, 1000], at least one above 0")
        if not 8 <= size <= 512:
            raise OptionError(f"--size must be in [8, 512], but got {size}")
        d = render_flow_dataset(counts, size=size, seed=seed)
        written = save_flow_dataset(output, d)
        c.out.print(
            f"[green]done:[/] {written}  ({len(d.y)} samples, {len(set(d.groups))} faces)", highlight=False
        )

    c._run(body)


def train_cmd(
    data: Path = typer.Option(..., "--data", help="Flow dataset file (.npz) from `datasets prepare`."),
    out_dir: Path = typer.Option(..., "--out", help="Folder for results.json and model.pt."),
    protocol: str = typer.Option("loso", "--protocol", help="loso (leave one subject out) or kfold."),
    k: int = typer.Option(5, "--k", help="Folds for kfold (whole subjects per fold)."),
    model: str = typer.Option("cnn", "--model", help="cnn (flow maps) or cnn_gru (flow sequences)."),
    epochs: int = typer.Option(40, "--epochs", help="Fixed epochs, or the most tried with --select val."),
    batch_size: int = typer.Option(32, "--batch-size"),
    lr: float = typer.Option(2e-3, "--lr", help="AdamW learning rate."),
    loss: str = typer.Option("ce", "--loss", help="ce, weighted (class-weighted) or focal."),
    sampler: str = typer.Option("shuffle", "--sampler", help="shuffle or balanced."),
    flip: bool = typer.Option(False, "--flip", help="Horizontal flip augmentation (u changes sign)."),
    synth: Optional[Path] = typer.Option(
        None, "--synth", help="Rendered flow samples (.npz) added to minority classes of training folds."
    ),
    select: str = typer.Option(
        "fixed", "--select", help="fixed epochs, or val: epoch chosen on held-out training subjects."
    ),
    seed: int = typer.Option(0, "--seed"),
    threads: int = typer.Option(0, "--threads", help="Torch CPU threads (0: default)."),
    no_final: bool = typer.Option(False, "--no-final", help="Skip training the deployable model.pt."),
) -> None:
    """Train and evaluate a recogniser: per-fold progress, then UF1 / UAR pooled over all folds."""
    c = _cli()

    def body() -> None:
        from microexpr.errors import InputError, OptionError, OutputError
        from microexpr.outputs import write_json
        from microexpr.recognize.flowdata import load_flow_dataset
        from microexpr.recognize.train import TrainOptions, run_protocol, save_checkpoint, train_final

        try:
            import torch  # noqa: F401
        except ImportError:
            raise InputError("training needs PyTorch: pip install 'microexpr[train]'") from None
        opts = TrainOptions(
            protocol=protocol,  # type: ignore[arg-type]
            k=k,
            model=model,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            loss=loss,
            sampler=sampler,
            flip=flip,
            synth_minority=synth is not None,
            selection=select,  # type: ignore[arg-type]
            seed=seed,
            threads=threads,
        )
        d = load_flow_dataset(data)
        s = load_flow_dataset(synth) if synth is not None else None
        if s is not None and not set(s.classes) & set(d.classes):
            raise OptionError(f"{synth}: its classes {s.classes} share none with the data's {d.classes}")
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(f"{out_dir}: cannot create the folder ({e.strerror})") from None

        def show(f: dict) -> None:
            c.out.print(
                f"fold {f['fold'] + 1}/{f['n_folds']}  test {','.join(f['test_groups'])}  n={f['n_test']}  "
                f"acc {f['accuracy']:.3f}  epochs {f['epochs']}  {f['train_s']:.1f} s",
                highlight=False,
            )

        res = run_protocol(d, opts, synth=s, progress=show)
        res["data"] = str(data)
        if not no_final:
            save_checkpoint(out_dir / "model.pt", train_final(d, opts, synth=s), d, opts)
        write_json(out_dir / "results.json", res)
        f1 = "  ".join(f"{n} {v:.3f}" for n, v in zip(res["classes"], res["per_class_f1"]))
        c.out.print(
            f"[green]done:[/] UF1 {res['uf1']:.4f}  UAR {res['uar']:.4f}  accuracy {res['accuracy']:.4f}  "
            f"(F1: {f1})  -> {out_dir / 'results.json'}",
            highlight=False,
        )

    c._run(body)


def export_cmd(
    checkpoint: Path = typer.Argument(..., help="model.pt written by `microexpr train`."),
    output: Path = typer.Option(..., "-o", "--output", help="The .onnx file to write."),
    int8: bool = typer.Option(False, "--int8", help="Dynamic int8 quantisation (onnxruntime)."),
) -> None:
    """Export a trained recogniser to ONNX (for `microexpr analyze --recognizer`)."""
    c = _cli()

    def body() -> None:
        from microexpr.recognize.export import export_onnx
        from microexpr.recognize.onnx_infer import OnnxRecognizer

        written = export_onnx(checkpoint, output, int8=int8)
        rec = OnnxRecognizer(written)
        c.out.print(
            f"[green]done:[/] {written}  ({'int8' if int8 else 'fp32'}, input {list(rec.input_shape)}, "
            f"classes {json.dumps(list(rec.classes))})",
            highlight=False,
        )

    c._run(body)
