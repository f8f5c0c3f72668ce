"""The bias audit: recognition UF1/UAR, face-tracking success and AU signal-to-noise per demographic group.

Inputs: the trainer's ``results.json`` (``classes`` and ``predictions`` with ``id``, ``group`` = subject,
``y_true``, ``y_pred``), a ``groups.csv`` mapping ``subject`` (or ``id``) to one or more group columns, and
optionally analysis output folders (frames.parquet) named by subject or listed in a ``folder`` column.
Every figure is "higher is better"; for each group column the worst/best ratio shows the gap.
"""

from __future__ import annotations

import csv
import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from microexpr.errors import InputError

MAX_GROUPS_BYTES = 20 * 1024 * 1024
KEY_COLUMNS = ("subject", "id", "folder", "video")


def uf1_uar(y_true: list[str], y_pred: list[str], classes: list[str]) -> tuple[float, float]:
    """MEGC unweighted F1 and unweighted average recall: per-class figures pooled, then an unweighted mean
    over the classes that occur in ``y_true`` (a group without a class cannot be scored on it)."""
    t, p = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
    f1s, recalls = [], []
    for c in classes:
        n = int((t == c).sum())
        if n == 0:
            continue
        tp = int(((t == c) & (p == c)).sum())
        fp = int(((t != c) & (p == c)).sum())
        fn = n - tp
        f1s.append(2 * tp / (2 * tp + fp + fn))
        recalls.append(tp / n)
    if not f1s:
        return math.nan, math.nan
    return float(np.mean(f1s)), float(np.mean(recalls))


def read_results(path: Path) -> tuple[list[str], list[dict]]:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"results file {p} not found")
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
        classes = [str(c) for c in d["classes"]]
        preds = d["predictions"]
        if not isinstance(preds, list):
            raise TypeError
        rows = [
            {
                "id": str(r["id"]),
                "group": str(r["group"]),
                "y_true": str(r["y_true"]),
                "y_pred": str(r["y_pred"]),
            }
            for r in preds
        ]
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(f"{p} is not a JSON file (expected the trainer's results.json)") from None
    except (KeyError, TypeError, AttributeError):
        raise InputError(
            f"{p} is not a results file: expected {{'classes': [...], 'predictions': [{{'id', 'group', 'y_true',"
            " 'y_pred'}}, ...]}}"
        ) from None
    return classes, rows


def read_groups(path: Path) -> tuple[str, list[str], dict[str, dict[str, str]]]:
    """(key column, group columns, {key: {column: group}}) from groups.csv."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"groups file {p} not found")
    if p.stat().st_size > MAX_GROUPS_BYTES:
        raise InputError(f"groups file {p} is larger than {MAX_GROUPS_BYTES // 2**20} MiB")
    try:
        with open(p, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except (UnicodeDecodeError, csv.Error) as e:
        raise InputError(f"groups file {p} is not a readable CSV: {e}") from None
    if not rows:
        raise InputError(f"groups file {p} has no rows (expected a header like subject,sex,age_band)")
    cols = list(rows[0].keys())
    key = next((k for k in ("subject", "id") if k in cols), None)
    if key is None:
        raise InputError(f"groups file {p} needs a 'subject' or 'id' column; it has {', '.join(cols)[:200]}")
    group_cols = [c for c in cols if c not in KEY_COLUMNS and c is not None]
    if not group_cols:
        raise InputError(f"groups file {p} has no group column besides {key} (e.g. sex, age_band)")
    table = {}
    for r in rows:
        k = (r.get(key) or "").strip()
        if k:
            table[k] = {
                c: (r.get(c) or "").strip() or "(blank)" for c in group_cols + ["folder", "video"] if c in r
            }
    return key, group_cols, table


def au_snr_db(au: np.ndarray) -> float:
    """Median over AUs of 20*log10(signal / noise): signal = 95th percentile minus median of the intensity,
    noise = frame-to-frame jitter (1.4826 * MAD of first differences / sqrt 2). ``au``: (T, n_au)."""
    if au.shape[0] < 5:
        return math.nan
    d = np.diff(au, axis=0)
    noise = 1.4826 * np.median(np.abs(d - np.median(d, axis=0)), axis=0) / math.sqrt(2)
    signal = np.percentile(au, 95, axis=0) - np.median(au, axis=0)
    noise = np.maximum(noise, 1e-3)  # the 0-5 scale is printed to 3 decimals: jitter below that is no jitter
    ok = signal > 0
    if not ok.any():
        return math.nan
    return float(np.median(20 * np.log10(signal[ok] / noise[ok])))


def tracking_figures(folder: Path) -> tuple[float, float]:
    """(face-tracking success rate over frames, AU SNR in dB) of one analysis output folder."""
    import pyarrow.parquet as pq

    pqf = folder / "frames.parquet"
    if not pqf.is_file():
        raise InputError(f"{folder} has no frames.parquet (expected an analyze output folder)")
    try:
        schema = pq.read_schema(pqf)
        au_cols = [c for c in schema.names if c.startswith("AU") and c.endswith("_r")]
        t = pq.read_table(pqf, columns=["frame", "face_id", "success", *au_cols]).to_pandas()
    except Exception as e:  # noqa: BLE001 - any damage in a user's file is an input error
        raise InputError(f"cannot read {pqf}: {e}") from None
    if t.empty:
        return math.nan, math.nan
    per_frame = t.groupby("frame")["success"].max()
    rate = float((per_frame > 0).mean())
    ok = t[t["success"] > 0]
    snrs = [au_snr_db(g[au_cols].to_numpy(np.float64)) for _, g in ok.groupby("face_id")]
    snrs = [s for s in snrs if not math.isnan(s)]
    return rate, float(np.mean(snrs)) if snrs else math.nan


@dataclass
class GroupRow:
    """Figures of one group (value ``group`` of column ``column``)."""

    column: str
    group: str
    n_samples: int = 0
    uf1: float = math.nan
    uar: float = math.nan
    n_videos: int = 0
    tracking_rate: float = math.nan
    au_snr_db: float = math.nan


@dataclass
class BiasReport:
    """Per-group rows and, per group column and figure, the worst/best ratio."""

    classes: list[str]
    rows: list[GroupRow] = field(default_factory=list)
    ratios: dict[str, dict[str, float | None]] = field(default_factory=dict)
    unmatched: int = 0

    def to_json(self) -> dict:
        def clean(v: object) -> object:
            return None if isinstance(v, float) and math.isnan(v) else v

        return {
            "classes": self.classes,
            "groups": [{k: clean(v) for k, v in r.__dict__.items()} for r in self.rows],
            "worst_best_ratio": self.ratios,
            "unmatched_predictions": self.unmatched,
        }


FIGURES = ("uf1", "uar", "tracking_rate", "au_snr_db")


def _ratio(values: list[float]) -> float | None:
    v = [x for x in values if not math.isnan(x)]
    if len(v) < 2 or max(v) <= 0 or min(v) < 0:
        return None
    return min(v) / max(v)


def bias_audit(results: Path | None, groups: Path, frames: Path | None = None) -> BiasReport:
    """Compute the per-group figures (see module docstring)."""
    if results is None and frames is None:
        raise InputError("give --results and/or --frames: there is nothing to audit")
    key, group_cols, table = read_groups(groups)
    classes, preds = read_results(results) if results is not None else ([], [])
    rep = BiasReport(classes)
    folders: dict[str, tuple[float, float]] = {}
    if frames is not None:
        root = Path(frames)
        if not root.is_dir():
            raise InputError(f"--frames {root} is not a folder of analyze outputs")
        by_name = {v.get("folder") or v.get("video") or k: k for k, v in table.items()}
        for d in sorted(p for p in root.iterdir() if (p / "frames.parquet").is_file()):
            if d.name in by_name:
                folders[by_name[d.name]] = tracking_figures(d)
    for col in group_cols:
        values = sorted({v[col] for v in table.values()})
        for g in values:
            members = {k for k, v in table.items() if v[col] == g}
            row = GroupRow(col, g)
            sel = [p for p in preds if (p["group"] if key == "subject" else p["id"]) in members]
            row.n_samples = len(sel)
            if sel:
                row.uf1, row.uar = uf1_uar([p["y_true"] for p in sel], [p["y_pred"] for p in sel], classes)
            vids = [folders[m] for m in members if m in folders]
            row.n_videos = len(vids)
            if vids:
                row.tracking_rate = float(np.nanmean([v[0] for v in vids]))
                snr = [v[1] for v in vids if not math.isnan(v[1])]
                row.au_snr_db = float(np.mean(snr)) if snr else math.nan
            rep.rows.append(row)
        rep.ratios[col] = {f: _ratio([getattr(r, f) for r in rep.rows if r.column == col]) for f in FIGURES}
    known = set(table)
    rep.unmatched = sum(1 for p in preds if (p["group"] if key == "subject" else p["id"]) not in known)
    return rep


def _fmt(v: float | None, pct: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{100 * v:.1f}%" if pct else f"{v:.3f}"


_LABELS = {"uf1": "UF1", "uar": "UAR", "tracking_rate": "tracking success", "au_snr_db": "AU SNR (dB)"}


def render_html(rep: BiasReport) -> str:
    """A self-contained page (no scripts, no external resources): tables and SVG bars per group column."""
    e = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>microexpr bias audit</title>",
        "<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;"
        "margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f3f3f3}"
        "td.g{text-align:left}.ratio td{font-weight:bold}.low{color:#b00}</style></head><body>",
        "<h1>Bias audit</h1>",
        f"<p>Classes: {e(', '.join(rep.classes)) or '-'}. Every figure is higher-is-better; the worst/best ratio"
        " is the lowest group's figure divided by the highest (1.0 = equal; below 0.8 is marked).</p>",
    ]
    if rep.unmatched:
        parts.append(
            f"<p class='low'>{rep.unmatched} prediction(s) had no entry in groups.csv and were left out.</p>"
        )
    for col, ratios in rep.ratios.items():
        rows = [r for r in rep.rows if r.column == col]
        parts.append(
            f"<h2>{e(col)}</h2><table class='bias' data-column='{e(col)}'><thead><tr><th>group</th>"
            "<th>samples</th><th>UF1</th><th>UAR</th><th>videos</th><th>tracking success</th>"
            "<th>AU SNR (dB)</th></tr></thead><tbody>"
        )
        for r in rows:
            parts.append(
                f"<tr class='group'><td class='g'>{e(r.group)}</td><td>{r.n_samples}</td><td>{_fmt(r.uf1)}</td>"
                f"<td>{_fmt(r.uar)}</td><td>{r.n_videos}</td><td>{_fmt(r.tracking_rate, True)}</td>"
                f"<td>{_fmt(r.au_snr_db)}</td></tr>"
            )
        cells = "".join(
            f"<td class='{'low' if ratios[f] is not None and ratios[f] < 0.8 else ''}'>{_fmt(ratios[f])}</td>"
            for f in ("uf1", "uar")
        )
        cells2 = "".join(
            f"<td class='{'low' if ratios[f] is not None and ratios[f] < 0.8 else ''}'>{_fmt(ratios[f])}</td>"
            for f in ("tracking_rate", "au_snr_db")
        )
        parts.append(f"<tr class='ratio'><td class='g'>worst/best</td><td></td>{cells}<td></td>{cells2}</tr>")
        parts.append("</tbody></table>")
        parts.append(_bars(rows, "uf1"))
    parts.append("</body></html>")
    return "\n".join(parts)


def _bars(rows: list[GroupRow], figure: str) -> str:
    vals = [(r.group, getattr(r, figure)) for r in rows if not math.isnan(getattr(r, figure))]
    if not vals:
        return ""
    w, h = 420, 22
    out = [
        f"<svg width='{w + 200}' height='{h * len(vals) + 10}' role='img' aria-label='{_LABELS[figure]} per group'>"
    ]
    for i, (g, v) in enumerate(vals):
        y = 5 + i * h
        out.append(
            f"<text x='0' y='{y + 15}' font-size='12'>{html.escape(g[:30])}</text>"
            f"<rect x='180' y='{y}' width='{max(0.0, min(1.0, v)) * w:.1f}' height='{h - 6}' fill='#4a78b5'/>"
            f"<text x='{185 + max(0.0, min(1.0, v)) * w:.1f}' y='{y + 13}' font-size='11'>{v:.3f}</text>"
        )
    out.append("</svg>")
    return "".join(out)
