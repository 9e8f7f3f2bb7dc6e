"""More element-wise math, as ``torch.sin`` etc.: each forward next to its derivative.

Every function here maps each entry on its own, so its backward is
``grad * f'(x)`` (the chain rule, entry by entry). ``_unary`` writes that
pattern once; each op gives its forward and its derivative on one line each.
Integer inputs give float32 (PyTorch's default dtype), as ``exp`` and ``log`` do.
Rounding ops (floor, ceil, round, trunc, sign) are flat almost everywhere:
their gradient is 0, as in PyTorch.
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..tensor import Tensor
from ._util import as_float, pair, require_tensor, unbroadcast


def _unary(input, forward, derivative, name: str, keep_integers: bool = False,
           uses_output: bool = False) -> Tensor:
    """``forward(x)`` entry-wise; backward ``grad * derivative(x, out)``.

    ``uses_output``: the derivative reads ``out``, so changing the output in place
    before backward must raise (see version counters in docs/autograd.md).
    """
    require_tensor(input, name)
    if not keep_integers:
        input = as_float(input)
    x = input._data
    out = np.asarray(forward(x))

    def backward(grad):
        return ((grad * derivative(x, out)).astype(out.dtype, copy=False),)

    return Tensor._from_op(out, (input,), backward, name, saves_output=uses_output)


def _flat(x, out):
    return np.zeros_like(out)


# trigonometry ----------------------------------------------------------------------------
def sin(input):
    return _unary(input, np.sin, lambda x, out: np.cos(x), "sin")


def cos(input):
    return _unary(input, np.cos, lambda x, out: -np.sin(x), "cos")


def tan(input):
    # tan' = sec^2 = 1 + tan^2: reuse the output
    return _unary(input, np.tan, lambda x, out: 1 + out * out, "tan", uses_output=True)


def asin(input):
    return _unary(input, np.arcsin, lambda x, out: 1 / np.sqrt(1 - x * x), "asin")


def acos(input):
    return _unary(input, np.arccos, lambda x, out: -1 / np.sqrt(1 - x * x), "acos")


def atan(input):
    return _unary(input, np.arctan, lambda x, out: 1 / (1 + x * x), "atan")


def sinh(input):
    return _unary(input, np.sinh, lambda x, out: np.cosh(x), "sinh")


def cosh(input):
    return _unary(input, np.cosh, lambda x, out: np.sinh(x), "cosh")


# logarithms and powers ----------------------------------------------------------------------
def log10(input):
    return _unary(input, np.log10, lambda x, out: 1 / (x * np.log(10)), "log10")


def log2(input):
    return _unary(input, np.log2, lambda x, out: 1 / (x * np.log(2)), "log2")


def log1p(input):
    """log(1 + x), accurate for tiny x."""
    return _unary(input, np.log1p, lambda x, out: 1 / (1 + x), "log1p")


def expm1(input):
    """exp(x) - 1, accurate for tiny x."""
    return _unary(input, np.expm1, lambda x, out: out + 1, "expm1", uses_output=True)


def reciprocal(input):
    return _unary(input, np.reciprocal, lambda x, out: -out * out, "reciprocal", uses_output=True)


def rsqrt(input):
    """1 / sqrt(x)."""
    return _unary(input, lambda x: 1 / np.sqrt(x), lambda x, out: -0.5 * out / x, "rsqrt",
                  uses_output=True)


def square(input):
    if require_tensor(input, "square").dtype == np.bool_:
        input = Tensor(input._data.astype(np.int64))  # as PyTorch (NumPy: int8)
    return _unary(input, np.square, lambda x, out: 2 * x, "square", keep_integers=True)


# rounding: flat almost everywhere, gradient 0 -----------------------------------------------
def floor(input):
    return _unary(input, np.floor, _flat, "floor", keep_integers=True)


def ceil(input):
    return _unary(input, np.ceil, _flat, "ceil", keep_integers=True)


def round(input, decimals: int = 0):  # noqa: A001  (torch.round)
    """Round half to even, as PyTorch (2.5 -> 2, 3.5 -> 4)."""
    return _unary(input, lambda x: np.round(x, decimals), _flat, "round", keep_integers=True)


def trunc(input):
    return _unary(input, np.trunc, _flat, "trunc", keep_integers=True)


def _sign(x):
    return x.copy() if x.dtype == np.bool_ else np.sign(x)  # NumPy has no sign for bools


def sign(input):
    """-1, 0 or 1 by the sign of each entry; a bool tensor stays bool (as PyTorch)."""
    return _unary(input, _sign, _flat, "sign", keep_integers=True)


def exp2(input) -> Tensor:
    """2 ** x."""
    return _unary(input, np.exp2, lambda x, out: out * np.log(2), "exp2", uses_output=True)


def erf(input) -> Tensor:
    """The error function, 2/sqrt(pi) * integral_0^x exp(-t^2) dt (kernels/special.py)."""
    return _unary(input, kernels.erf,
                  lambda x, out: 2 / np.sqrt(np.pi) * np.exp(-x * x), "erf")


def erfc(input) -> Tensor:
    """1 - erf(x), computed directly (1 - erf(x) would round to 0 for x above ~6)."""
    return _unary(input, kernels.erfc,
                  lambda x, out: -2 / np.sqrt(np.pi) * np.exp(-x * x), "erfc")


def logit(input, eps=None) -> Tensor:
    """log(p / (1 - p)), the inverse of sigmoid; with ``eps``, p is first clamped to
    [eps, 1 - eps] (and the gradient is 0 where it was clamped, as PyTorch)."""
    require_tensor(input, "logit")
    input = as_float(input)
    if eps is None:
        return _unary(input, lambda p: np.log(p / (1 - p)),
                      lambda p, out: 1 / (p * (1 - p)), "logit")
    low, high = eps, 1 - eps
    return _unary(input, lambda p: np.log(np.clip(p, low, high) / (1 - np.clip(p, low, high))),
                  lambda p, out: np.where((p < low) | (p > high), 0.0, 1 / (p * (1 - p))),
                  "logit")


# -- two inputs (shapes broadcast) -------------------------------------------------------
def _binary(input, other, forward, derivatives, name: str) -> Tensor:
    """``forward(a, b)`` entry-wise; backward ``grad * d/da`` and ``grad * d/db``, each
    summed back to its operand's shape (``derivatives(a, b, out)`` gives the pair)."""
    input, other = pair(input, other)
    input, other = as_float(input), as_float(other)
    a, b = input._data, other._data
    try:
        out = np.asarray(forward(a, b))
    except ValueError:
        raise ValueError(f"{name}(): shapes {input.shape} and {other.shape} cannot be "
                         f"broadcast together") from None

    def backward(grad):
        d_input, d_other = derivatives(a, b, out)
        return (unbroadcast(grad * d_input, input.shape) if input.requires_grad else None,
                unbroadcast(grad * d_other, other.shape) if other.requires_grad else None)

    return Tensor._from_op(out, (input, other), backward, name)


def atan2(input, other) -> Tensor:
    """The angle of the point (x=other, y=input), in (-pi, pi]."""
    def derivatives(y, x, out):
        r2 = x * x + y * y
        return x / r2, -y / r2

    return _binary(input, other, np.arctan2, derivatives, "atan2")


def hypot(input, other) -> Tensor:
    """sqrt(input^2 + other^2), without overflow for large entries."""
    return _binary(input, other, np.hypot, lambda a, b, out: (a / out, b / out), "hypot")


def logaddexp(input, other) -> Tensor:
    """log(exp(input) + exp(other)), without overflow."""
    return _binary(input, other, np.logaddexp,
                   lambda a, b, out: (np.exp(a - out), np.exp(b - out)), "logaddexp")


def nan_to_num(input, nan: float = 0.0, posinf=None, neginf=None) -> Tensor:
    """nan -> ``nan``, +inf -> ``posinf``, -inf -> ``neginf`` (default: the dtype's largest
    and smallest finite numbers). The gradient is 0 where an entry was replaced (PyTorch)."""
    require_tensor(input, "nan_to_num")
    if input._data.dtype.kind != "f":
        return input.clone()
    return _unary(input, lambda x: np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf),
                  lambda x, out: np.isfinite(x).astype(out.dtype), "nan_to_num")
