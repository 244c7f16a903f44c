"""Loss error paths: out-of-range class indices (naming the value and the valid range), wrong
target dtypes and shapes, invalid options, BCE inputs outside [0, 1], empty batches, buffers."""
import ember
import ember.nn as enn
import ember.nn.functional as EF
import numpy as np
import pytest
from conftest import requires_torch, torch

pytestmark = requires_torch


def test_cross_entropy_target_out_of_bounds():
    x = ember.zeros(3, 5)
    for bad in (7, -1, 5):
        with pytest.raises(IndexError, match=rf"Target {bad} is out of bounds\..*\[0, 5\)"):
            EF.cross_entropy(x, ember.tensor([0, bad, 1]))
    with pytest.raises(IndexError, match="Target 9 is out of bounds"):
        EF.cross_entropy(ember.zeros(2, 3, 4), ember.tensor([[0, 1, 9, -100], [0, 0, 0, 0]]))
    # ignore_index is not out of bounds; an ignore_index inside the range is fine too
    EF.cross_entropy(x, ember.tensor([0, -100, 1]))
    EF.cross_entropy(x, ember.tensor([0, 3, 1]), ignore_index=3)
    with pytest.raises(IndexError, match="Target 5 is out of bounds"):
        EF.nll_loss(x, ember.tensor([0, 5, 1]))
    with pytest.raises(IndexError, match="Target -2 is out of bounds"):
        EF.multi_margin_loss(x, ember.tensor([0, -2, 1]))
    with pytest.raises(IndexError, match="Target 5 is out of bounds"):
        enn.CrossEntropyLoss(label_smoothing=0.1)(x, ember.tensor([0, 5, 1]))


def test_cross_entropy_bad_dtypes_and_shapes():
    x = ember.zeros(3, 5)
    with pytest.raises(RuntimeError, match="int64"):
        EF.cross_entropy(x, ember.tensor([0.0, 1.0, 2.0]))  # float class indices
    with pytest.raises(RuntimeError, match="int64"):
        EF.cross_entropy(x, ember.tensor([0, 1, 2], dtype=ember.int32))
    with pytest.raises(RuntimeError, match="floating point type for target with class probabilities"):
        EF.cross_entropy(x, ember.zeros(3, 5, dtype=ember.int64))
    with pytest.raises(RuntimeError, match="expected target size"):
        EF.cross_entropy(x, ember.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="expected target size"):
        EF.cross_entropy(ember.zeros(2, 3, 4), ember.zeros(2, 5, dtype=ember.int64))
    with pytest.raises(RuntimeError, match="0-d target"):
        EF.cross_entropy(ember.zeros(5), ember.tensor([1]))
    with pytest.raises(RuntimeError, match="weight tensor should be defined either for all 5 classes"):
        EF.cross_entropy(x, ember.tensor([0, 1, 2]), weight=ember.ones(3))
    with pytest.raises(RuntimeError, match="label_smoothing must be between 0.0 and 1.0"):
        EF.cross_entropy(x, ember.tensor([0, 1, 2]), label_smoothing=1.5)
    with pytest.raises(RuntimeError, match="floating point"):
        EF.cross_entropy(ember.zeros(3, 5, dtype=ember.int64), ember.tensor([0, 1, 2]))
    with pytest.raises(RuntimeError, match="ignore_index is not supported"):
        EF.cross_entropy(x, ember.zeros(3, 5), ignore_index=1)
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        EF.cross_entropy(x, ember.tensor([0, 1, 2]), reduction="avg")
    with pytest.raises(RuntimeError, match="expected target size"):
        EF.nll_loss(x, ember.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="int64"):
        EF.nll_loss(x, ember.tensor([0.0, 1.0, 2.0]))


def test_bce_errors_name_the_value():
    with pytest.raises(RuntimeError, match=r"between 0 and 1, got 1\.5"):
        EF.binary_cross_entropy(ember.tensor([0.5, 1.5]), ember.tensor([0.0, 1.0]))
    with pytest.raises(RuntimeError, match=r"got -0\.25"):
        enn.BCELoss()(ember.tensor([-0.25, 0.5]), ember.tensor([0.0, 1.0]))
    with pytest.raises(RuntimeError, match="got nan"):
        EF.binary_cross_entropy(ember.tensor([float("nan"), 0.5]), ember.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="must be the same as input size"):
        EF.binary_cross_entropy(ember.tensor([0.5, 0.5]), ember.tensor([0.0]))
    with pytest.raises(ValueError, match="must be the same as input size"):
        EF.binary_cross_entropy_with_logits(ember.zeros(2, 3), ember.zeros(3))


def test_other_option_errors():
    x = ember.zeros(3, 4)
    with pytest.raises(ValueError, match="only p == 1 and p == 2"):
        enn.MultiMarginLoss(p=3)
    with pytest.raises(ValueError, match="only p == 1 and p == 2"):
        EF.multi_margin_loss(x, ember.tensor([0, 1, 2]), p=3)
    with pytest.raises(ValueError, match="margin must be greater than 0"):
        EF.triplet_margin_loss(x, x, x, margin=0.0)
    with pytest.raises(ValueError, match="greater than 0"):
        enn.TripletMarginLoss(margin=-1.0)
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        EF.triplet_margin_loss(x, x, ember.zeros(4))
    with pytest.raises(RuntimeError, match="same dimension"):
        EF.margin_ranking_loss(ember.zeros(3), ember.zeros(3), ember.zeros(3, 1))
    with pytest.raises(RuntimeError, match="non-positive values for delta"):
        EF.huber_loss(x, x, delta=0.0)
    with pytest.raises(RuntimeError, match="negative values for beta"):
        EF.smooth_l1_loss(x, x, beta=-1.0)
    with pytest.raises(RuntimeError, match="must match the size"):
        EF.mse_loss(ember.zeros(3, 4), ember.zeros(3, 5))
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        EF.kl_div(x, x, reduction="avg")
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        enn.L1Loss(reduction="bad")(x, x)
    with pytest.raises(RuntimeError, match="target"):
        EF.cosine_embedding_loss(x, x, ember.zeros(3, 1))


def test_empty_batch_mean_is_nan_like_torch():
    e = EF.cross_entropy(ember.zeros(0, 3), ember.zeros(0, dtype=ember.int64))
    t = torch.nn.functional.cross_entropy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.int64))
    assert np.isnan(e.item()) and np.isnan(t.item())
    assert EF.cross_entropy(ember.zeros(0, 3), ember.zeros(0, dtype=ember.int64), reduction="sum").item() == 0


def test_loss_module_buffers_and_repr():
    m = enn.CrossEntropyLoss(weight=ember.ones(3), label_smoothing=0.1)
    assert "weight" in dict(m.named_buffers())
    assert m.ignore_index == -100 and m.reduction == "mean"
    b = enn.BCEWithLogitsLoss(pos_weight=ember.ones(3))
    assert set(dict(b.named_buffers())) == {"pos_weight"}
