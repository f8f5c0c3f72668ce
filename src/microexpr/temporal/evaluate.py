"""Spotting evaluation with the MEGC rules (MEGC2019-2024).

A predicted interval is a true positive when its IoU with a ground-truth interval of the same video (and
kind) is at least 0.5, each truth matched at most once (best IoU first). Per video FP = n - a, FN = m - a;
counts are pooled over all videos into one precision, recall and F1, per kind and overall.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from microexpr.errors import InputError, OptionError

KINDS = ("micro", "macro")
IOU_THRESHOLD = 0.5


def interval_iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    """IoU of two inclusive frame intervals [onset, offset]."""
    inter = min(a[1], b[1]) - max(a[0], b[0]) + 1
    if inter <= 0:
        return 0.0
    union = (a[1] - a[0] + 1) + (b[1] - b[0] + 1) - inter
    return float(inter / union)


def match_intervals(pred: np.ndarray, truth: np.ndarray, *, threshold: float = IOU_THRESHOLD) -> int:
    """Number of true positives among ``pred`` (P, 2) against ``truth`` (T, 2) frame intervals of one video."""
    pairs = [
        (interval_iou(tuple(p), tuple(t)), i, j) for i, p in enumerate(pred) for j, t in enumerate(truth)
    ]
    used_p, used_t, tp = set(), set(), 0
    for iou, i, j in sorted(pairs, reverse=True):
        if iou < threshold:
            break
        if i in used_p or j in used_t:
            continue
        used_p.add(i)
        used_t.add(j)
        tp += 1
    return tp


@dataclass(frozen=True)
class SpottingScore:
    """Pooled counts and scores of one kind (or overall)."""

    tp: int
    n_pred: int
    n_truth: int

    @property
    def fp(self) -> int:
        return self.n_pred - self.tp

    @property
    def fn(self) -> int:
        return self.n_truth - self.tp

    @property
    def precision(self) -> float:
        return self.tp / self.n_pred if self.n_pred else 0.0

    @property
    def recall(self) -> float:
        return self.tp / self.n_truth if self.n_truth else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "n_pred": self.n_pred,
            "n_truth": self.n_truth,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


REQUIRED = ("onset_frame", "offset_frame")


def normalise_events(df: pd.DataFrame, *, source: str) -> pd.DataFrame:
    """Columns video, kind, onset_frame, offset_frame from an events or truth table (clear errors otherwise).

    ``video`` defaults to one video; ``kind`` to "micro" when the table has none; blinks are dropped.
    """
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise InputError(
            f"{source}: missing column(s) {', '.join(missing)}; columns are {', '.join(map(str, df.columns))}"
        )
    out = pd.DataFrame(
        {
            "video": df["video"].astype(str) if "video" in df.columns else "",
            "kind": df["kind"].astype(str).str.lower().str.strip() if "kind" in df.columns else "micro",
            "onset_frame": pd.to_numeric(df["onset_frame"], errors="coerce"),
            "offset_frame": pd.to_numeric(df["offset_frame"], errors="coerce"),
        }
    )
    bad = out["onset_frame"].isna() | out["offset_frame"].isna() | (out["offset_frame"] < out["onset_frame"])
    if bad.any():
        raise InputError(
            f"{source}: {int(bad.sum())} row(s) with a missing or reversed onset/offset "
            f"(first: row {int(np.flatnonzero(bad.to_numpy())[0]) + 2})"
        )
    out = out[out["kind"] != "blink"]
    unknown = sorted(set(out["kind"]) - set(KINDS))
    if unknown:
        raise InputError(f"{source}: unknown kind(s) {', '.join(unknown)}; expected micro, macro or blink")
    return out.reset_index(drop=True)


def evaluate_spotting(
    pred: pd.DataFrame, truth: pd.DataFrame, *, kind: str | None = None
) -> dict[str, SpottingScore]:
    """Scores per kind and overall.

    Args:
        pred: predicted events (normalised by :func:`normalise_events`).
        truth: ground-truth intervals (same columns).
        kind: evaluate only this kind ("micro" or "macro").

    Returns:
        {"micro": ..., "macro": ..., "overall": ...} (only the asked kind and "overall" with ``kind``).
    """
    if kind is not None and kind not in KINDS:
        raise OptionError(f"--kind must be micro or macro, but got {kind!r}")
    pv, tv = set(pred["video"]), set(truth["video"])
    if (pv == {""} and len(tv) <= 1) or (tv == {""} and len(pv) <= 1):  # one side names no video: one video
        pred, truth = pred.assign(video=""), truth.assign(video="")
    elif "" in pv or "" in tv:
        raise InputError(
            "one table has a video column and the other has not, with several videos: add `video`"
        )
    kinds = (kind,) if kind else KINDS
    scores: dict[str, SpottingScore] = {}
    for k in kinds:
        tp = n_p = n_t = 0
        p_k, t_k = pred[pred["kind"] == k], truth[truth["kind"] == k]
        for video in sorted(set(p_k["video"]) | set(t_k["video"])):
            p = p_k.loc[p_k["video"] == video, ["onset_frame", "offset_frame"]].to_numpy(float)
            t = t_k.loc[t_k["video"] == video, ["onset_frame", "offset_frame"]].to_numpy(float)
            tp += match_intervals(p, t)
            n_p += len(p)
            n_t += len(t)
        scores[k] = SpottingScore(tp, n_p, n_t)
    scores["overall"] = SpottingScore(
        sum(s.tp for s in scores.values()),
        sum(s.n_pred for s in scores.values()),
        sum(s.n_truth for s in scores.values()),
    )
    return scores


def read_events(path: Path) -> pd.DataFrame:
    """Read an events/truth CSV or a ground-truth spreadsheet (CAS(ME)^2, SAMM Long Videos), normalised."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p} not found")
    if p.suffix.lower() in (".xlsx", ".xls"):
        from microexpr.datasets.spotting_truth import read_spotting_truth

        return normalise_events(read_spotting_truth(p), source=str(p))
    try:
        df = pd.read_csv(p)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise InputError(f"{p}: not a readable CSV table ({str(e).splitlines()[0]})") from None
    return normalise_events(df, source=str(p))
