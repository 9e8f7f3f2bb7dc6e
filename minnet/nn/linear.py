"""The fully connected layer: ``y = x @ W.T + b``."""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from .. import ops
from ..random import get_generator
from ..tensor import DEFAULT_DTYPE, Tensor, current_module
from . import init
from .module import Module, Parameter


def check_device(device, layer: str) -> None:
    """minnet runs on the CPU only; ``device`` exists so PyTorch code runs unchanged."""
    if device is not None and str(device) != "cpu":
        raise ValueError(f"{layer}(): minnet only runs on the CPU, got device={device!r}. "
                         f"Hint: drop the device argument (or .to('cuda') calls).")


def where_called() -> str:
    """' at model.0' when a layer runs inside a model, '' when it runs on its own.

    ``current_module()`` reads e.g. "model.0 (Linear)": the path is the part
    before the class name; a lone layer is the root "model", which says nothing.
    """
    record = current_module()
    if not record:
        return ""
    path = record.split(" (")[0]
    return "" if path == "model" else f" at {path}"


class Linear(Module):
    """Applies ``y = x @ weight.T + bias``.

    Shapes: input (..., in_features) -> output (..., out_features); weight
    (out_features, in_features), bias (out_features,): PyTorch's layout, so its state
    dicts load unchanged. Initialisation is PyTorch's, U(-1/sqrt(in_features),
    1/sqrt(in_features)) for both: unit-variance inputs give outputs of variance about
    1/3, so tanh/sigmoid do not saturate at the start and the signal does not die after
    a few layers (deep ReLU nets: ``init.kaiming_normal_(w, nonlinearity='relu')``).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None, generator: Optional[np.random.Generator] = None):
        super().__init__()
        check_device(device, "Linear")
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"Linear(): {name} must be a non-negative integer, got {value!r}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        dtype = np.dtype(dtype or DEFAULT_DTYPE)
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty(self.out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: Optional[np.random.Generator] = None) -> None:
        rng = get_generator(generator)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=rng)
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound, generator=rng)

    def forward(self, input: Tensor) -> Tensor:
        if not isinstance(input, Tensor):
            raise TypeError(f"{self._describe()}{where_called()} expected a Tensor input, got "
                            f"{type(input).__name__}. Hint: wrap data with minnet.tensor(...).")
        x = input._data
        if x.dtype.kind != "f":
            raise TypeError(f"{self._describe()}{where_called()} expected a floating-point input, "
                            f"got dtype {x.dtype}. Hint: convert with x.float() (features "
                            f"must be floats; integer labels belong in the loss, not the model).")
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(self._shape_error(x.shape))
        return ops.linear(input, self.weight, self.bias)

    def _describe(self) -> str:
        return f"Linear(in_features={self.in_features}, out_features={self.out_features})"

    def _shape_error(self, shape: tuple) -> str:
        message = (f"{self._describe()}{where_called()} expected input (..., {self.in_features}), "
                   f"got {shape}.")
        if len(shape) >= 3 and int(np.prod(shape[1:])) == self.in_features:
            hint = (f" Hint: the input still has {len(shape)} dims; add nn.Flatten() before "
                    f"this layer (e.g. after a conv/pooling layer).")
        elif len(shape) >= 1:
            hint = (f" Hint: the previous layer (or the data) produces {shape[-1]} features; "
                    f"make in_features={shape[-1]} or fix the layer before.")
        else:
            hint = " Hint: the input is a scalar; Linear needs a feature dimension."
        return message + hint

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
