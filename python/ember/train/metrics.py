"""Metrics for the fit loop: stateful classes (``update`` / ``compute`` / ``reset`` and a ``name``,
the key in the fit logs) and functional helpers, computed in numpy on detached tensors.

Classification outputs: logits or probabilities (N, C); binary logits (N,) or (N, 1),
thresholded after a sigmoid; or integer labels of the target's shape.
"""
import copy
import math

import numpy as np

__all__ = [
    "Accuracy", "ConfusionMatrix", "F1Score", "FunctionMetric", "MeanAbsoluteError",
    "MeanSquaredError", "Metric", "Precision", "R2Score", "Recall", "RootMeanSquaredError",
    "TopKAccuracy", "accuracy", "confusion_matrix", "f1_score", "get_metric",
    "mean_absolute_error", "mean_squared_error", "precision", "precision_recall_f1", "r2_score",
    "recall", "root_mean_squared_error", "top_k_accuracy",
]

_AVERAGES = ("macro", "micro", "weighted", "binary", None)


def to_numpy(x):
    """Return a detached numpy copy of an ember/torch tensor, array or Python sequence."""
    x = x.detach() if hasattr(x, "detach") else x
    x = x.cpu() if hasattr(x, "cpu") else x
    return np.array(x.numpy()) if hasattr(x, "numpy") else np.asarray(x)


def _labels(output, threshold=0.5, from_logits=True):
    """Predicted class labels (N,) from logits/probabilities (N, C), binary scores or labels."""
    out = to_numpy(output)
    if np.issubdtype(out.dtype, np.integer) or out.dtype == np.bool_:
        return out.reshape(-1).astype(np.int64)
    if out.ndim == 2 and out.shape[1] > 1:
        return out.argmax(axis=1).astype(np.int64)
    scores = out.reshape(-1).astype(np.float64)
    if from_logits:
        scores = 1.0 / (1.0 + np.exp(-scores))
    return (scores > threshold).astype(np.int64)


def _targets(target):
    t = to_numpy(target)
    if t.ndim == 2 and t.shape[1] > 1:  # one-hot or class probabilities
        t = t.argmax(axis=1)
    return t.reshape(-1).astype(np.int64)


def _num_classes(output, num_classes):
    shape = tuple(getattr(output, "shape", np.shape(output)))
    if num_classes is None and len(shape) == 2 and shape[1] > 1:
        return int(shape[1])
    return None if num_classes is None else int(num_classes)


class Metric:
    """Base class: accumulate with ``update``, read with ``compute``, clear with ``reset``."""

    name = "metric"

    def __init__(self):
        self.reset()

    def reset(self):
        raise NotImplementedError

    def update(self, output, target):
        raise NotImplementedError

    def compute(self):
        raise NotImplementedError

    def __call__(self, output, target):
        """Functional use: the metric of one batch, without touching the accumulated state."""
        m = copy.deepcopy(self)
        m.reset()
        m.update(output, target)
        return m.compute()

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


# --- classification ------------------------------------------------------------------------------
class Accuracy(Metric):
    """Fraction of correct predictions. Args: threshold, from_logits (binary outputs only)."""

    name = "accuracy"

    def __init__(self, threshold=0.5, from_logits=True):
        self.threshold, self.from_logits = threshold, from_logits
        super().__init__()

    def reset(self):
        self.correct, self.total = 0, 0

    def update(self, output, target):
        pred, true = _labels(output, self.threshold, self.from_logits), _targets(target)
        if pred.shape != true.shape:
            raise ValueError(f"accuracy: {pred.shape[0]} predictions for {true.shape[0]} targets")
        self.correct += int((pred == true).sum())
        self.total += int(true.size)

    def compute(self):
        return self.correct / self.total if self.total else math.nan


class TopKAccuracy(Accuracy):
    """Fraction of samples whose true class is among the k highest scores (a tie counts when
    fewer than k classes score strictly higher). Shape: output (N, C), target (N,) labels."""

    def __init__(self, k=5):
        self.k = int(k)
        self.name = f"top{self.k}_accuracy"
        super().__init__()

    def update(self, output, target):
        scores, true = to_numpy(output), _targets(target)
        if scores.ndim != 2:
            raise ValueError(f"top-k accuracy needs (N, C) scores, got shape {scores.shape}")
        true_score = scores[np.arange(scores.shape[0]), true]
        higher = (scores > true_score[:, None]).sum(axis=1)
        self.correct += int((higher < self.k).sum())
        self.total += int(true.size)


class ConfusionMatrix(Metric):
    """Counts C[i, j] of samples of true class i predicted as class j (sklearn's layout).

    Args: num_classes (inferred from (N, C) outputs or the largest label when None), threshold,
    from_logits (binary outputs).
    """

    name = "confusion_matrix"

    def __init__(self, num_classes=None, threshold=0.5, from_logits=True):
        self.num_classes, self.threshold, self.from_logits = num_classes, threshold, from_logits
        super().__init__()

    def reset(self):
        n = self.num_classes or 0
        self.matrix = np.zeros((n, n), dtype=np.int64)

    def update(self, output, target):
        pred, true = _labels(output, self.threshold, self.from_logits), _targets(target)
        if pred.shape != true.shape:
            raise ValueError(f"{pred.shape[0]} predictions for {true.shape[0]} targets")
        if (pred < 0).any() or (true < 0).any():
            raise ValueError("class labels must be non-negative")
        n = max(_num_classes(output, self.num_classes) or 0, self.matrix.shape[0],
                int(pred.max(initial=-1)) + 1, int(true.max(initial=-1)) + 1)
        if n > self.matrix.shape[0]:
            grown = np.zeros((n, n), dtype=np.int64)
            k = self.matrix.shape[0]
            grown[:k, :k] = self.matrix
            self.matrix = grown
        np.add.at(self.matrix, (true, pred), 1)

    def compute(self):
        return self.matrix.copy()


def _prf_from_matrix(cm, average):
    """(precision, recall, f1) from a confusion matrix; 0 where a ratio is 0/0 (as sklearn)."""
    if average not in _AVERAGES:
        raise ValueError(f"average must be one of {_AVERAGES}, got {average!r}")
    cm = cm.astype(np.float64)
    if cm.size == 0:  # nothing seen yet
        return (np.zeros(0),) * 3 if average is None else (math.nan,) * 3
    tp, pred_pos, support = np.diag(cm), cm.sum(axis=0), cm.sum(axis=1)

    def ratio(a, b):
        return np.divide(a, b, out=np.zeros_like(a), where=b > 0)

    if average == "micro":  # single-label: micro precision = recall = f1 = accuracy
        p = ratio(tp.sum(), pred_pos.sum()).item()
        return p, p, p
    p, r = ratio(tp, pred_pos), ratio(tp, support)
    f = ratio(2 * p * r, p + r)
    if average is None:
        return p, r, f
    if average == "binary":
        if cm.shape[0] > 2:
            raise ValueError("average='binary' needs 2 classes; use 'macro', 'micro' or 'weighted'")
        return (float(p[1]), float(r[1]), float(f[1])) if cm.shape[0] == 2 else (0.0, 0.0, 0.0)
    if average == "macro":
        return float(p.mean()), float(r.mean()), float(f.mean())
    w = ratio(support, np.float64(support.sum()))  # weighted
    return float((p * w).sum()), float((r * w).sum()), float((f * w).sum())


class _PRF(Metric):
    _index = 0  # which of (precision, recall, f1) compute() returns

    def __init__(self, num_classes=None, average="macro", threshold=0.5, from_logits=True):
        _prf_from_matrix(np.zeros((0, 0)), average)  # validates average
        self.average = average
        self._cm = ConfusionMatrix(num_classes, threshold, from_logits)
        super().__init__()

    def reset(self):
        self._cm.reset()

    def update(self, output, target):
        self._cm.update(output, target)

    def compute(self):
        return _prf_from_matrix(self._cm.matrix, self.average)[self._index]


class Precision(_PRF):
    """Precision tp / (tp + fp). Args: num_classes, average ('macro' | 'micro' | 'weighted' |
    'binary' | None for per-class values), threshold, from_logits."""

    name, _index = "precision", 0


class Recall(_PRF):
    """Recall tp / (tp + fn); same arguments as :class:`Precision`."""

    name, _index = "recall", 1


class F1Score(_PRF):
    """F1 = 2 p r / (p + r); same arguments as :class:`Precision`."""

    name, _index = "f1", 2


# --- regression ----------------------------------------------------------------------------------
class _Regression(Metric):
    """Accumulates per-output sums; output and target broadcast-free, same number of elements."""

    def reset(self):
        self.n = 0
        self.sq = self.ab = self.sy = self.syy = 0.0

    def update(self, output, target):
        p = to_numpy(output).astype(np.float64)
        t = to_numpy(target).astype(np.float64)
        if p.size != t.size:
            raise ValueError(f"{self.name}: output has {p.size} elements, target {t.size}")
        p = p.reshape(t.shape[0], -1) if t.ndim else p.reshape(1, 1)
        t = t.reshape(p.shape)
        self.n += p.shape[0]
        self.sq = self.sq + ((p - t) ** 2).sum(axis=0)
        self.ab = self.ab + np.abs(p - t).sum(axis=0)
        self.sy = self.sy + t.sum(axis=0)
        self.syy = self.syy + (t ** 2).sum(axis=0)

    def _mean(self, s):
        return float(np.mean(s) / self.n) if self.n else math.nan


class MeanSquaredError(_Regression):
    """Mean of (output - target)^2 over all elements."""

    name = "mse"

    def compute(self):
        return self._mean(self.sq)


class RootMeanSquaredError(_Regression):
    """Square root of the mean squared error."""

    name = "rmse"

    def compute(self):
        return math.sqrt(self._mean(self.sq))


class MeanAbsoluteError(_Regression):
    """Mean of |output - target| over all elements."""

    name = "mae"

    def compute(self):
        return self._mean(self.ab)


class R2Score(_Regression):
    """Coefficient of determination 1 - SS_res / SS_tot, averaged uniformly over outputs."""

    name = "r2"

    def compute(self):
        if self.n < 2:
            return math.nan
        ss_tot = np.atleast_1d(self.syy - self.sy ** 2 / self.n)
        ss_res = np.atleast_1d(self.sq)
        r2 = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0),
                      np.where(ss_res > 0, 0.0, 1.0))  # constant target: sklearn's convention
        return float(r2.mean())


class FunctionMetric(Metric):
    """A ``fn(output, target) -> float`` averaged over batches, weighted by batch size."""

    def __init__(self, fn, name=None):
        self.fn, self.name = fn, name or getattr(fn, "__name__", "metric")
        super().__init__()

    def reset(self):
        self.total, self.count = 0.0, 0

    def update(self, output, target):
        shape = getattr(target, "shape", None)
        n = len(target) if shape is None else (int(shape[0]) if len(shape) else 1)
        self.total, self.count = self.total + float(self.fn(output, target)) * n, self.count + n

    def compute(self):
        return self.total / self.count if self.count else math.nan


_BY_NAME = {
    "accuracy": Accuracy, "acc": Accuracy, "confusion_matrix": ConfusionMatrix,
    "precision": Precision, "recall": Recall, "f1": F1Score, "f1_score": F1Score,
    "mse": MeanSquaredError, "rmse": RootMeanSquaredError, "mae": MeanAbsoluteError,
    "r2": R2Score, "r2_score": R2Score,
}


def get_metric(metric):
    """Resolve a metric: an instance, a name ('accuracy', 'top5_accuracy', 'f1', 'mse'...) or a
    callable ``fn(output, target) -> float`` (wrapped in :class:`FunctionMetric`)."""
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, str):
        key = metric.lower()
        if key.startswith("top") and key.endswith("_accuracy") and key[3:-9].isdigit():
            return TopKAccuracy(int(key[3:-9]))
        if key in _BY_NAME:
            return _BY_NAME[key]()
        raise ValueError(f"unknown metric {metric!r}; known: {sorted(_BY_NAME)}, 'topK_accuracy'")
    if callable(metric):
        return FunctionMetric(metric)
    raise TypeError(f"expected a Metric, a metric name or a callable, got {type(metric).__name__}")


# --- functional helpers --------------------------------------------------------------------------
def accuracy(output, target, threshold=0.5, from_logits=True):
    """Fraction of correct predictions (see :class:`Accuracy`)."""
    return Accuracy(threshold, from_logits)(output, target)


def top_k_accuracy(output, target, k=5):
    """Fraction of samples whose true class is among the top k scores. Shape: (N, C), (N,)."""
    return TopKAccuracy(k)(output, target)


def confusion_matrix(output, target, num_classes=None, threshold=0.5, from_logits=True):
    """Confusion matrix as an int64 numpy array (rows: true class, columns: predicted)."""
    return ConfusionMatrix(num_classes, threshold, from_logits)(output, target)


def precision_recall_f1(output, target, num_classes=None, average="macro", threshold=0.5,
                        from_logits=True):
    """(precision, recall, f1) in one pass; floats, or per-class arrays with average=None."""
    cm = confusion_matrix(output, target, num_classes, threshold, from_logits)
    return _prf_from_matrix(cm, average)


def precision(output, target, num_classes=None, average="macro", **kwargs):
    """Precision (see :class:`Precision`)."""
    return precision_recall_f1(output, target, num_classes, average, **kwargs)[0]


def recall(output, target, num_classes=None, average="macro", **kwargs):
    """Recall (see :class:`Recall`)."""
    return precision_recall_f1(output, target, num_classes, average, **kwargs)[1]


def f1_score(output, target, num_classes=None, average="macro", **kwargs):
    """F1 score (see :class:`F1Score`)."""
    return precision_recall_f1(output, target, num_classes, average, **kwargs)[2]


def mean_squared_error(output, target):
    """Mean squared error over all elements."""
    return MeanSquaredError()(output, target)


def root_mean_squared_error(output, target):
    """Root mean squared error over all elements."""
    return RootMeanSquaredError()(output, target)


def mean_absolute_error(output, target):
    """Mean absolute error over all elements."""
    return MeanAbsoluteError()(output, target)


def r2_score(output, target):
    """R² (coefficient of determination), averaged uniformly over outputs."""
    return R2Score()(output, target)
