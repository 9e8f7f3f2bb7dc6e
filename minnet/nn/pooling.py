"""Pooling layers (``torch.nn.MaxPool2d``, ``AvgPool2d``, ``AdaptiveAvgPool2d``, ``MaxPool1d``,
``AvgPool1d``): no parameters.

Pooling shrinks the image by summarising each window -- its maximum or its
mean -- so later layers see a wider area for the same cost. Arguments and
defaults are PyTorch's; ``stride`` defaults to ``kernel_size`` (windows that
do not overlap).
"""
from __future__ import annotations

from ..ops.conv import adaptive_avg_pool2d, avg_pool1d, avg_pool2d, max_pool1d, max_pool2d
from ..tensor import Tensor
from .linear import where_called
from .module import Module


def _check_pool_input(layer: Module, input, sequence: bool = False) -> None:
    """Shape errors that name the layer; ``sequence``: a 1-D layer's (N, C, L) input."""
    ndims = (2, 3) if sequence else (3, 4)
    if isinstance(input, Tensor) and input.ndim in ndims:
        return  # the common case: no message to build
    where = f"{type(layer).__name__}({layer.extra_repr()}){where_called()}"
    if not isinstance(input, Tensor):
        raise TypeError(f"{where} expected a Tensor input, got {type(input).__name__}. "
                        f"Hint: wrap data with minnet.tensor(...).")
    if sequence:
        twin = type(layer).__name__.replace("1d", "2d")
        raise ValueError(f"{where} expected input of shape (N, C, L) or (C, L), got shape "
                         f"{input.shape}. Hint: this layer pools along a sequence; images "
                         f"(N, C, H, W) need {twin}.")
    raise ValueError(f"{where} expected input of shape (N, C, H, W) or (C, H, W), got "
                     f"shape {input.shape}. Hint: pooling works on images; a flattened "
                     f"batch must be reshaped back to (N, C, H, W).")


class _MaxPool(Module):
    """MaxPool1d's and MaxPool2d's arguments (PyTorch's names and defaults) and repr."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, "
                f"ceil_mode={self.ceil_mode}")


class MaxPool2d(_MaxPool):
    """Maximum over each kernel_size window. (N, C, H, W) -> (N, C, OH, OW).

    The gradient flows only to the entry that was the maximum of its window.
    """

    def forward(self, input: Tensor):
        _check_pool_input(self, input)
        return max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                          self.ceil_mode, self.return_indices)


class AvgPool2d(Module):
    """Mean over each kernel_size window. (N, C, H, W) -> (N, C, OH, OW).

    Padding counts as zeros; ``count_include_pad=False`` divides by the number
    of real (unpadded) entries instead of the window size.
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        _check_pool_input(self, input)
        return avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Mean over bins sized so the output is ``output_size``: (N, C, H, W) -> (N, C, OH, OW).

    ``AdaptiveAvgPool2d(1)`` is global average pooling, (N, C, H, W) -> (N, C, 1, 1),
    whatever the image size: what lets a CNN take images of any size.
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        _check_pool_input(self, input)
        return adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class MaxPool1d(_MaxPool):
    """Maximum over each kernel_size window of a sequence. (N, C, L) -> (N, C, OL)."""

    def forward(self, input: Tensor):
        _check_pool_input(self, input, sequence=True)
        return max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                          self.ceil_mode, self.return_indices)


class AvgPool1d(Module):
    """Mean over each kernel_size window of a sequence. (N, C, L) -> (N, C, OL)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True):
        super().__init__()
        # PyTorch keeps the 1-D AvgPool's arguments as 1-tuples
        self.kernel_size = _one_tuple(kernel_size)
        self.stride = _one_tuple(stride if stride is not None else kernel_size)
        self.padding = _one_tuple(padding)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        _check_pool_input(self, input, sequence=True)
        return avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


def _one_tuple(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)
