"""ember.train.metrics against hand-computed values and independent numpy references."""
import math

import ember
import numpy as np
import pytest
from ember.train import metrics as M


def T(a, dtype=None):
    return ember.from_numpy(np.ascontiguousarray(np.asarray(a, dtype=dtype)))


Y_TRUE = np.array([0, 1, 2, 2, 1, 0])
Y_PRED = np.array([0, 2, 2, 2, 1, 1])


def one_hot_logits(pred, c=3):
    out = np.zeros((len(pred), c), np.float32)
    out[np.arange(len(pred)), pred] = 5.0
    return out


def ref_prf(true, pred, c):
    """Per-class precision/recall/f1 and support by explicit counting."""
    p, r, f, s = [], [], [], []
    for k in range(c):
        tp = sum(1 for t, q in zip(true, pred) if t == k and q == k)
        fp = sum(1 for t, q in zip(true, pred) if t != k and q == k)
        fn = sum(1 for t, q in zip(true, pred) if t == k and q != k)
        pk = tp / (tp + fp) if tp + fp else 0.0
        rk = tp / (tp + fn) if tp + fn else 0.0
        p.append(pk)
        r.append(rk)
        f.append(2 * pk * rk / (pk + rk) if pk + rk else 0.0)
        s.append(tp + fn)
    return np.array(p), np.array(r), np.array(f), np.array(s, float)


def test_accuracy_from_logits_labels_and_one_hot():
    logits = T(one_hot_logits(Y_PRED))
    assert M.accuracy(logits, T(Y_TRUE)) == pytest.approx(4 / 6)
    assert M.accuracy(T(Y_PRED), T(Y_TRUE)) == pytest.approx(4 / 6)  # integer labels
    assert M.accuracy(logits, T(one_hot_logits(Y_TRUE))) == pytest.approx(4 / 6)
    assert M.accuracy(Y_PRED, Y_TRUE) == pytest.approx(4 / 6)  # numpy arrays too


def test_accuracy_binary_logits_and_probabilities():
    logits = np.array([-2.0, 0.5, 3.0, -0.1], np.float32)
    target = np.array([0, 0, 1, 1])
    assert M.accuracy(T(logits), T(target)) == pytest.approx(0.5)
    assert M.accuracy(T(logits[:, None]), T(target[:, None])) == pytest.approx(0.5)
    probs = np.array([0.1, 0.7, 0.9, 0.4], np.float32)
    assert M.accuracy(T(probs), T(target), from_logits=False) == pytest.approx(0.5)
    assert M.accuracy(T(probs), T(target), threshold=0.35, from_logits=False) == pytest.approx(0.75)


def test_accuracy_stateful_accumulates_and_resets():
    m = M.Accuracy()
    logits = one_hot_logits(Y_PRED)
    m.update(T(logits[:4]), T(Y_TRUE[:4]))
    m.update(T(logits[4:]), T(Y_TRUE[4:]))
    assert m.compute() == pytest.approx(4 / 6)
    assert m(T(logits[:1]), T(Y_TRUE[:1])) == 1.0  # functional call leaves the state alone
    assert m.compute() == pytest.approx(4 / 6)
    m.reset()
    assert math.isnan(m.compute())
    with pytest.raises(ValueError):
        m.update(T(logits), T(Y_TRUE[:3]))


def test_accuracy_ignores_autograd():
    x = ember.randn(8, 4, requires_grad=True)
    y = ember.randint(0, 4, (8,))
    expected = float((x.detach().numpy().argmax(1) == y.numpy()).mean())
    assert M.accuracy(x * 2, y) == pytest.approx(expected)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_top_k_accuracy_matches_argsort(k):
    rng = np.random.default_rng(k)
    scores = rng.standard_normal((50, 7)).astype(np.float32)
    target = rng.integers(0, 7, 50)
    topk = np.argsort(-scores, axis=1)[:, :k]
    expected = float(np.mean([t in row for t, row in zip(target, topk)]))
    assert M.top_k_accuracy(T(scores), T(target), k=k) == pytest.approx(expected)
    if k == 1:
        assert M.top_k_accuracy(T(scores), T(target), k=1) == M.accuracy(T(scores), T(target))


def test_top_k_metric_name_and_shape_error():
    assert M.TopKAccuracy(3).name == "top3_accuracy"
    assert M.get_metric("top3_accuracy").k == 3
    with pytest.raises(ValueError):
        M.top_k_accuracy(T(np.zeros(4, np.float32)), T(np.zeros(4, np.int64)), k=1)


def test_confusion_matrix_hand_computed():
    cm = M.confusion_matrix(T(one_hot_logits(Y_PRED)), T(Y_TRUE))
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 1, 1], [0, 0, 2]])
    cm5 = M.confusion_matrix(T(Y_PRED), T(Y_TRUE), num_classes=5)
    assert cm5.shape == (5, 5) and cm5.sum() == 6
    m = M.ConfusionMatrix()  # grows as larger labels appear
    m.update(T([0, 1]), T([0, 1]))
    m.update(T([3]), T([2]))
    np.testing.assert_array_equal(m.compute(), [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1],
                                                [0, 0, 0, 0]])
    with pytest.raises(ValueError):
        M.confusion_matrix(T([-1]), T([0]))


def test_precision_recall_f1_hand_computed():
    out, tgt = T(one_hot_logits(Y_PRED)), T(Y_TRUE)
    p, r, f = M.precision_recall_f1(out, tgt, average=None)
    np.testing.assert_allclose(p, [1.0, 0.5, 2 / 3])
    np.testing.assert_allclose(r, [0.5, 0.5, 1.0])
    np.testing.assert_allclose(f, [2 / 3, 0.5, 0.8])
    assert M.precision(out, tgt) == pytest.approx((1 + 0.5 + 2 / 3) / 3)
    assert M.recall(out, tgt, average="micro") == pytest.approx(4 / 6)
    assert M.f1_score(out, tgt, average="micro") == pytest.approx(4 / 6)
    assert M.f1_score(out, tgt, average="macro") == pytest.approx((2 / 3 + 0.5 + 0.8) / 3)


@pytest.mark.parametrize("average", ["macro", "micro", "weighted", None])
def test_precision_recall_f1_match_reference(average):
    rng = np.random.default_rng(3)
    true = rng.integers(0, 4, 200)
    pred = np.where(rng.random(200) < 0.6, true, rng.integers(0, 4, 200))
    pred[pred == 3] = 2  # class 3 is never predicted: precision 0/0 -> 0
    p, r, f, s = ref_prf(true, pred, 4)
    if average == "micro":
        acc = float(np.mean(true == pred))
        expected = (acc, acc, acc)
    elif average == "macro":
        expected = (p.mean(), r.mean(), f.mean())
    elif average == "weighted":
        w = s / s.sum()
        expected = ((p * w).sum(), (r * w).sum(), (f * w).sum())
    else:
        expected = (p, r, f)
    got = M.precision_recall_f1(T(one_hot_logits(pred, 4)), T(true), average=average)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-12)
    stateful = [cls(average=average) for cls in (M.Precision, M.Recall, M.F1Score)]
    for lo in range(0, 200, 64):  # batches accumulate to the same values
        for m in stateful:
            m.update(T(pred[lo:lo + 64]), T(true[lo:lo + 64]))
    for m, e in zip(stateful, expected):
        np.testing.assert_allclose(m.compute(), e, rtol=1e-12)


def test_empty_metrics_are_nan():
    for cls in (M.Precision, M.Recall, M.F1Score, M.Accuracy, M.MeanSquaredError):
        assert math.isnan(cls().compute())
    assert M.Precision(average=None).compute().shape == (0,)


def test_binary_average_and_errors():
    logits = T(np.array([2.0, -1.0, 0.3, -0.2, 1.5], np.float32))
    target = T(np.array([1, 0, 0, 1, 1]))
    # predictions [1, 0, 1, 0, 1]: tp 2, fp 1, fn 1
    assert M.precision(logits, target, average="binary") == pytest.approx(2 / 3)
    assert M.recall(logits, target, average="binary") == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        M.precision(T(one_hot_logits(Y_PRED)), T(Y_TRUE), average="binary")
    with pytest.raises(ValueError):
        M.Precision(average="samples")
    with pytest.raises(ValueError):
        M.get_metric("nonsense")
    with pytest.raises(TypeError):
        M.get_metric(3)


def test_regression_metrics_match_numpy():
    rng = np.random.default_rng(0)
    t = rng.standard_normal(40).astype(np.float32)
    p = (t + 0.3 * rng.standard_normal(40)).astype(np.float32)
    t64, p64 = t.astype(np.float64), p.astype(np.float64)
    mse = np.mean((p64 - t64) ** 2)
    r2 = 1 - np.sum((p64 - t64) ** 2) / np.sum((t64 - t64.mean()) ** 2)
    assert M.mean_squared_error(T(p), T(t)) == pytest.approx(mse, rel=1e-10)
    assert M.root_mean_squared_error(T(p), T(t)) == pytest.approx(math.sqrt(mse), rel=1e-10)
    assert M.mean_absolute_error(T(p), T(t)) == pytest.approx(np.mean(np.abs(p64 - t64)))
    assert M.r2_score(T(p), T(t)) == pytest.approx(r2, rel=1e-9)
    assert M.mean_squared_error(T(p[:, None]), T(t)) == pytest.approx(mse, rel=1e-10)
    m = M.R2Score()
    for lo in range(0, 40, 7):
        m.update(T(p[lo:lo + 7]), T(t[lo:lo + 7]))
    assert m.compute() == pytest.approx(r2, rel=1e-9)


def test_r2_multi_output_and_constant_target():
    rng = np.random.default_rng(1)
    t = rng.standard_normal((30, 3))
    p = t + rng.standard_normal((30, 3)) * np.array([0.1, 0.5, 1.0])
    per = 1 - ((p - t) ** 2).sum(0) / ((t - t.mean(0)) ** 2).sum(0)
    assert M.r2_score(T(p), T(t)) == pytest.approx(per.mean(), rel=1e-9)
    const = np.ones(5)
    assert M.r2_score(T(const), T(const)) == 1.0
    assert M.r2_score(T(const + 1), T(const)) == 0.0
    with pytest.raises(ValueError):
        M.mean_squared_error(T(np.zeros(3)), T(np.zeros(4)))


def test_get_metric_names():
    names = {"accuracy": M.Accuracy, "precision": M.Precision, "recall": M.Recall,
             "f1": M.F1Score, "mse": M.MeanSquaredError, "rmse": M.RootMeanSquaredError,
             "mae": M.MeanAbsoluteError, "r2": M.R2Score, "confusion_matrix": M.ConfusionMatrix}
    for name, cls in names.items():
        m = M.get_metric(name)
        assert isinstance(m, cls) and m.name == name
    inst = M.Accuracy()
    assert M.get_metric(inst) is inst
