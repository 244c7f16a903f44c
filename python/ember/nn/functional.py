"""ember.nn.functional: stateless layers, activations and losses (torch.nn.functional's names
and defaults). Kernels live in C++; composites here are thin."""
import math

from .. import _C

Tensor = _C.Tensor


# --- activations ------------------------------------------------------------------------------
def relu(input, inplace=False):
    return input.relu_() if inplace else _C.relu(input)


def relu_(input):
    return input.relu_()


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    # NOTE: torch's hardtanh passes the gradient only strictly inside (min_val, max_val), unlike
    # clamp (inclusive): its own op.
    out = _C._hardtanh(input, float(min_val), float(max_val))
    return input.copy_(out) if inplace else out


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    out = _C._leaky_relu(input, negative_slope)
    return input.copy_(out) if inplace else out


def elu(input, alpha=1.0, inplace=False):
    out = _C._elu(input, float(alpha), 1.0, 1.0)
    return input.copy_(out) if inplace else out


def selu(input, inplace=False):
    alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    out = _C._elu(input, alpha, scale, 1.0)
    return input.copy_(out) if inplace else out


def celu(input, alpha=1.0, inplace=False):
    out = _C._elu(input, float(alpha), 1.0, 1.0 / float(alpha))
    return input.copy_(out) if inplace else out


def gelu(input, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _C._gelu(input, approximate == "tanh")


def silu(input, inplace=False):
    out = _C._silu(input)
    return input.copy_(out) if inplace else out


def softplus(input, beta=1.0, threshold=20.0):
    if beta == 1.0 and threshold == 20.0:
        return _C._softplus(input)
    scaled = input * beta
    return _C.where(scaled > threshold, input, _C.log1p(_C.exp(scaled)) / beta)


def mish(input, inplace=False):
    out = input * _C.tanh(softplus(input))
    return input.copy_(out) if inplace else out


def hardsigmoid(input, inplace=False):
    # torch: min(max(x + 3, 0), 6) / 6; gradient 1/6 strictly inside (-3, 3)
    out = _C._hardsigmoid(input)
    return input.copy_(out) if inplace else out


def hardswish(input, inplace=False):
    # torch: x * relu6(x + 3) / 6; gradient 0 up to -3, x / 3 + 1/2 inside, 1 from 3
    out = _C._hardswish(input)
    return input.copy_(out) if inplace else out


def sigmoid(input):
    return _C.sigmoid(input)


def tanh(input):
    return _C.tanh(input)


def logsigmoid(input):
    return _C._log_sigmoid(input)  # torch's min(x, 0) - log1p(exp(-|x|))


def softsign(input):
    return input / (_C.abs(input) + 1)


def tanhshrink(input):
    return input - _C.tanh(input)


def hardshrink(input, lambd=0.5):
    """x where |x| > lambd, else 0."""
    return _C.where(_C.abs(input) > lambd, input, 0.0)


def softshrink(input, lambd=0.5):
    """x - lambd above lambd, x + lambd below -lambd, else 0."""
    if lambd < 0:
        raise RuntimeError(f"softshrink: lambda must be greater or equal to 0, but found to be {lambd}.")
    return _C.where(input > lambd, input - lambd, _C.where(input < -lambd, input + lambd, 0.0))


def glu(input, dim=-1):
    """Gated linear unit: a * sigmoid(b), a and b the two halves of input along dim."""
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    n = input.shape[dim]
    if n % 2:
        raise RuntimeError(f"glu: Halving dimension must be even, but dimension {dim % input.dim()} is size {n}")
    a, b = input.narrow(dim, 0, n // 2), input.narrow(dim, n // 2, n // 2)
    return a * _C.sigmoid(b)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """Root-mean-square normalisation over the trailing normalized_shape dims: x / sqrt(mean(x^2) +
    eps) (eps None: the dtype's machine epsilon), times weight."""
    if isinstance(normalized_shape, int):
        normalized_shape = [normalized_shape]
    shape = [int(s) for s in normalized_shape]
    k = len(shape)
    if k == 0 or list(input.shape[input.dim() - k:]) != shape or input.dim() < k:
        raise RuntimeError(f"rms_norm: expected input with shape [*, {', '.join(map(str, shape))}], but got "
                           f"input of size {list(input.shape)}")
    if eps is None:
        eps = 1.1920928955078125e-07 if input.dtype == _C.dtype.float32 else 2.220446049250313e-16
    dims = list(range(input.dim() - k, input.dim()))
    y = input * _C.rsqrt((input * input).mean(dims, True) + eps)
    return y * weight if weight is not None else y


def threshold(input, threshold, value, inplace=False):
    out = _C.where(input > threshold, input, _C.full_like(input, value))
    return input.copy_(out) if inplace else out


def prelu(input, weight):
    if weight.dim() != 1 and weight.numel() != 1:
        raise ValueError("prelu: weight must be 1-D")
    if weight.numel() != 1:
        if input.dim() < 2 or input.shape[1] != weight.numel():
            raise ValueError(f"prelu: the number of weights ({weight.numel()}) does not match the number "
                             f"of channels ({input.shape[1] if input.dim() > 1 else 1})")
        w = weight.reshape((1, -1) + (1,) * (input.dim() - 2))
    else:
        w = weight.reshape(())
    return _C.where(input > 0, input, input * w)


def _softmax_dim(ndim):
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim(input.dim())
    return _C.softmax(input, dim, dtype=dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim(input.dim())
    return _C.log_softmax(input, dim, dtype=dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    return softmax(-input, dim, dtype=dtype)


# --- linear -----------------------------------------------------------------------------------
def linear(input, weight, bias=None):
    return _C.linear(input, weight, bias)


def bilinear(input1, input2, weight, bias=None):
    # y_k = x1^T W_k x2 + b_k ; x1 (N, in1), x2 (N, in2), W (out, in1, in2)
    if weight.dim() != 3:
        raise ValueError(f"bilinear: weight must be 3-D (out, in1, in2), got {tuple(weight.shape)}")
    if input1.shape[-1] != weight.shape[1] or input2.shape[-1] != weight.shape[2]:
        raise ValueError(f"bilinear: input sizes {input1.shape[-1]}, {input2.shape[-1]} do not match "
                         f"weight {tuple(weight.shape)}")
    lead = tuple(input1.shape[:-1])
    x1 = input1.reshape(-1, input1.shape[-1])
    x2 = input2.reshape(-1, input2.shape[-1])
    t = _C.matmul(x1, weight.permute(1, 0, 2).reshape(weight.shape[1], -1))  # (N, out*in2)
    t = t.reshape(x1.shape[0], weight.shape[0], weight.shape[2])
    y = (t * x2.unsqueeze(1)).sum(-1)
    if bias is not None:
        y = y + bias
    return y.reshape(lead + (weight.shape[0],))


# --- dropout ----------------------------------------------------------------------------------
def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def dropout(input, p=0.5, training=True, inplace=False):
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        out = input * 0
    elif input.is_floating_point():
        out = _C._dropout(input, p)  # (input * keep) / (1 - p), keep = rand(...) >= p, fused
    else:
        out = input * (_C.rand(*input.shape) >= p) / (1.0 - p)
    return input.copy_(out) if inplace else out


def dropout2d(input, p=0.5, training=True, inplace=False):
    _check_p(p)
    if input.dim() not in (3, 4):
        raise ValueError(f"dropout2d: expected a 3-D or 4-D input, got {input.dim()}-D")
    if not training or p == 0.0:
        return input
    shape = tuple(input.shape[:-2]) + (1, 1)
    keep = _C.rand(*shape, dtype=input.dtype) >= p
    # torch's form: input * (keep / (1 - p)), the scale made on the (N, C, 1, 1) mask, so the
    # full-size work is one product (and one in the gradient)
    out = input * (keep.to(input.dtype) / (1.0 - p)) if p < 1.0 else input * 0
    return input.copy_(out) if inplace else out


# --- misc -------------------------------------------------------------------------------------
def one_hot(tensor, num_classes=-1):
    if tensor.dtype != _C.dtype.int64:
        raise TypeError(f"one_hot is only applicable to index tensor of type int64, got {tensor.dtype}")
    if num_classes == -1:
        num_classes = int(tensor.max().item()) + 1 if tensor.numel() else 0
    if tensor.numel() and (int(tensor.min().item()) < 0 or int(tensor.max().item()) >= num_classes):
        raise RuntimeError(f"one_hot: class values must be in [0, {num_classes}), got values in "
                           f"[{int(tensor.min().item())}, {int(tensor.max().item())}]")
    classes = _C.arange(num_classes)
    return (tensor.unsqueeze(-1) == classes).long()


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    denom = input.norm(p, dim, keepdim=True).clamp(min=eps).expand_as(input)
    return input / denom


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    # torch >= 2.0: each norm is clamped at eps separately, under no_grad (the clamp passes the
    # norm's gradient unchanged): sum(x1 / max(|x1|, eps) * x2 / max(|x2|, eps)).
    from ._F.loss import _broadcast

    x1, x2 = _broadcast(x1, x2)
    n1 = x1.norm(2, dim, keepdim=True)
    n2 = x2.norm(2, dim, keepdim=True)
    n1 = n1 + (_C.clamp(n1, min=eps) - n1).detach()
    n2 = n2 + (_C.clamp(n2, min=eps) - n2).detach()
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    return (x1 - x2 + eps).norm(p, -1, keepdim=keepdim)


def pad(input, pad, mode="constant", value=None):
    if mode == "constant":
        return _C.constant_pad(input, list(pad), 0.0 if value is None else value)
    if value is not None and mode in ("reflect", "replicate", "circular"):
        raise RuntimeError(f'pad: padding mode "{mode}" doesn\'t take in value argument')
    return _C.mode_pad(input, list(pad), mode)


def pixel_shuffle(input, upscale_factor):
    """(*, C r^2, H, W) -> (*, C, H r, W r): torch's view, permute and reshape (one copy)."""
    r = int(upscale_factor)
    if input.dim() < 3:
        raise RuntimeError("pixel_shuffle expects input to have at least 3 dimensions, but got "
                           f"input with {input.dim()} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    *b, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError("pixel_shuffle expects its input's 'channel' dimension to be divisible "
                           f"by the square of upscale_factor, but input.size(-3)={c} is not "
                           f"divisible by {r * r}")
    n = len(b)
    x = input.reshape(*b, c // (r * r), r, r, h, w).permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return x.reshape(*b, c // (r * r), h * r, w * r)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H r, W r) -> (*, C r^2, H, W), pixel_shuffle's inverse."""
    r = int(downscale_factor)
    if input.dim() < 3:
        raise RuntimeError("pixel_unshuffle expects input to have at least 3 dimensions, but got "
                           f"input with {input.dim()} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    *b, c, h, w = input.shape
    for name, size, d in (("height", h, -2), ("width", w, -1)):
        if size % r:
            raise RuntimeError(f"pixel_unshuffle expects {name} to be divisible by downscale_factor, "
                               f"but input.size({d})={size} is not divisible by {r}")
    n = len(b)
    x = input.reshape(*b, c, h // r, r, w // r, r).permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return x.reshape(*b, c * r * r, h // r, w // r)


del math
from ._F.conv import *  # noqa: F401,F403,E402
from ._F.loss import *  # noqa: F401,F403,E402
from ._F.poolnorm import *  # noqa: F401,F403,E402
