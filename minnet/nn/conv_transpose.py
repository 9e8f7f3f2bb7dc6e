"""The transposed convolution layer: learned upsampling (autoencoders, GANs, U-Nets)."""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ..ops.conv import as_pair
from ..ops.conv_transpose import conv_transpose2d
from ..random import get_generator
from ..tensor import DEFAULT_DTYPE, Tensor
from . import init
from .linear import check_device
from .module import Module, Parameter


class ConvTranspose2d(Module):
    """``F.conv_transpose2d`` with a learned weight (in_channels, out_channels / groups, kh,
    kw) and bias (out_channels,), PyTorch's layout and initialisation.

    Shapes: (N, in_channels, H, W) -> (N, out_channels, OH, OW) with OH = (H - 1) * stride
    - 2 * padding + dilation * (kh - 1) + output_padding + 1: with kernel_size = stride
    = 2 and no padding, each pixel becomes a 2 x 2 block (the size doubles).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", device=None, dtype=None,
                 generator: Optional[np.random.Generator] = None):
        super().__init__()
        check_device(device, "ConvTranspose2d")
        if padding_mode != "zeros":
            raise ValueError(f"ConvTranspose2d(): only padding_mode='zeros' is supported (as "
                             f"in PyTorch), got {padding_mode!r}")
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                            ("groups", groups)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"ConvTranspose2d(): {name} must be a positive int, got "
                                 f"{value!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"ConvTranspose2d(): groups={groups} must divide in_channels "
                             f"({in_channels}) and out_channels ({out_channels})")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = as_pair(kernel_size, "kernel_size", "ConvTranspose2d")
        self.stride = as_pair(stride, "stride", "ConvTranspose2d")
        self.padding = as_pair(padding, "padding", "ConvTranspose2d")
        self.output_padding = as_pair(output_padding, "output_padding", "ConvTranspose2d")
        self.dilation = as_pair(dilation, "dilation", "ConvTranspose2d")
        self.padding_mode = padding_mode
        dtype = np.dtype(dtype or DEFAULT_DTYPE)
        self.weight = Parameter(np.empty((in_channels, out_channels // groups)
                                         + self.kernel_size, dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: Optional[np.random.Generator] = None) -> None:
        """PyTorch's: kaiming_uniform_(a=sqrt(5)) and U(+-1/sqrt(fan_in)), where fan_in =
        weight.shape[1] * kh * kw (= out_channels / groups * kh * kw here)."""
        rng = get_generator(generator)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=rng)
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            init.uniform_(self.bias, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in),
                          generator=rng)

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        output_padding = self.output_padding
        if output_size is not None:   # the padding that reaches the size asked for
            wanted = tuple(output_size)[-2:]
            smallest = [(size - 1) * s - 2 * p + d * (k - 1) + 1 for size, s, p, d, k in zip(
                input.shape[-2:], self.stride, self.padding, self.dilation, self.kernel_size)]
            output_padding = tuple(w - m for w, m in zip(wanted, smallest))
        return conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding,
                                output_padding, self.groups, self.dilation)

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if any(self.padding):
            text += f", padding={self.padding}"
        if any(self.output_padding):
            text += f", output_padding={self.output_padding}"
        if any(d != 1 for d in self.dilation):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text
