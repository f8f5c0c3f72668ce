"""MEGC2019 recognition scores: UF1 and UAR from predictions pooled over all folds (never fold averages)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> np.ndarray:
    """(K, K) int64 counts, rows = true class, columns = predicted class."""
    t, p = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred must have the same shape, but got {t.shape} and {p.shape}")
    if len(t) and (min(t.min(), p.min()) < 0 or max(t.max(), p.max()) >= n_classes):
        raise ValueError(f"labels must be in [0, {n_classes})")
    cm = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(cm, (t, p), 1)
    return cm


def scores(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> dict[str, object]:
    """UF1, UAR, accuracy, per-class F1 and recall, and the confusion matrix of pooled predictions.

    UF1: per class, F1 = 2 TP / (2 TP + FP + FN) from TP, FP, FN summed over every fold's predictions, then
    the unweighted mean over classes. UAR: mean over classes of TP / (number of samples of the class).
    A class with no samples and no predictions gets F1 = recall = 0 and still counts in the mean, as in
    the MEGC2019 scripts (a class absent from the data should not be in ``classes``).
    """
    cm = confusion_matrix(y_true, y_pred, n_classes)
    tp = np.diag(cm).astype(np.float64)
    fp = cm.sum(0) - tp
    fn = cm.sum(1) - tp
    denom = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denom, out=np.zeros(n_classes), where=denom > 0)
    n = cm.sum(1).astype(np.float64)
    recall = np.divide(tp, n, out=np.zeros(n_classes), where=n > 0)
    total = cm.sum()
    return {
        "uf1": float(f1.mean()),
        "uar": float(recall.mean()),
        "accuracy": float(tp.sum() / total) if total else 0.0,
        "per_class_f1": [float(x) for x in f1],
        "per_class_recall": [float(x) for x in recall],
        "confusion": cm.tolist(),
    }
