"""LOSO / subject-wise k-fold training and evaluation with honest model selection (torch inside functions).

No choice looks at the test subjects: :func:`run_protocol` hands each fold's trainer the training subjects
only; with ``selection="val"`` the epoch is chosen on a validation split of those training subjects, with
``selection="fixed"`` the epoch count is fixed in advance.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from microexpr import __version__
from microexpr.errors import OptionError
from microexpr.recognize.flowdata import FlowDataset
from microexpr.recognize.metrics import scores

LOSSES = ("ce", "weighted", "focal")
SAMPLERS = ("shuffle", "balanced")


@dataclass(frozen=True)
class TrainOptions:
    """How to train and evaluate."""

    protocol: Literal["loso", "kfold"] = "loso"  # leave one subject out, or k folds of whole subjects
    k: int = 5  # folds for kfold
    model: str = "cnn"  # cnn (N, 3, H, W) or cnn_gru (N, T, 3, H, W)
    epochs: int = 40  # fixed epoch count, or the most epochs tried with selection="val"
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    loss: str = "ce"  # ce, weighted (class-weighted cross-entropy) or focal (gamma 2, class-weighted)
    sampler: str = "shuffle"  # shuffle or balanced (each class drawn equally often)
    flip: bool = False  # horizontal flip augmentation (left/right swap: u changes sign)
    synth_minority: bool = False  # add the synthetic samples (training folds only) to the minority classes
    selection: Literal["fixed", "val"] = "fixed"  # epochs fixed, or chosen on training subjects held out
    val_fraction: float = 0.2  # share of the training subjects held out for selection="val"
    seed: int = 0
    threads: int = 0  # torch CPU threads (0: torch's default)

    def __post_init__(self) -> None:
        checks = [
            (self.protocol in ("loso", "kfold"), f"protocol must be loso or kfold, not {self.protocol!r}"),
            (self.loss in LOSSES, f"loss must be one of {', '.join(LOSSES)}, not {self.loss!r}"),
            (self.sampler in SAMPLERS, f"sampler must be one of {', '.join(SAMPLERS)}, not {self.sampler!r}"),
            (self.selection in ("fixed", "val"), f"selection must be fixed or val, not {self.selection!r}"),
            (1 <= self.epochs <= 10_000, f"epochs must be in [1, 10000], not {self.epochs}"),
            (1 <= self.batch_size <= 65_536, f"batch size must be in [1, 65536], not {self.batch_size}"),
            (2 <= self.k <= 1000, f"k must be in [2, 1000], not {self.k}"),
            (0.0 < self.lr < 10.0, f"lr must be in (0, 10), not {self.lr}"),
            (0.0 < self.val_fraction < 1.0, f"val fraction must be in (0, 1), not {self.val_fraction}"),
            (0 <= self.threads <= 1024, f"threads must be in [0, 1024], not {self.threads}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise OptionError(msg)


FitFn = Callable[[FlowDataset, TrainOptions, int], tuple[Any, dict]]


def folds(groups: np.ndarray, opts: TrainOptions) -> list[np.ndarray]:
    """Test subjects of each fold: one subject per fold (loso, sorted) or k seeded sets of subjects."""
    subjects = np.array(sorted(set(groups.tolist())))
    if len(subjects) < 2:
        raise OptionError(f"need at least 2 subjects for {opts.protocol}, but the data has {len(subjects)}")
    if opts.protocol == "loso":
        return [subjects[i : i + 1] for i in range(len(subjects))]
    if opts.k > len(subjects):
        raise OptionError(
            f"kfold with k={opts.k} needs at least {opts.k} subjects, but the data has {len(subjects)}"
        )
    perm = np.random.default_rng(opts.seed).permutation(subjects)
    return [np.sort(s) for s in np.array_split(perm, opts.k)]


def _torch_setup(opts: TrainOptions, seed: int) -> Any:
    import torch

    if opts.threads:
        torch.set_num_threads(opts.threads)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    return torch


def _class_weights(y: np.ndarray, k: int) -> np.ndarray:
    counts = np.bincount(y, minlength=k).astype(np.float64)
    w = np.where(counts > 0, counts.sum() / (k * np.maximum(counts, 1)), 0.0)
    return w.astype(np.float32)


def _loss_fn(opts: TrainOptions, y: np.ndarray, k: int) -> Callable:
    import torch
    import torch.nn.functional as F

    w = torch.from_numpy(_class_weights(y, k)) if opts.loss in ("weighted", "focal") else None
    if opts.loss == "focal":

        def focal(logits: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            logp = F.log_softmax(logits, 1).gather(1, t[:, None])[:, 0]
            loss = -((1 - logp.exp()) ** 2) * logp
            return (loss * w[t]).sum() / w[t].sum()

        return focal
    return lambda logits, t: F.cross_entropy(logits, t, weight=w)


def _flip_t(x: Any) -> Any:
    x = x.flip(-1)
    sign = x.new_ones(x.shape[-3])
    sign[0] = -1.0
    return x * sign.view(-1, 1, 1)


def _epoch_order(y: np.ndarray, opts: TrainOptions, rng: np.random.Generator, k: int) -> np.ndarray:
    if opts.sampler == "balanced":
        counts = np.bincount(y, minlength=k).astype(np.float64)
        p = 1.0 / counts[y]
        return rng.choice(len(y), size=len(y), replace=True, p=p / p.sum())
    return rng.permutation(len(y))


def predict_torch(model: Any, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class indices predicted by a torch model in eval mode."""
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            out.append(model(torch.from_numpy(x[i : i + batch_size])).argmax(1).numpy())
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def _train_epochs(
    train: FlowDataset, opts: TrainOptions, seed: int, epochs: int, val: FlowDataset | None = None
) -> tuple[Any, list[float], int]:
    """Train for ``epochs``; with ``val``, keep the weights of the epoch with the best validation UF1."""
    import copy

    from microexpr.recognize.models import build_model

    torch = _torch_setup(opts, seed)
    k = len(train.classes)
    model = build_model(opts.model, k, sequence=train.sequence)
    optim = torch.optim.AdamW(model.parameters(), lr=opts.lr, weight_decay=opts.weight_decay)
    loss_fn = _loss_fn(opts, train.y, k)
    rng = np.random.default_rng(seed)
    x_all, y_all = torch.from_numpy(train.x), torch.from_numpy(train.y)
    curve: list[float] = []
    best = (-1.0, 0, None)
    for ep in range(epochs):
        model.train()
        order = _epoch_order(train.y, opts, rng, k)
        for i in range(0, len(order), opts.batch_size):
            b = order[i : i + opts.batch_size]
            if len(b) < 2:  # batch norm needs two samples
                continue
            xb, yb = x_all[b], y_all[b]
            if opts.flip:
                m = torch.from_numpy(rng.random(len(b)) < 0.5)
                xb = torch.where(m.view(-1, *([1] * (xb.ndim - 1))), _flip_t(xb), xb)
            optim.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optim.step()
        if val is not None:
            s = float(scores(val.y, predict_torch(model, val.x), k)["uf1"])
            curve.append(s)
            if s > best[0]:
                best = (s, ep + 1, copy.deepcopy(model.state_dict()))
    if val is not None and best[2] is not None:
        model.load_state_dict(best[2])
        return model, curve, best[1]
    return model, curve, epochs


def fit_model(train: FlowDataset, opts: TrainOptions, seed: int) -> tuple[Any, dict]:
    """Train one fold's model from its training subjects only.

    Returns:
        The model and a record of the choice made (epochs, and for selection="val" the validation
        subjects and curve).
    """
    if opts.selection == "fixed":
        model, _, ep = _train_epochs(train, opts, seed, opts.epochs)
        return model, {"epochs": ep}
    subjects = np.array(sorted(set(train.groups.tolist())))
    n_val = max(1, round(opts.val_fraction * len(subjects)))
    if n_val >= len(subjects):
        raise OptionError("selection=val needs at least 2 training subjects per fold")
    val_subjects = np.random.default_rng(seed).choice(subjects, n_val, replace=False)
    is_val = np.isin(train.groups, val_subjects)
    model, curve, ep = _train_epochs(
        train.subset(np.flatnonzero(~is_val)),
        opts,
        seed,
        opts.epochs,
        val=train.subset(np.flatnonzero(is_val)),
    )
    return model, {"epochs": ep, "val_subjects": sorted(val_subjects.tolist()), "val_uf1": curve}


def _with_synth(
    train: FlowDataset, synth: FlowDataset | None, exclude: np.ndarray | None = None
) -> FlowDataset:
    """Training samples plus synthetic ones for classes below the largest class, up to its count.

    Synthetic samples rendered from a face whose name is a test subject (``exclude``) are left out.
    """
    if synth is None:
        return train
    if exclude is not None and len(exclude):
        synth = synth.subset(np.flatnonzero(~np.isin(synth.groups, exclude)))
    counts = np.bincount(train.y, minlength=len(train.classes))
    pick = []
    for c, name in enumerate(train.classes):
        if name not in synth.classes:
            continue
        have = np.flatnonzero(synth.y == synth.classes.index(name))
        pick += have[: max(0, int(counts.max() - counts[c]))].tolist()
    if not pick:
        return train
    sel = np.array(pick)
    y = np.array([train.classes.index(synth.classes[i]) for i in synth.y[sel]], np.int64)
    return FlowDataset(
        np.concatenate([train.x, synth.x[sel]]),
        np.concatenate([train.y, y]),
        np.concatenate([train.groups, np.char.add("synth:", synth.groups[sel].astype(str))]),
        train.classes,
        np.concatenate([train.ids, np.char.add("synth:", synth.ids[sel].astype(str))]),
    )


def versions() -> dict[str, str]:
    """Versions of what shaped the numbers."""
    import torch

    return {
        "microexpr": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def run_protocol(
    data: FlowDataset,
    opts: TrainOptions,
    *,
    synth: FlowDataset | None = None,
    progress: Callable[[dict], None] | None = None,
    fit: FitFn = fit_model,
) -> dict:
    """Evaluate ``opts.model`` with LOSO or subject-wise k-fold; returns the results.json content.

    Args:
        data: the flow dataset.
        opts: training options.
        synth: synthetic samples (renderer) added to each fold's training set when ``opts.synth_minority``.
        progress: called after each fold with {"fold", "n_folds", "test_groups", "accuracy", "train_s"}.
        fit: the trainer (receives only the fold's training subjects).
    """
    if opts.synth_minority and synth is None:
        raise OptionError("synth_minority needs synthetic samples (--synth FILE.npz)")
    if synth is not None and synth.x.shape[1:] != data.x.shape[1:]:
        raise OptionError(f"synthetic samples have shape {synth.x.shape[1:]}, the data {data.x.shape[1:]}")
    present = np.unique(data.y)
    if len(present) < 2:
        raise OptionError(f"need at least 2 classes with samples, but got {len(present)}")
    t0 = time.perf_counter()
    k = len(data.classes)
    y_pred = np.full(len(data.y), -1, np.int64)
    fold_of = np.full(len(data.y), -1, np.int64)
    fold_info = []
    test_sets = folds(data.groups, opts)
    for fi, test_groups in enumerate(test_sets):
        is_test = np.isin(data.groups, test_groups)
        train = data.subset(np.flatnonzero(~is_test))
        if opts.synth_minority:
            train = _with_synth(train, synth, exclude=test_groups)
        t = time.perf_counter()
        model, choice = fit(train, opts, opts.seed * 1000 + fi)
        train_s = time.perf_counter() - t
        test_idx = np.flatnonzero(is_test)
        y_pred[test_idx] = predict_torch(model, data.x[test_idx])
        fold_of[test_idx] = fi
        acc = float((y_pred[test_idx] == data.y[test_idx]).mean())
        info = {
            "fold": fi,
            "test_groups": test_groups.tolist(),
            "n_test": int(len(test_idx)),
            "accuracy": acc,
            "train_s": round(train_s, 3),
            **choice,
        }
        fold_info.append(info)
        if progress is not None:
            progress({"n_folds": len(test_sets), **info})
    s = scores(data.y, y_pred, k)
    total_s = time.perf_counter() - t0
    selection = (
        {
            "mode": "fixed",
            "epochs": opts.epochs,
            "note": "epoch count fixed before training; no test data used",
        }
        if opts.selection == "fixed"
        else {
            "mode": "val",
            "max_epochs": opts.epochs,
            "val_fraction": opts.val_fraction,
            "note": "per fold, the epoch with the best UF1 on held-out training subjects; test subjects unseen",
        }
    )
    return {
        **s,
        "classes": list(data.classes),
        "class_counts": np.bincount(data.y, minlength=k).tolist(),
        "protocol": {
            "name": opts.protocol,
            "n_folds": len(test_sets),
            **({"k": opts.k} if opts.protocol == "kfold" else {}),
        },
        "selection": selection,
        "options": asdict(opts),
        "model": opts.model,
        "seed": opts.seed,
        "versions": versions(),
        "timing": {
            "total_s": round(total_s, 3),
            "train_s_per_fold": [f["train_s"] for f in fold_info],
            "mean_train_s_per_fold": round(float(np.mean([f["train_s"] for f in fold_info])), 3),
        },
        "folds": fold_info,
        "predictions": [
            {
                "id": str(data.ids[i]),
                "group": str(data.groups[i]),
                "fold": int(fold_of[i]),
                "y_true": data.classes[int(data.y[i])],
                "y_pred": data.classes[int(y_pred[i])],
            }
            for i in range(len(data.y))
        ],
        "n_samples": int(len(data.y)),
        "input_shape": list(data.x.shape[1:]),
    }


def train_final(data: FlowDataset, opts: TrainOptions, *, synth: FlowDataset | None = None) -> Any:
    """The deployable model: trained on every subject with the fixed epoch count (or, for selection="val",
    with the epoch choice made on a validation split of the subjects)."""
    train = _with_synth(data, synth) if opts.synth_minority else data
    model, _ = fit_model(train, opts, opts.seed * 1000 + 999)
    return model


def save_checkpoint(path: Path, model: Any, data: FlowDataset, opts: TrainOptions) -> Path:
    """``model.pt``: weights, model name, classes and input shape (read back with weights_only=True)."""
    import io

    import torch

    from microexpr.outputs import atomic_write_bytes

    buf = io.BytesIO()
    torch.save(
        {
            "model": opts.model,
            "classes": list(data.classes),
            "input_shape": list(data.x.shape[1:]),
            "state_dict": model.state_dict(),
        },
        buf,
    )
    return atomic_write_bytes(Path(path), buf.getvalue())


def options_with(opts: TrainOptions, **changes: object) -> TrainOptions:
    """A copy of ``opts`` with ``changes`` (validated)."""
    return replace(opts, **changes)
