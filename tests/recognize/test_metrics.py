"""UF1 / UAR as MEGC2019 defines them: pooled over folds, then the unweighted class mean."""

from __future__ import annotations

import numpy as np
import pytest

from microexpr.recognize.metrics import confusion_matrix, scores


def test_hand_computed_example():
    # 3 classes; 10 samples.  true:  0 0 0 0 0 1 1 1 2 2   pred: 0 0 0 1 2 1 1 0 2 0
    y_true = [0, 0, 0, 0, 0, 1, 1, 1, 2, 2]
    y_pred = [0, 0, 0, 1, 2, 1, 1, 0, 2, 0]
    s = scores(y_true, y_pred, 3)
    # class 0: TP 3, FP 2, FN 2 -> F1 6/10; class 1: TP 2, FP 1, FN 1 -> 4/6; class 2: TP 1, FP 1, FN 1 -> 2/4
    assert s["per_class_f1"] == pytest.approx([0.6, 2 / 3, 0.5])
    assert s["uf1"] == pytest.approx((0.6 + 2 / 3 + 0.5) / 3)
    assert s["uar"] == pytest.approx((3 / 5 + 2 / 3 + 1 / 2) / 3)
    assert s["accuracy"] == pytest.approx(0.6)
    assert s["confusion"] == [[3, 1, 1], [1, 2, 0], [1, 0, 1]]


def test_pooled_scores_differ_from_an_average_of_fold_scores():
    # fold A holds only class 0, fold B classes 0 and 1: a per-fold average would weight them equally
    fold_a = ([0, 0, 0], [0, 0, 1])
    fold_b = ([0, 1, 1, 1], [0, 1, 1, 0])
    pooled = scores(fold_a[0] + fold_b[0], fold_a[1] + fold_b[1], 2)["uf1"]
    mean_of_folds = np.mean([scores(*fold_a, 2)["uf1"], scores(*fold_b, 2)["uf1"]])
    # pooled: class 0 TP 3 FP 1 FN 1 -> 0.75; class 1 TP 2 FP 1 FN 1 -> 2/3
    assert pooled == pytest.approx((0.75 + 2 / 3) / 2)
    assert abs(pooled - mean_of_folds) > 0.05


def test_bad_labels_are_refused():
    with pytest.raises(ValueError, match="same shape"):
        confusion_matrix([0, 1], [0], 2)
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        confusion_matrix([0, 2], [0, 1], 2)
