"""The convolution layers (``torch.nn.Conv2d`` and ``Conv1d``)."""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ..ops.conv import _channels, _single, as_pair, conv1d, conv2d
from ..ops.shape import pad
from ..random import get_generator
from ..tensor import DEFAULT_DTYPE, Tensor
from . import init
from .linear import where_called
from .module import Module, Parameter

_PADDING_MODES = {"zeros", "reflect", "replicate", "circular"}


class Conv2d(Module):
    """Slides ``out_channels`` learned filters of shape (in_channels, kh, kw) over an image.

    Shapes: input (N, in_channels, H, W) or (in_channels, H, W) -> output
    (N, out_channels, OH, OW), OH = (H + 2*padding_h - kh) // stride_h + 1; ``weight``
    (out_channels, in_channels, kh, kw), ``bias`` (out_channels,), PyTorch's layout.
    Initialisation is PyTorch's, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in =
    in_channels * kh * kw: the output's variance stays near 1/3 of the input's whatever
    the kernel size (deep ReLU stacks: ``init.kaiming_normal_``). ``dilation`` and
    ``groups`` are ``F.conv2d``'s (with groups the weight is (out, in / groups, kh, kw));
    ``padding_mode`` 'reflect', 'replicate' or 'circular' pads with ``F.pad`` first.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 dtype=None, generator: Optional[np.random.Generator] = None):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Conv2d(): {name} must be a positive integer, got {value!r}")
        if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1 \
                or in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d(): groups must be a positive int that divides both "
                             f"in_channels ({in_channels}) and out_channels ({out_channels}), "
                             f"got groups={groups!r}")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"Conv2d(): padding_mode must be one of {sorted(_PADDING_MODES)}, "
                             f"got {padding_mode!r}")
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = as_pair(kernel_size, "kernel_size", "Conv2d")
        if min(self.kernel_size) < 1:
            raise ValueError(f"Conv2d({in_channels}, {out_channels}, kernel_size={kernel_size!r}): "
                             f"kernel_size must be positive, got {self.kernel_size}. Hint: the "
                             f"third argument is the filter's size, e.g. 3 for 3x3 filters.")
        self.stride = as_pair(stride, "stride", "Conv2d")
        if min(self.stride) < 1:
            raise ValueError(f"Conv2d(): stride must be positive, got {self.stride}")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Conv2d(): padding must be an int, a pair of ints, 'same' "
                                 f"or 'valid', got {padding!r}")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(f"Conv2d(): padding='same' is not supported for strided "
                                 f"convolutions (stride={self.stride}), as in PyTorch. "
                                 f"Hint: use stride=1, or an integer padding.")
            self.padding = padding
        else:
            self.padding = as_pair(padding, "padding", "Conv2d")
        self.dilation = as_pair(dilation, "dilation", "Conv2d")
        if min(self.dilation) < 1:
            raise ValueError(f"Conv2d(): dilation must be positive, got {self.dilation}")
        self.groups = int(groups)
        self.padding_mode = padding_mode
        dtype = np.dtype(dtype or DEFAULT_DTYPE)
        # each filter sees in_channels / groups channels (PyTorch's weight layout)
        self.weight = Parameter(np.empty((self.out_channels, self.in_channels // self.groups)
                                         + self.kernel_size, dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty(self.out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: Optional[np.random.Generator] = None) -> None:
        """Draw weight and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (see class doc)."""
        rng = get_generator(generator)
        # a=sqrt(5): gain sqrt(2 / (1 + 5)) = sqrt(1/3), bound sqrt(3) * gain / sqrt(fan_in)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=rng)
        if self.bias is not None:
            fan_in = self.in_channels // self.groups * self.kernel_size[0] * self.kernel_size[1]
            bound = 1 / math.sqrt(fan_in)
            init.uniform_(self.bias, -bound, bound, generator=rng)

    def forward(self, input: Tensor) -> Tensor:
        self._check_input(input)
        if self.padding_mode == "zeros":
            return conv2d(input, self.weight, self.bias, self.stride, self.padding,
                          self.dilation, self.groups)
        # other modes: pad the input by that rule first, then convolve without padding
        return conv2d(pad(input, self._padding_per_side(), mode=self.padding_mode),
                      self.weight, self.bias, self.stride, 0, self.dilation, self.groups)

    def _padding_per_side(self) -> tuple:
        """F.pad's (left, right, top, bottom) for this layer's padding (as PyTorch's
        _reversed_padding_repeated_twice): 'same' splits dilation*(k - 1) per axis, the
        odd one after."""
        if self.padding == "valid":
            return (0, 0, 0, 0)
        if self.padding == "same":
            sides = []
            for kernel, dilation in zip(reversed(self.kernel_size), reversed(self.dilation)):
                total = dilation * (kernel - 1)
                sides += [total // 2, total - total // 2]
            return tuple(sides)
        pad_h, pad_w = self.padding
        return (pad_w, pad_w, pad_h, pad_h)

    def _check_input(self, input) -> None:
        if isinstance(input, Tensor) and input.ndim in (3, 4) \
                and input.shape[-3] == self.in_channels:
            return  # the common case: no message to build
        where = f"{self._describe()}{where_called()}"
        if not isinstance(input, Tensor):
            raise TypeError(f"{where} expected a Tensor input, got {type(input).__name__}. "
                            f"Hint: wrap data with minnet.tensor(...).")
        expected = f"(N, {self.in_channels}, H, W)"
        if input.ndim not in (3, 4):
            if input.ndim == 2:
                hint = ("this looks like a batch of flat vectors; reshape it to images, "
                        "e.g. x.reshape(N, C, H, W)")
            else:
                hint = "images must be NCHW (or CHW for a single image)"
            raise ValueError(f"{where} expected input of shape {expected} or "
                             f"({self.in_channels}, H, W), got shape {input.shape}. "
                             f"Hint: {hint}.")
        channels = input.shape[-3]
        if channels != self.in_channels:
            if input.shape[-1] == self.in_channels:
                hint = ("the last axis has the expected channel count: the images look "
                        "channels-last (NHWC); use x.permute(0, 3, 1, 2)")
            else:
                hint = (f"in_channels must equal the input's channel axis (dim -3); use "
                        f"Conv2d({channels}, ...) or fix the layer before")
            raise ValueError(f"{where} expected input of shape {expected} with "
                             f"{_channels(self.in_channels)}, got {_channels(channels)} "
                             f"(input shape {input.shape}). Hint: {hint}.")

    def _describe(self) -> str:
        return (f"Conv2d({self.in_channels}, {self.out_channels}, "
                f"kernel_size={self.kernel_size})")

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class Conv1d(Module):
    """Slides ``out_channels`` learned filters of shape (in_channels / groups, k) along a
    sequence: (N, in_channels, L) or (in_channels, L) -> (N, out_channels, OL).

    ``torch.nn.Conv1d``'s arguments, layout and initialisation (U(-1/sqrt(fan_in),
    1/sqrt(fan_in)), fan_in = in_channels / groups * k). It is ``Conv2d`` on a sequence
    seen as an image one row high (``F.conv1d``).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None, generator: Optional[np.random.Generator] = None):
        super().__init__()
        from ..utils.device import check_device
        check_device(device, "Conv1d")
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Conv1d(): {name} must be a positive integer, got {value!r}")
        if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1 \
                or in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv1d(): groups must be a positive int that divides both "
                             f"in_channels ({in_channels}) and out_channels ({out_channels}), "
                             f"got groups={groups!r}")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"Conv1d(): padding_mode must be one of {sorted(_PADDING_MODES)}, "
                             f"got {padding_mode!r}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = (_single(kernel_size, "kernel_size", "Conv1d"),)
        self.stride = (_single(stride, "stride", "Conv1d"),)
        self.dilation = (_single(dilation, "dilation", "Conv1d"),)
        if min(self.kernel_size + self.stride + self.dilation) < 1:
            raise ValueError(f"Conv1d(): kernel_size, stride and dilation must be positive, "
                             f"got {self.kernel_size}, {self.stride}, {self.dilation}")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Conv1d(): padding must be an int, 'same' or 'valid', "
                                 f"got {padding!r}")
            if padding == "same" and self.stride != (1,):
                raise ValueError(f"Conv1d(): padding='same' is not supported for strided "
                                 f"convolutions (stride={self.stride}), as in PyTorch")
            self.padding = padding
        else:
            self.padding = (_single(padding, "padding", "Conv1d"),)
        self.groups = int(groups)
        self.padding_mode = padding_mode
        dtype = np.dtype(dtype or DEFAULT_DTYPE)
        self.weight = Parameter(np.empty((self.out_channels, self.in_channels // self.groups)
                                         + self.kernel_size, dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty(self.out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: Optional[np.random.Generator] = None) -> None:
        """Draw weight and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as Conv2d."""
        rng = get_generator(generator)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=rng)
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_channels // self.groups * self.kernel_size[0])
            init.uniform_(self.bias, -bound, bound, generator=rng)

    def forward(self, input: Tensor) -> Tensor:
        if not isinstance(input, Tensor) or input.ndim not in (2, 3) \
                or input.shape[-2] != self.in_channels:
            raise ValueError(f"{self._describe()}{where_called()} expected input of shape "
                             f"(N, {self.in_channels}, L) or ({self.in_channels}, L), got "
                             f"{getattr(input, 'shape', type(input).__name__)}. Hint: "
                             f"sequences are channels-first; (N, L, C) data needs "
                             f"x.transpose(1, 2).")
        padding = self.padding if isinstance(self.padding, str) else self.padding[0]
        if self.padding_mode != "zeros":
            if self.padding == "same":
                total = self.dilation[0] * (self.kernel_size[0] - 1)
                sides = (total // 2, total - total // 2)
            else:
                sides = (0, 0) if self.padding == "valid" else (padding, padding)
            input, padding = pad(input, sides, mode=self.padding_mode), 0
        return conv1d(input, self.weight, self.bias, self.stride, padding, self.dilation,
                      self.groups)

    def _describe(self) -> str:
        return (f"Conv1d({self.in_channels}, {self.out_channels}, "
                f"kernel_size={self.kernel_size})")

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0,):
            text += f", padding={self.padding}"
        if self.dilation != (1,):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text
