"""The confusion-matrix metrics and the precision-recall curve against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from genai_foundations.evaluation import classification_metrics as cm


def labels(n: int, classes: int, seed: int) -> torch.Tensor:
    return torch.randint(0, classes, (n,), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("classes", [2, 3, 5])
def test_confusion_matrix_equals_sklearn(classes):
    y_true, y_pred = labels(60, classes, 0), labels(60, classes, 1)
    expected = skm.confusion_matrix(y_true.numpy(), y_pred.numpy(), labels=list(range(classes)))
    np.testing.assert_array_equal(cm.confusion_matrix(y_true, y_pred, classes).numpy(), expected)
    assert cm.confusion_matrix(y_true, y_pred).sum() == 60


def test_binary_layout_and_counts():
    y_true = torch.tensor([1, 1, 1, 0, 0, 0, 0, 1])
    y_pred = torch.tensor([1, 0, 1, 0, 1, 0, 0, 1])
    assert cm.confusion_matrix(y_true, y_pred).tolist() == [[3, 1], [1, 3]]  # [[TN, FP], [FN, TP]]
    assert cm.binary_counts(y_true, y_pred) == {"tp": 3, "fp": 1, "fn": 1, "tn": 3}
    tn, fp, fn, tp = skm.confusion_matrix(y_true.numpy(), y_pred.numpy()).ravel()
    assert (tn, fp, fn, tp) == (3, 1, 1, 3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_metrics_equal_sklearn(seed):
    y_true, y_pred = labels(40, 2, seed), labels(40, 2, seed + 10)
    t, p = y_true.numpy(), y_pred.numpy()
    m = cm.binary_metrics(y_true, y_pred)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(t, p)) == pytest.approx(cm.accuracy(y_true, y_pred))
    assert m["precision"] == pytest.approx(skm.precision_score(t, p)) == pytest.approx(cm.precision(y_true, y_pred))
    assert m["recall"] == pytest.approx(skm.recall_score(t, p)) == pytest.approx(cm.recall(y_true, y_pred))
    assert m["f1"] == pytest.approx(skm.f1_score(t, p)) == pytest.approx(cm.f1_score(y_true, y_pred))
    # specificity is the recall of the negative class
    assert m["specificity"] == pytest.approx(skm.recall_score(t, p, pos_label=0))
    assert cm.specificity(y_true, y_pred) == pytest.approx(m["specificity"])


@pytest.mark.parametrize("average", [None, "macro"])
def test_multiclass_metrics_equal_sklearn(average):
    y_true, y_pred = labels(90, 4, 5), labels(90, 4, 6)
    t, p = y_true.numpy(), y_pred.numpy()
    for ours, theirs in [(cm.precision, skm.precision_score), (cm.recall, skm.recall_score), (cm.f1_score, skm.f1_score)]:
        np.testing.assert_allclose(np.asarray(ours(y_true, y_pred, average=average)),
                                   theirs(t, p, average=average, zero_division=0))
    assert cm.accuracy(y_true, y_pred) == pytest.approx(skm.accuracy_score(t, p))


def test_zero_division_gives_zero_like_sklearn():
    y_true, y_pred = torch.tensor([1, 0, 0]), torch.tensor([0, 0, 0])
    m = cm.binary_metrics(y_true, y_pred)
    assert m["precision"] == skm.precision_score(y_true.numpy(), y_pred.numpy(), zero_division=0) == 0.0
    assert m["f1"] == 0.0 and m["specificity"] == 1.0 and m["recall"] == 0.0


@pytest.mark.parametrize("seed", [0, 1])
def test_precision_recall_curve_equals_sklearn(seed):
    g = torch.Generator().manual_seed(seed)
    y_true = labels(80, 2, seed + 20)
    scores = (torch.rand(80, generator=g, dtype=torch.float64) + 0.4 * y_true).round(decimals=1)  # with ties
    curve = cm.precision_recall_curve(y_true, scores)
    precision, recall, thresholds = skm.precision_recall_curve(y_true.numpy(), scores.numpy())
    np.testing.assert_allclose(curve.precision.numpy(), precision)
    np.testing.assert_allclose(curve.recall.numpy(), recall)
    np.testing.assert_allclose(curve.thresholds.numpy(), thresholds)
    assert (curve.recall[1:] <= curve.recall[:-1]).all()


@pytest.mark.parametrize("seed", [0, 1])
def test_roc_curve_and_auc_equal_sklearn(seed):
    g = torch.Generator().manual_seed(seed)
    y_true = labels(80, 2, seed + 30)
    scores = (torch.rand(80, generator=g, dtype=torch.float64) + 0.4 * y_true).round(decimals=1)  # with ties
    curve = cm.roc_curve(y_true, scores)
    fpr, tpr, thresholds = skm.roc_curve(y_true.numpy(), scores.numpy(), drop_intermediate=False)
    np.testing.assert_allclose(curve.fpr.numpy(), fpr)
    np.testing.assert_allclose(curve.tpr.numpy(), tpr)
    np.testing.assert_allclose(curve.thresholds.numpy(), thresholds)
    assert curve.area() == pytest.approx(skm.roc_auc_score(y_true.numpy(), scores.numpy()), rel=1e-12)
    # the FPR is one minus the specificity of "score >= t"
    row = cm.threshold_table(y_true, scores, [float(curve.thresholds[3])])[0]
    assert float(curve.fpr[3]) == pytest.approx(1 - row["specificity"])
    assert float(curve.tpr[3]) == pytest.approx(row["recall"])
    with pytest.raises(ValueError, match="both positive and negative"):
        cm.roc_curve(torch.tensor([1, 1]), torch.tensor([0.1, 0.2]))


def test_threshold_table_trades_precision_for_recall():
    y_true = torch.tensor([0, 0, 1, 0, 1, 1, 1, 0])
    scores = torch.tensor([0.1, 0.3, 0.35, 0.5, 0.6, 0.8, 0.9, 0.95])
    rows = cm.threshold_table(y_true, scores, [0.2, 0.55, 0.85])
    assert [r["recall"] for r in rows] == pytest.approx([1.0, 0.75, 0.25])
    assert [r["tp"] + r["fp"] for r in rows] == [7, 4, 2]
    assert rows[1]["precision"] == pytest.approx(0.75)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="same length"):
        cm.accuracy(torch.tensor([0, 1]), torch.tensor([0, 1, 1]))
    with pytest.raises(ValueError, match="average"):
        cm.precision(torch.tensor([0, 1]), torch.tensor([0, 1]), average="micro")
    with pytest.raises(ValueError, match="no positive"):
        cm.precision_recall_curve(torch.tensor([0, 0]), torch.tensor([0.1, 0.2]))
    with pytest.raises(ValueError, match="num_classes"):
        cm.confusion_matrix(torch.tensor([0, 3]), torch.tensor([0, 1]), num_classes=2)
