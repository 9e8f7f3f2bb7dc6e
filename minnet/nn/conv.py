"""The convolution layers (``torch.nn.Conv2d`` and ``Conv1d``)."""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ..ops.conv import _channels, _check_dilation, _single, as_pair, conv1d, conv2d
from ..ops.shape import pad
from ..random import get_generator
from ..tensor import DEFAULT_DTYPE, Tensor
from . import init
from .linear import where_called
from .module import Module, Parameter

_PADDING_MODES = {"zeros", "reflect", "replicate", "circular"}


def _check_channels(layer: str, in_channels, out_channels, groups, padding_mode) -> None:
    """The constructor checks Conv1d and Conv2d share."""
    for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{layer}(): {name} must be a positive integer, got {value!r}")
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1 \
            or in_channels % groups or out_channels % groups:
        raise ValueError(f"{layer}(): groups must be a positive int that divides both "
                         f"in_channels ({in_channels}) and out_channels ({out_channels}), "
                         f"got groups={groups!r}. Hint: groups=1 is the usual convolution, "
                         f"groups=in_channels a depthwise one.")
    if padding_mode not in _PADDING_MODES:
        raise ValueError(f"{layer}(): padding_mode must be one of {sorted(_PADDING_MODES)}, "
                         f"got {padding_mode!r}")


def _pad_sides(padding, kernel_size: tuple, dilation: tuple) -> tuple:
    """F.pad's (before, after) pairs, last axis first, for a layer's padding (PyTorch's
    _reversed_padding_repeated_twice). 'same' pads dilation*(k - 1) in all, the odd one
    after; used by the padding modes other than 'zeros', which pad before convolving."""
    sides = []
    for axis in reversed(range(len(kernel_size))):
        if padding == "valid":
            before = after = 0
        elif padding == "same":
            total = dilation[axis] * (kernel_size[axis] - 1)
            before, after = total // 2, total - total // 2
        else:
            before = after = padding[axis]
        sides += [before, after]
    return tuple(sides)


def _padding_word(layer: str, padding: str, stride: tuple, numbers: str) -> str:
    """A padding given as a word, checked: 'valid' (none) or 'same' (stride 1 only)."""
    if padding not in ("same", "valid"):
        raise ValueError(f"{layer}(): padding must be {numbers}, 'same' or 'valid', "
                         f"got {padding!r}")
    if padding == "same" and any(step != 1 for step in stride):
        raise ValueError(f"{layer}(): padding='same' is not supported for strided "
                         f"convolutions (stride={stride}), as in PyTorch. "
                         f"Hint: use stride=1, or an integer padding.")
    return padding


def _add_parameters(layer, bias: bool, dtype) -> None:
    """weight (out_channels, in_channels / groups, *kernel_size) and bias (out_channels,):
    each filter sees in_channels / groups channels (PyTorch's layout)."""
    dtype = np.dtype(dtype or DEFAULT_DTYPE)
    layer.weight = Parameter(np.empty((layer.out_channels, layer.in_channels // layer.groups)
                                      + layer.kernel_size, dtype=dtype))
    if bias:
        layer.bias = Parameter(np.empty(layer.out_channels, dtype=dtype))
    else:
        layer.register_parameter("bias", None)


def _reset_parameters(layer, generator: Optional[np.random.Generator]) -> None:
    """PyTorch's initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias."""
    rng = get_generator(generator)
    # a=sqrt(5): gain sqrt(2 / (1 + 5)) = sqrt(1/3), bound sqrt(3) * gain / sqrt(fan_in)
    init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=rng)
    if layer.bias is not None:
        fan_in = layer.in_channels // layer.groups * math.prod(layer.kernel_size)
        bound = 1 / math.sqrt(fan_in)
        init.uniform_(layer.bias, -bound, bound, generator=rng)


class Conv2d(Module):
    """Slides ``out_channels`` learned filters of shape (in_channels, kh, kw) over an image.

    Shapes: input (N, in_channels, H, W) or (in_channels, H, W) -> output
    (N, out_channels, OH, OW), OH = (H + 2*padding_h - dilation_h*(kh - 1) - 1) //
    stride_h + 1; ``weight`` (out_channels, in_channels / groups, kh, kw), ``bias``
    (out_channels,), PyTorch's layout. Initialisation is PyTorch's, U(-1/sqrt(fan_in),
    1/sqrt(fan_in)) with fan_in = in_channels / groups * kh * kw: the output's variance
    stays near 1/3 of the input's whatever the kernel size (deep ReLU stacks:
    ``init.kaiming_normal_``). ``dilation`` and ``groups`` are ``F.conv2d``'s;
    ``padding_mode`` 'reflect', 'replicate' or 'circular' pads with ``F.pad`` first.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None, generator: Optional[np.random.Generator] = None):
        super().__init__()
        from ..utils.device import check_device
        check_device(device, "Conv2d")
        _check_channels("Conv2d", in_channels, out_channels, groups, padding_mode)
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
            self.padding = _padding_word("Conv2d", padding, self.stride,
                                         "an int, a pair of ints")
        else:
            self.padding = as_pair(padding, "padding", "Conv2d")
        self.dilation = _check_dilation(dilation, "Conv2d")
        self.groups = int(groups)
        self.padding_mode = padding_mode
        _add_parameters(self, bias, dtype)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: Optional[np.random.Generator] = None) -> None:
        """Draw weight and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (see class doc)."""
        _reset_parameters(self, generator)

    def forward(self, input: Tensor) -> Tensor:
        self._check_input(input)
        if self.padding_mode == "zeros":
            return conv2d(input, self.weight, self.bias, self.stride, self.padding,
                          self.dilation, self.groups)
        # other modes: pad the input by that rule first, then convolve without padding
        sides = _pad_sides(self.padding, self.kernel_size, self.dilation)
        return conv2d(pad(input, sides, mode=self.padding_mode), self.weight, self.bias,
                      self.stride, 0, self.dilation, self.groups)

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
        return _conv_extra_repr(self)


class Conv1d(Module):
    """Slides ``out_channels`` learned filters of shape (in_channels / groups, k) along a
    sequence: (N, in_channels, L) or (in_channels, L) -> (N, out_channels, OL), OL =
    (L + 2*padding - dilation*(k - 1) - 1) // stride + 1.

    ``torch.nn.Conv1d``'s arguments, layout (weight (out_channels, in_channels / groups, k))
    and initialisation (as ``Conv2d``, fan_in = in_channels / groups * k). ``F.conv1d``
    runs it as ``Conv2d``'s op on a sequence seen as an image one row high.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None, generator: Optional[np.random.Generator] = None):
        super().__init__()
        from ..utils.device import check_device
        check_device(device, "Conv1d")
        _check_channels("Conv1d", in_channels, out_channels, groups, padding_mode)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        # PyTorch keeps the 1-D layer's sizes as 1-tuples
        self.kernel_size = (_single(kernel_size, "kernel_size", "Conv1d", minimum=1),)
        self.stride = (_single(stride, "stride", "Conv1d", minimum=1),)
        self.dilation = (_single(dilation, "dilation", "Conv1d", minimum=1),)
        if isinstance(padding, str):
            self.padding = _padding_word("Conv1d", padding, self.stride, "an int")
        else:
            self.padding = (_single(padding, "padding", "Conv1d"),)
        self.groups = int(groups)
        self.padding_mode = padding_mode
        _add_parameters(self, bias, dtype)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: Optional[np.random.Generator] = None) -> None:
        """Draw weight and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as Conv2d."""
        _reset_parameters(self, generator)

    def forward(self, input: Tensor) -> Tensor:
        self._check_input(input)
        padding = self.padding if isinstance(self.padding, str) else self.padding[0]
        if self.padding_mode != "zeros":  # pad by that rule first, then convolve unpadded
            sides = _pad_sides(self.padding, self.kernel_size, self.dilation)
            input, padding = pad(input, sides, mode=self.padding_mode), 0
        return conv1d(input, self.weight, self.bias, self.stride, padding, self.dilation,
                      self.groups)

    def _check_input(self, input) -> None:
        if isinstance(input, Tensor) and input.ndim in (2, 3) \
                and input.shape[-2] == self.in_channels:
            return  # the common case: no message to build
        where = f"{self._describe()}{where_called()}"
        if not isinstance(input, Tensor):
            raise TypeError(f"{where} expected a Tensor input, got {type(input).__name__}. "
                            f"Hint: wrap data with minnet.tensor(...).")
        expected = f"(N, {self.in_channels}, L) or ({self.in_channels}, L)"
        if input.ndim not in (2, 3):
            hint = ("images (N, C, H, W) need Conv2d" if input.ndim == 4
                    else "sequences are (N, C, L), channels before length")
            raise ValueError(f"{where} expected input of shape {expected}, got shape "
                             f"{input.shape}. Hint: {hint}.")
        channels = input.shape[-2]
        if input.shape[-1] == self.in_channels:
            hint = ("the last axis has the expected channel count: the sequences look "
                    "channels-last (N, L, C); use x.transpose(-1, -2)")
        else:
            hint = (f"in_channels must equal the input's channel axis (dim -2); use "
                    f"Conv1d({channels}, ...) or fix the layer before")
        raise ValueError(f"{where} expected input of shape {expected} with "
                         f"{_channels(self.in_channels)}, got {_channels(channels)} "
                         f"(input shape {input.shape}). Hint: {hint}.")

    def _describe(self) -> str:
        return (f"Conv1d({self.in_channels}, {self.out_channels}, "
                f"kernel_size={self.kernel_size})")

    def extra_repr(self) -> str:
        return _conv_extra_repr(self)


def _conv_extra_repr(layer) -> str:
    """Conv1d's and Conv2d's repr arguments: the non-default ones, as PyTorch prints them."""
    text = (f"{layer.in_channels}, {layer.out_channels}, kernel_size={layer.kernel_size}, "
            f"stride={layer.stride}")
    if any(layer.padding):
        text += f", padding={layer.padding}"
    if any(step != 1 for step in layer.dilation):
        text += f", dilation={layer.dilation}"
    if layer.groups != 1:
        text += f", groups={layer.groups}"
    if layer.bias is None:
        text += ", bias=False"
    if layer.padding_mode != "zeros":
        text += f", padding_mode={layer.padding_mode}"
    return text
