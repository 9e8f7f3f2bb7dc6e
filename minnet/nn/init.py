"""Weight initialisers (PyTorch's ``torch.nn.init``).

The spread of the weights sets whether activations and gradients grow, shrink or keep
their scale from layer to layer; the variance-preserving schemes pick the std from
a unit's ``fan_in``/``fan_out``: Xavier/Glorot (tanh, sigmoid) gain * sqrt(2 / (fan_in
+ fan_out)), Kaiming/He (ReLU) gain / sqrt(fan), LeCun (SELU) 1 / sqrt(fan_in). U(-b, b)
has std b / sqrt(3), hence the sqrt(3) in the uniform variants. Each modifies the
tensor in place (no graph) and returns it; random ones take ``generator=``.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ..random import get_generator
from ..tensor import Tensor, no_grad

_LINEAR_LIKE = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity: str, param: Optional[float] = None) -> float:
    """The factor that compensates how much ``nonlinearity`` shrinks the signal's std.

    ReLU zeroes half its inputs, halving the second moment: gain sqrt(2).
    tanh 5/3 and SELU 3/4 are PyTorch's (empirical) choices.
    """
    if nonlinearity in _LINEAR_LIKE:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            negative_slope = param
        else:
            raise ValueError(f"calculate_gain(): negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain(): unsupported nonlinearity {nonlinearity!r}. Known: "
                     f"{', '.join(_LINEAR_LIKE + ('tanh', 'relu', 'leaky_relu', 'selu'))}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple:
    """(fan_in, fan_out) of a Linear weight (out, in) or a conv weight (out, in, kH, kW).

    For a conv, each output value sees in * kH * kW inputs (the receptive field),
    and each input value feeds out * kH * kW outputs.
    """
    shape = tensor.shape
    if len(shape) < 2:
        raise ValueError(f"Fan in and fan out can not be computed for a tensor with fewer than 2 "
                         f"dimensions (got shape {shape}). Hint: biases are initialised from "
                         f"their layer's weight fan_in, not from their own shape.")
    receptive_field = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    fan_in = shape[1] * receptive_field
    fan_out = shape[0] * receptive_field
    return fan_in, fan_out


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode {mode!r} not supported, please use one of 'fan_in', 'fan_out'")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill(tensor: Tensor, values) -> Tensor:
    """Write ``values`` into ``tensor`` in place, keeping its dtype; no graph is recorded."""
    with no_grad():
        tensor._data[...] = values
    tensor._bump_version("nn.init")
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0,
             generator: Optional[np.random.Generator] = None) -> Tensor:
    """Fill with samples from U(a, b)."""
    return _fill(tensor, get_generator(generator).uniform(a, b, size=tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0,
            generator: Optional[np.random.Generator] = None) -> Tensor:
    """Fill with samples from N(mean, std^2)."""
    return _fill(tensor, get_generator(generator).normal(mean, std, size=tensor.shape))


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator: Optional[np.random.Generator] = None) -> Tensor:
    """N(mean, std^2) restricted to [a, b] (redraws values outside, so the shape is exact)."""
    rng = get_generator(generator)
    values = rng.normal(mean, std, size=tensor.shape)
    outside = (values < a) | (values > b)
    while outside.any():
        values[outside] = rng.normal(mean, std, size=int(outside.sum()))
        outside = (values < a) | (values > b)
    return _fill(tensor, values)


def constant_(tensor: Tensor, val: float) -> Tensor:
    return _fill(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 1)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0,
                    generator: Optional[np.random.Generator] = None) -> Tensor:
    """Glorot uniform: U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator=generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0,
                   generator: Optional[np.random.Generator] = None) -> Tensor:
    """Glorot normal: N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator=generator)


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu",
                     generator: Optional[np.random.Generator] = None) -> Tensor:
    """He uniform: U(-b, b), b = sqrt(3) * gain / sqrt(fan), gain = calculate_gain(nonlinearity, a).

    ``mode='fan_in'`` preserves the activations' variance in the forward pass,
    ``'fan_out'`` the gradients' in the backward pass.
    """
    if 0 in tensor.shape:
        return tensor  # nothing to fill (PyTorch warns and returns)
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator=generator)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu",
                    generator: Optional[np.random.Generator] = None) -> Tensor:
    """He normal: N(0, std^2), std = gain / sqrt(fan)."""
    if 0 in tensor.shape:
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator=generator)


def lecun_normal_(tensor: Tensor, generator: Optional[np.random.Generator] = None) -> Tensor:
    """LeCun normal: N(0, 1 / fan_in), the initialisation SELU networks assume.

    (Not in torch.nn.init; equal to kaiming_normal_(nonlinearity='linear').)
    """
    fan_in, _ = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, 1.0 / math.sqrt(fan_in), generator=generator)


def eye_(tensor: Tensor) -> Tensor:
    """The identity matrix (a 2-D tensor): a Linear layer that passes its input through,
    where the shapes allow (extra rows or columns are 0)."""
    if tensor.ndim != 2:
        raise ValueError(f"eye_(): only 2-D tensors are supported, got shape {tensor.shape}")
    return _fill(tensor, np.eye(*tensor.shape))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """The identity of a convolution (3-, 4- or 5-D weight): one 1 in the centre of the
    kernel that links output channel i to input channel i (within each of ``groups``), so
    the layer copies as many input channels as it can."""
    if tensor.ndim not in (3, 4, 5):
        raise ValueError(f"dirac_(): only 3, 4 or 5-D tensors (conv weights) are supported, "
                         f"got shape {tensor.shape}")
    if tensor.shape[0] % groups != 0:
        raise ValueError(f"dirac_(): dim 0 ({tensor.shape[0]}) must be divisible by groups "
                         f"({groups})")
    per_group = tensor.shape[0] // groups
    centre = tuple(k // 2 for k in tensor.shape[2:])
    values = np.zeros(tensor.shape)
    for g in range(groups):
        for d in range(min(per_group, tensor.shape[1])):
            values[(g * per_group + d, d) + centre] = 1
    return _fill(tensor, values)


def orthogonal_(tensor: Tensor, gain: float = 1.0,
                generator: Optional[np.random.Generator] = None) -> Tensor:
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al.): the rows (or columns,
    whichever are fewer) are orthonormal, so the layer keeps the lengths of vectors in
    that space. Dimensions after the first are flattened.

    Drawn as the Q of the QR factorisation of a Gaussian matrix, with the signs of R's
    diagonal folded in so that Q is uniformly distributed.
    """
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_(): only tensors with 2 or more dimensions are "
                         f"supported, got shape {tensor.shape}")
    if 0 in tensor.shape:
        return tensor  # nothing to fill
    rows = tensor.shape[0]
    columns = int(np.prod(tensor.shape[1:]))
    gaussian = get_generator(generator).normal(0.0, 1.0, size=(rows, columns))
    if rows < columns:
        gaussian = gaussian.T  # QR of a tall matrix: orthonormal columns
    q, r = np.linalg.qr(gaussian)
    q *= np.sign(np.diag(r))
    if rows < columns:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01,
            generator: Optional[np.random.Generator] = None) -> Tensor:
    """N(0, std^2) with ``ceil(sparsity * rows)`` entries of every column set to 0
    (Martens, 2010). 2-D tensors only."""
    if tensor.ndim != 2:
        raise ValueError(f"sparse_(): only 2-D tensors are supported, got shape "
                         f"{tensor.shape}")
    rows, columns = tensor.shape
    rng = get_generator(generator)
    values = rng.normal(0.0, std, size=(rows, columns))
    zeros_per_column = int(math.ceil(sparsity * rows))
    for column in range(columns):
        values[rng.permutation(rows)[:zeros_per_column], column] = 0
    return _fill(tensor, values)


def _deprecated(new):
    """PyTorch's old names without the trailing underscore (``nn.init.xavier_uniform``):
    they still work, with PyTorch's deprecation warning."""
    old_name = new.__name__[:-1]

    def old(*args, **kwargs):
        import warnings
        warnings.warn(f"`nn.init.{old_name}` is now deprecated in favor of "
                      f"`nn.init.{new.__name__}`.", FutureWarning, stacklevel=2)
        return new(*args, **kwargs)

    old.__name__ = old.__qualname__ = old_name
    old.__doc__ = f"Deprecated: use ``{new.__name__}``."
    return old


uniform, normal, constant = _deprecated(uniform_), _deprecated(normal_), _deprecated(constant_)
eye, dirac, orthogonal, sparse = _deprecated(eye_), _deprecated(dirac_), \
    _deprecated(orthogonal_), _deprecated(sparse_)
xavier_uniform, xavier_normal = _deprecated(xavier_uniform_), _deprecated(xavier_normal_)
kaiming_uniform, kaiming_normal = _deprecated(kaiming_uniform_), _deprecated(kaiming_normal_)
