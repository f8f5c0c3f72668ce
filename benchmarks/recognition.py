"""Recognition on a seeded synthetic flow dataset: LOSO UF1 / UAR with and without each imbalance method,
train time per fold, and fp32 versus int8 ONNX latency and agreement.

Rendered micro-expressions (28x28 onset-apex flow) of four faces (astronaut, Hopper and their mirror
images; one subject each) in three MEGC classes with a negative-heavy imbalance like MEGC2019's. Every
configuration trains the same CNN with the same seed and fixed epochs, side by side in one run. The
synthetic-minority configuration adds samples rendered with another seed, never from the test subject's
face. A class-balanced logistic regression on the raw flow pixels is the linear baseline.

    python benchmarks/recognition.py [--epochs 30] [--seed 0] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None, help="Also write the figures here.")
    a = ap.parse_args()

    import numpy as np

    from microexpr.recognize.export import export_onnx
    from microexpr.recognize.onnx_infer import OnnxRecognizer
    from microexpr.recognize.synthetic import render_flow_dataset
    from microexpr.recognize.train import TrainOptions, run_protocol, save_checkpoint, train_final

    t0 = time.perf_counter()
    data = render_flow_dataset({"negative": 14, "positive": 5, "surprise": 4}, seed=a.seed)
    synth = render_flow_dataset({"positive": 9, "surprise": 10}, seed=a.seed + 100)
    t_render = time.perf_counter() - t0
    counts = np.bincount(data.y, minlength=len(data.classes)).tolist()
    print(
        f"data: {len(data.y)} samples, {len(set(data.groups))} subjects, classes {dict(zip(data.classes, counts))}"
        f"; synthetic extra {len(synth.y)}; rendered in {t_render:.1f} s"
    )

    base = TrainOptions(epochs=a.epochs, batch_size=16, seed=a.seed, threads=a.threads)
    configs = {
        "none (cross-entropy)": {},
        "class-weighted loss": {"loss": "weighted"},
        "focal loss": {"loss": "focal"},
        "balanced sampler": {"sampler": "balanced"},
        "flip augmentation": {"flip": True},
        "synthetic minority": {"synth_minority": True},
        "weighted + flip + synthetic": {"loss": "weighted", "flip": True, "synth_minority": True},
    }
    rows = []
    for name, change in configs.items():
        opts = TrainOptions(**{**base.__dict__, **change})
        res = run_protocol(data, opts, synth=synth)
        rows.append(
            {
                "config": name,
                "uf1": res["uf1"],
                "uar": res["uar"],
                "accuracy": res["accuracy"],
                "train_s_per_fold": res["timing"]["mean_train_s_per_fold"],
            }
        )
        print(
            f"{name:30s} UF1 {res['uf1']:.3f}  UAR {res['uar']:.3f}  acc {res['accuracy']:.3f}  "
            f"train {res['timing']['mean_train_s_per_fold']:.2f} s/fold",
            flush=True,
        )

    from microexpr.recognize.metrics import scores

    pred = np.zeros_like(data.y)
    for g in sorted(set(data.groups)):
        te = data.groups == g
        pred[te] = _logistic_predict(data.x[~te], data.y[~te], data.x[te], len(data.classes), a.seed)
    s = scores(data.y, pred, len(data.classes))
    rows.append(
        {
            "config": "logistic regression (balanced, linear baseline)",
            "uf1": s["uf1"],
            "uar": s["uar"],
            "accuracy": s["accuracy"],
            "train_s_per_fold": None,
        }
    )
    print(
        f"{'logistic regression baseline':30s} UF1 {s['uf1']:.3f}  UAR {s['uar']:.3f}  acc {s['accuracy']:.3f}"
    )

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = train_final(data, base)
        save_checkpoint(tmp / "model.pt", model, data, base)
        export_onnx(tmp / "model.pt", tmp / "fp32.onnx")
        export_onnx(tmp / "model.pt", tmp / "int8.onnx", int8=True)
        lat = {}
        preds = {}
        for kind in ("fp32", "int8"):
            rec = OnnxRecognizer(tmp / f"{kind}.onnx")
            preds[kind] = rec.predict(data.x)
            one = data.x[:1]
            for _ in range(20):
                rec.logits(one)
            ts = []
            for i in range(300):
                t = time.perf_counter()
                rec.logits(data.x[i % len(data.x)][None])
                ts.append(time.perf_counter() - t)
            lat[kind] = {
                "median_ms": 1e3 * float(np.median(ts)),
                "p95_ms": 1e3 * float(np.percentile(ts, 95)),
                "size_kb": (tmp / f"{kind}.onnx").stat().st_size / 1024,
            }
        agree = float(np.mean(np.array(preds["fp32"]) == np.array(preds["int8"])))
    for kind, v in lat.items():
        print(
            f"ONNX {kind}: median {v['median_ms']:.3f} ms, p95 {v['p95_ms']:.3f} ms per sample, {v['size_kb']:.0f} KiB"
        )
    print(
        f"int8 / fp32 median latency ratio {lat['int8']['median_ms'] / lat['fp32']['median_ms']:.2f}; "
        f"agreement {agree:.3f} over {len(data.y)} samples; total {time.perf_counter() - t0:.0f} s"
    )
    if a.json:
        a.json.write_text(json.dumps({"rows": rows, "onnx": lat, "agreement": agree}, indent=2))


def _logistic_predict(x_train, y_train, x_test, k: int, seed: int):  # noqa: ANN001, ANN202
    """Class-balanced multinomial logistic regression on per-sample min-max scaled flow pixels (L2, LBFGS)."""
    import numpy as np
    import torch

    def prep(x):  # noqa: ANN001, ANN202
        f = x.reshape(len(x), -1)
        lo, hi = f.min(1, keepdims=True), f.max(1, keepdims=True)
        return torch.from_numpy((f - lo) / (hi - lo + 1e-6))

    torch.manual_seed(seed)
    xt, yt = prep(x_train), torch.from_numpy(y_train)
    counts = np.bincount(y_train, minlength=k).astype(np.float32)
    w = torch.from_numpy(
        np.where(counts > 0, counts.sum() / (k * np.maximum(counts, 1)), 0).astype(np.float32)
    )
    lin = torch.nn.Linear(xt.shape[1], k)
    opt = torch.optim.LBFGS(lin.parameters(), max_iter=200)

    def closure():  # noqa: ANN202
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(lin(xt), yt, weight=w) + 1e-3 * lin.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return lin(prep(x_test)).argmax(1).numpy()


if __name__ == "__main__":
    main()
