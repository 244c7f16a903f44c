"""Convolutions for ember.nn.functional: conv1d, conv2d, conv_transpose2d, unfold, fold
(torch.nn.functional's names, argument names and defaults; kernels in cpp/src/ops/conv.cpp)."""
from ... import _C

__all__ = ["conv1d", "conv2d", "conv_transpose2d", "fold", "unfold"]


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution. Shape: input (N, C, L) or (C, L), weight (O, C/groups, K)."""
    return _C.conv1d(input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, like torch).

    Args:
        padding: int, pair, 'valid' (no padding) or 'same' (output size = input size; stride 1
            only; an odd total padding puts the extra row/column at the bottom/right).
    Shape: input (N, C, H, W) or (C, H, W), weight (O, C/groups, KH, KW) -> (N, O, OH, OW).
    """
    return _C.conv2d(input, weight, bias, stride, padding, dilation, groups)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Transposed 2-D convolution (the adjoint of conv2d).

    Shape: input (N, C_in, H, W), weight (C_in, C_out/groups, KH, KW) ->
    (N, C_out, (H-1)*stride - 2*padding + dilation*(KH-1) + output_padding + 1, ...).
    """
    return _C.conv_transpose2d(input, weight, bias, stride, padding, output_padding, groups,
                               dilation)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding blocks (im2col). Shape: (N, C, H, W) -> (N, C*KH*KW, L)."""
    return _C.unfold(input, kernel_size, dilation, padding, stride)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """The adjoint of unfold (col2im, overlaps summed). Shape: (N, C*KH*KW, L) -> (N, C, H, W)."""
    return _C.fold(input, output_size, kernel_size, dilation, padding, stride)
