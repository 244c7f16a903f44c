"""F.scaled_dot_product_attention against PyTorch: no mask, bool and float masks, causal with a
custom scale (forward and the gradients of query, key and value), dropout, and errors."""
import ember
import ember.nn.functional as EF
import numpy as np
import pytest
from conftest import requires_torch, torch
from test_loss import check, pair

pytestmark = requires_torch


@pytest.mark.parametrize("mask", ["none", "bool", "float", "causal"])
def test_sdpa_vs_torch(mask):
    r = np.random.default_rng(7)
    q, k, v = (r.standard_normal(s).astype(np.float32) for s in [(2, 3, 4, 8), (2, 3, 6, 8), (2, 3, 6, 5)])
    (eq, tq), (ek, tk), (ev, tv) = pair(q), pair(k), pair(v)
    kw_e, kw_t = {}, {}
    if mask == "bool":
        m = r.uniform(size=(4, 6)) > 0.4
        m[:, 0] = True  # no fully-masked row
        kw_e["attn_mask"], kw_t["attn_mask"] = ember.from_numpy(m), torch.from_numpy(m)
    elif mask == "float":
        m = r.standard_normal((1, 3, 4, 6)).astype(np.float32)
        kw_e["attn_mask"], kw_t["attn_mask"] = ember.from_numpy(m), torch.from_numpy(m)
    elif mask == "causal":
        kw_e["is_causal"] = kw_t["is_causal"] = True
        kw_e["scale"] = kw_t["scale"] = 0.2
    check(EF.scaled_dot_product_attention(eq, ek, ev, **kw_e),
          torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, **kw_t), [eq, ek, ev], [tq, tk, tv])


def test_sdpa_errors():
    q = ember.ones(2, 3, 4)
    with pytest.raises(RuntimeError, match="is_causal"):
        EF.scaled_dot_product_attention(q, q, q, attn_mask=ember.ones(3, 3), is_causal=True)
    with pytest.raises(ValueError, match="dropout probability"):
        EF.scaled_dot_product_attention(q, q, q, dropout_p=1.5)


def test_sdpa_dropout_keeps_shape_and_scale():
    q = ember.ones(1, 64, 4)
    out = EF.scaled_dot_product_attention(q, q, ember.ones(1, 64, 4), dropout_p=0.5)
    vals = set(np.unique(np.round(out.numpy(), 5)).tolist())
    assert tuple(out.shape) == (1, 64, 4) and vals <= set(np.round(np.arange(0, 129) / 64 * 2, 5).tolist())
