"""Classification metrics from the confusion matrix (training-and-losses chapter).

For a binary problem with a chosen *positive* class, every prediction falls
into one of four cells: true positive (TP), false positive (FP), false
negative (FN) or true negative (TN). From these counts:

* accuracy :math:`= (TP + TN)/(TP + FP + FN + TN)`,
* precision :math:`= TP/(TP + FP)` (of the predicted positives, how many are right),
* recall (sensitivity, true-positive rate) :math:`= TP/(TP + FN)`,
* specificity (true-negative rate) :math:`= TN/(TN + FP)`,
* :math:`F_1 = 2\\,\\text{precision}\\cdot\\text{recall}/(\\text{precision} + \\text{recall})`.

A ratio whose denominator is 0 is reported as 0 (scikit-learn's
``zero_division=0``). With more than two classes each class in turn is the
positive one (per-class metrics), and ``average="macro"`` takes their
unweighted mean. A classifier that outputs a score is turned into one that
outputs a label by a threshold; :func:`precision_recall_curve` and :func:`roc_curve` sweep it.

Conventions follow scikit-learn (rows of the confusion matrix are the true
classes, columns the predicted ones); the unit tests compare every function
with ``sklearn.metrics``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


AVERAGES = (None, "binary", "macro")


def _labels(y: torch.Tensor, name: str) -> torch.Tensor:
    y = torch.as_tensor(y)
    if y.dim() != 1:
        raise ValueError(f"{name} must be a 1-D tensor of labels, got shape {tuple(y.shape)}")
    if y.is_floating_point():
        if not torch.equal(y, y.round()):
            raise ValueError(f"{name} must hold integer class labels")
        y = y.long()
    return y.long()


def _pair(y_true: torch.Tensor, y_pred: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    y_true, y_pred = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must have the same length, got {len(y_true)} and {len(y_pred)}")
    if len(y_true) == 0:
        raise ValueError("no examples: y_true is empty")
    if y_true.min() < 0 or y_pred.min() < 0:
        raise ValueError("class labels must be non-negative integers 0, 1, 2, ...")
    return y_true, y_pred.to(y_true.device)


def _safe_ratio(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    num, den = num.double(), den.double()
    return torch.where(den > 0, num / den.clamp(min=1), torch.zeros_like(num))


def confusion_matrix(y_true: torch.Tensor, y_pred: torch.Tensor, num_classes: int | None = None) -> torch.Tensor:
    """The (C, C) matrix whose entry (i, j) counts examples of true class i predicted as class j.

    ``num_classes`` defaults to one more than the largest label seen. For
    two classes 0/1 the layout is ``[[TN, FP], [FN, TP]]`` (class 1 positive).
    Same as ``sklearn.metrics.confusion_matrix(y_true, y_pred, labels=range(C))``.
    """
    y_true, y_pred = _pair(y_true, y_pred)
    seen = int(max(y_true.max(), y_pred.max())) + 1
    classes = seen if num_classes is None else num_classes
    if classes < seen:
        raise ValueError(f"num_classes={num_classes} but a label {seen - 1} occurs")
    index = y_true * classes + y_pred
    return torch.bincount(index, minlength=classes * classes).reshape(classes, classes)


def binary_counts(y_true: torch.Tensor, y_pred: torch.Tensor, positive: int = 1) -> dict[str, int]:
    """The four cells ``{"tp", "fp", "fn", "tn"}`` for the class ``positive`` against all others."""
    y_true, y_pred = _pair(y_true, y_pred)
    t, p = y_true == positive, y_pred == positive
    return {"tp": int((t & p).sum()), "fp": int((~t & p).sum()), "fn": int((t & ~p).sum()), "tn": int((~t & ~p).sum())}


def _per_class_counts(y_true: torch.Tensor, y_pred: torch.Tensor) -> dict[str, torch.Tensor]:
    cm = confusion_matrix(y_true, y_pred)
    tp = cm.diagonal()
    fp = cm.sum(dim=0) - tp
    fn = cm.sum(dim=1) - tp
    tn = cm.sum() - tp - fp - fn
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn}


def _metric(kind: str, y_true: torch.Tensor, y_pred: torch.Tensor, average: str | None,
            positive: int) -> torch.Tensor | float:
    if average not in AVERAGES:
        raise ValueError(f"average must be one of {AVERAGES}, got {average!r}")
    if average == "binary":
        c = {k: torch.tensor(v) for k, v in binary_counts(y_true, y_pred, positive).items()}
    else:
        c = _per_class_counts(y_true, y_pred)
    precision = _safe_ratio(c["tp"], c["tp"] + c["fp"])
    recall = _safe_ratio(c["tp"], c["tp"] + c["fn"])
    values = {
        "precision": precision,
        "recall": recall,
        "specificity": _safe_ratio(c["tn"], c["tn"] + c["fp"]),
        # F1 = 2 TP / (2 TP + FP + FN), the harmonic mean of precision and recall written without them
        "f1": _safe_ratio(2 * c["tp"], 2 * c["tp"] + c["fp"] + c["fn"]),
    }[kind]
    if average == "binary":
        return float(values)
    if average == "macro":
        return float(values.mean())
    return values


def accuracy(y_true: torch.Tensor, y_pred: torch.Tensor) -> float:
    """The fraction of correct predictions, :math:`(TP + TN)/N` in the binary case."""
    y_true, y_pred = _pair(y_true, y_pred)
    return float((y_true == y_pred).double().mean())


def precision(y_true: torch.Tensor, y_pred: torch.Tensor, average: str | None = "binary", positive: int = 1):
    """:math:`TP/(TP+FP)`.

    ``average="binary"``: for the class ``positive`` (a float); ``None``: per class (a tensor);
    ``"macro"``: the unweighted mean over the classes.
    """
    return _metric("precision", y_true, y_pred, average, positive)


def recall(y_true: torch.Tensor, y_pred: torch.Tensor, average: str | None = "binary", positive: int = 1):
    """:math:`TP/(TP+FN)` (sensitivity, true-positive rate); ``average`` as in :func:`precision`."""
    return _metric("recall", y_true, y_pred, average, positive)


def specificity(y_true: torch.Tensor, y_pred: torch.Tensor, average: str | None = "binary", positive: int = 1):
    """:math:`TN/(TN+FP)` (true-negative rate, the recall of the negative class); ``average`` as in :func:`precision`."""
    return _metric("specificity", y_true, y_pred, average, positive)


def f1_score(y_true: torch.Tensor, y_pred: torch.Tensor, average: str | None = "binary", positive: int = 1):
    """:math:`F_1 = 2PR/(P+R) = 2TP/(2TP + FP + FN)`; ``average`` as in :func:`precision`."""
    return _metric("f1", y_true, y_pred, average, positive)


def binary_metrics(y_true: torch.Tensor, y_pred: torch.Tensor, positive: int = 1) -> dict[str, float]:
    """All five metrics of the binary problem "class ``positive`` or not", as a dict of floats.

    Keys: ``accuracy``, ``precision``, ``recall``, ``specificity``, ``f1``
    (a ratio with a zero denominator is 0).
    """
    c = binary_counts(y_true, y_pred, positive)
    tp, fp, fn, tn = c["tp"], c["fp"], c["fn"], c["tn"]

    def ratio(num: int, den: int) -> float:
        return num / den if den > 0 else 0.0

    return {
        "accuracy": ratio(tp + tn, tp + fp + fn + tn),
        "precision": ratio(tp, tp + fp),
        "recall": ratio(tp, tp + fn),
        "specificity": ratio(tn, tn + fp),
        "f1": ratio(2 * tp, 2 * tp + fp + fn),
    }


@dataclass(frozen=True)
class PRCurve:
    """Precision and recall for every threshold (``len(thresholds) + 1`` points, the last one (recall 0, precision 1))."""

    precision: torch.Tensor
    recall: torch.Tensor
    thresholds: torch.Tensor


def precision_recall_curve(y_true: torch.Tensor, scores: torch.Tensor, positive: int = 1) -> PRCurve:
    """Precision and recall of the rule "positive when score >= t" for every distinct score ``t``.

    The thresholds are the distinct scores in increasing order; raising the
    threshold can only remove predicted positives, so recall never increases
    along the curve while precision usually (not always) rises. A final point
    (recall 0, precision 1) closes the curve. Same as
    ``sklearn.metrics.precision_recall_curve(y_true, scores)``.
    """
    y_true = _labels(y_true, "y_true")
    scores = torch.as_tensor(scores)
    if scores.shape != y_true.shape:
        raise ValueError(f"scores must have the shape of y_true {tuple(y_true.shape)}, got {tuple(scores.shape)}")
    positives = (y_true == positive).double()
    if positives.sum() == 0:
        raise ValueError("y_true contains no positive example, so recall is undefined")
    order = torch.argsort(scores.double(), descending=True, stable=True)
    s, pos = scores.double()[order], positives[order]
    tps, fps = torch.cumsum(pos, 0), torch.cumsum(1 - pos, 0)
    # keep the last index of every run of equal scores: "score >= t" includes all ties
    last = torch.cat([s[1:] != s[:-1], torch.tensor([True], device=s.device)])
    tps, fps, thresholds = tps[last], fps[last], s[last]
    precision = tps / (tps + fps)
    recall = tps / positives.sum()
    one, zero = torch.ones(1, dtype=torch.float64, device=s.device), torch.zeros(1, dtype=torch.float64, device=s.device)
    return PRCurve(torch.cat([precision.flip(0), one]), torch.cat([recall.flip(0), zero]), thresholds.flip(0))


def threshold_table(y_true: torch.Tensor, scores: torch.Tensor, thresholds: list[float],
                    positive: int = 1) -> list[dict[str, float]]:
    """One row per threshold ``t`` with the counts and :func:`binary_metrics` of "positive when score >= t"."""
    y_true = _labels(y_true, "y_true")
    scores = torch.as_tensor(scores)
    negative = 0 if positive != 0 else 1
    rows = []
    for t in thresholds:
        pred = torch.where(scores >= t, positive, negative)
        row: dict[str, float] = {"threshold": float(t)}
        row.update(binary_counts(y_true, pred, positive))
        row.update(binary_metrics(y_true, pred, positive))
        rows.append(row)
    return rows


@dataclass(frozen=True)
class ROCCurve:
    """False- and true-positive rates for every threshold, from (0, 0) (threshold :math:`+\\infty`) to (1, 1)."""

    fpr: torch.Tensor
    tpr: torch.Tensor
    thresholds: torch.Tensor

    def area(self) -> float:
        """The area under the curve (AUC) by the trapezoidal rule: the probability that a random
        positive example scores higher than a random negative one (ties count one half)."""
        return float(torch.trapezoid(self.tpr, self.fpr))


def roc_curve(y_true: torch.Tensor, scores: torch.Tensor, positive: int = 1) -> ROCCurve:
    """The receiver operating characteristic: recall (TPR) against :math:`FP/(FP+TN)` (FPR) for every threshold.

    Like :func:`precision_recall_curve`, the rule is "positive when score >= t"
    for every distinct score ``t``, now in *decreasing* order, after a first
    point for :math:`t = +\\infty` (nothing predicted positive). The FPR is
    one minus the specificity. Same as
    ``sklearn.metrics.roc_curve(y_true, scores, drop_intermediate=False)``.
    """
    y_true = _labels(y_true, "y_true")
    scores = torch.as_tensor(scores)
    if scores.shape != y_true.shape:
        raise ValueError(f"scores must have the shape of y_true {tuple(y_true.shape)}, got {tuple(scores.shape)}")
    positives = (y_true == positive).double()
    if positives.sum() == 0 or positives.sum() == len(positives):
        raise ValueError("y_true needs both positive and negative examples for a ROC curve")
    order = torch.argsort(scores.double(), descending=True, stable=True)
    s, pos = scores.double()[order], positives[order]
    tps, fps = torch.cumsum(pos, 0), torch.cumsum(1 - pos, 0)
    last = torch.cat([s[1:] != s[:-1], torch.tensor([True], device=s.device)])
    zero = torch.zeros(1, dtype=torch.float64, device=s.device)
    tpr = torch.cat([zero, tps[last] / positives.sum()])
    fpr = torch.cat([zero, fps[last] / (1 - positives).sum()])
    thresholds = torch.cat([torch.full((1,), math.inf, dtype=torch.float64, device=s.device), s[last]])
    return ROCCurve(fpr, tpr, thresholds)
