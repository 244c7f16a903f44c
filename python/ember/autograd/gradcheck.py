"""Numerical gradient checking: float64 central differences against autograd's vector-Jacobian
product with a random vector (one backward per output instead of a full Jacobian)."""
import numpy as np

from .. import _C


class GradcheckError(RuntimeError):
    """Raised by gradcheck when analytical and numerical gradients disagree."""


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=0):
    """Check ``func``'s gradients at ``inputs``.

    Args:
        func: a function of tensors returning a tensor or a tuple of tensors.
        inputs: a tensor or tuple of tensors; float64 ones with ``requires_grad=True`` are checked.
        eps: finite-difference step.
        atol, rtol: tolerances for ``|analytical - numerical| <= atol + rtol * |numerical|``.
        raise_exception: raise GradcheckError on mismatch (else return False).

    Returns:
        True when every checked input's gradient matches.
    """
    from .. import no_grad, from_numpy
    from . import grad as autograd_grad

    inputs = _as_tuple(inputs)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, _C.Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck expects at least one input tensor to require gradient")
    for i in checked:
        if inputs[i].dtype != _C.dtype.float64:
            raise ValueError(f"gradcheck: input {i} is {inputs[i].dtype}; use float64 inputs for "
                             "finite differences")
    rng = np.random.default_rng(seed)
    outputs = _as_tuple(func(*inputs))
    outputs = [o for o in outputs if isinstance(o, _C.Tensor) and o.is_floating_point()]
    vs = [rng.standard_normal(o.shape) for o in outputs]

    # analytical: sum_k <v_k, d out_k / d x>
    diff_outs = [(o, v) for o, v in zip(outputs, vs) if o.requires_grad]
    if diff_outs:
        grads = autograd_grad([o for o, _ in diff_outs], [inputs[i] for i in checked],
                              [from_numpy(np.array(v, dtype=np.float64, order="C")).to(o.dtype)
                               for o, v in diff_outs],
                              allow_unused=True)
    else:
        grads = [None] * len(checked)

    def f_dot_v():
        with no_grad():
            outs = [o for o in _as_tuple(func(*inputs)) if isinstance(o, _C.Tensor) and o.is_floating_point()]
            return sum(float((o.detach().numpy().astype(np.float64) * v).sum()) for o, v in zip(outs, vs))

    ok = True
    for k, i in enumerate(checked):
        x = inputs[i].detach().numpy()  # zero-copy view: perturbing it perturbs the input
        numerical = np.zeros(x.shape)
        for idx in np.ndindex(*x.shape):
            orig = x[idx].copy()
            x[idx] = orig + eps
            fp = f_dot_v()
            x[idx] = orig - eps
            fm = f_dot_v()
            x[idx] = orig
            numerical[idx] = (fp - fm) / (2 * eps)
        analytical = np.zeros(x.shape) if grads[k] is None else grads[k].detach().numpy().astype(np.float64)
        if analytical.shape != numerical.shape or not np.allclose(analytical, numerical, atol=atol, rtol=rtol):
            ok = False
            if raise_exception:
                err = np.max(np.abs(analytical - numerical)) if analytical.shape == numerical.shape else "shape"
                raise GradcheckError(
                    f"gradcheck: Jacobian mismatch for input {i} (max abs error {err}).\n"
                    f"numerical:\n{numerical}\nanalytical:\n{analytical}")
    return ok
