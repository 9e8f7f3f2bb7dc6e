"""Element-wise arithmetic and math functions.

Each op computes its forward with NumPy, then returns ``Tensor._from_op``
with a ``backward`` closure right below the forward: given ``grad`` (dL/dout,
shaped like the output) it returns dL/d(input) for each input, summed back
to the input's shape with ``unbroadcast`` where broadcasting stretched it.
"""
from __future__ import annotations

import numpy as np

from ..tensor import DEFAULT_DTYPE, Tensor, as_tensor
from ._util import (as_float, into, is_number, pair, python_scalar, require_tensor, result_dtype,
                    unbroadcast)


def _broadcast_error(a: Tensor, b: Tensor, fn_name: str) -> ValueError:
    """A clear message instead of NumPy's when two shapes cannot broadcast."""
    return ValueError(
        f"{fn_name}(): shapes {a.shape} and {b.shape} cannot be broadcast together. "
        "Broadcasting aligns shapes from the right; each pair of sizes must be equal "
        "or one of them 1. Hint: use unsqueeze/reshape to add size-1 dims.")


def _broadcast_check(a: Tensor, b: Tensor, fn_name: str) -> None:
    if a.shape != b.shape:
        try:
            np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise _broadcast_error(a, b, fn_name) from None


def add(input, other, *, alpha=1, out=None) -> Tensor:
    """``input + alpha * other``, as ``torch.add(input, other, *, alpha=1, out=None)``.

    Either operand may be a number; shapes broadcast (e.g. (3, 5) + (5,) -> (3, 5)).
    """
    if out is not None:
        return into(out, add(input, other, alpha=alpha))
    if alpha != 1:
        return add(input, mul(other, alpha))
    input, other = pair(input, other)
    try:
        out = input._data + other._data
    except ValueError:
        raise _broadcast_error(input, other, "add") from None

    def backward(grad):
        # d(a+b)/da = d(a+b)/db = 1
        return (unbroadcast(grad, input.shape) if input.requires_grad else None,
                unbroadcast(grad, other.shape) if other.requires_grad else None)

    return Tensor._from_op(out, (input, other), backward, "add", saved=())


def sub(input, other, *, alpha=1, out=None) -> Tensor:
    """``input - alpha * other``, as ``torch.sub(input, other, *, alpha=1)`` (shapes broadcast)."""
    if out is not None:
        return into(out, sub(input, other, alpha=alpha))
    if alpha != 1:
        return sub(input, mul(other, alpha))
    input, other = pair(input, other)
    try:
        out = input._data - other._data
    except ValueError:
        raise _broadcast_error(input, other, "sub") from None

    def backward(grad):
        return (unbroadcast(grad, input.shape) if input.requires_grad else None,
                unbroadcast(-grad, other.shape) if other.requires_grad else None)

    return Tensor._from_op(out, (input, other), backward, "sub", saved=())


def mul(input, other, *, out=None) -> Tensor:
    """``input * other``, element-wise (shapes broadcast; either may be a number)."""
    if out is not None:
        return into(out, mul(input, other))
    input, other = pair(input, other)
    try:
        out = input._data * other._data
    except ValueError:
        raise _broadcast_error(input, other, "mul") from None

    def backward(grad):
        # product rule: d(ab)/da = b, d(ab)/db = a
        return (unbroadcast(grad * other._data, input.shape) if input.requires_grad else None,
                unbroadcast(grad * input._data, other.shape) if other.requires_grad else None)

    return Tensor._from_op(out, (input, other), backward, "mul")


def div(input, other, *, rounding_mode=None, out=None) -> Tensor:
    """``input / other`` (shapes broadcast); ``rounding_mode`` 'trunc' or 'floor' rounds
    the quotient (as PyTorch).

    A rounded quotient is piecewise constant, so its gradient is 0 (as in PyTorch).
    """
    if out is not None:
        return into(out, div(input, other, rounding_mode=rounding_mode))
    if rounding_mode is not None:
        return _rounded_div(input, other, rounding_mode)
    input, other = pair(input, other)
    if input._data.dtype.kind in "iub" and other._data.dtype.kind in "iub":
        # true division of integers gives float32
        input, other = as_float(input), as_float(other)
    try:
        out = input._data / other._data
    except ValueError:
        raise _broadcast_error(input, other, "div") from None

    def backward(grad):
        # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2 = -out/b
        grad_a = unbroadcast(grad / other._data, input.shape) if input.requires_grad else None
        grad_b = unbroadcast(-grad * out / other._data, other.shape) if other.requires_grad else None
        return grad_a, grad_b

    return Tensor._from_op(out, (input, other), backward, "div")


def _rounded_div(input, other, rounding_mode: str) -> Tensor:
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div(): rounding_mode must be None, 'trunc' or 'floor', got "
                         f"{rounding_mode!r}")
    input, other = pair(input, other)
    _broadcast_check(input, other, "div")
    integers = input._data.dtype.kind in "iu" and other._data.dtype.kind in "iu"
    if integers:  # integer division stays integer, truncating or flooring like PyTorch
        quotient = np.floor_divide(input._data, other._data)
        if rounding_mode == "trunc":
            remainder = input._data - quotient * other._data
            quotient = quotient + ((remainder != 0) & ((input._data < 0) != (other._data < 0)))
        out = quotient.astype(np.result_type(input._data, other._data), copy=False)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            if rounding_mode == "trunc":
                out = np.trunc(input._data / other._data)
            else:
                # not floor(a / b): the rounded quotient of -0.25 / -0.001 is 250.0, but
                # -0.001 is stored as slightly more than 1/1000, so the true quotient is
                # 249.99...; floor_divide floors that exactly, as PyTorch and Python's //
                out = np.floor_divide(input._data, other._data)

    def backward(grad):
        return (np.zeros(input.shape, dtype=grad.dtype) if input.requires_grad else None,
                np.zeros(other.shape, dtype=grad.dtype) if other.requires_grad else None)

    return Tensor._from_op(out, (input, other), backward, "div")


def _division_operands(input, other, fn_name: str) -> tuple:
    """The two operands of floor_divide/remainder/fmod as Tensors of one dtype, checked.

    Integer division by zero raises (as PyTorch's ZeroDivisionError); NumPy would
    quietly give 0. Float division by zero gives inf/nan, as in PyTorch.
    """
    input, other = pair(input, other)
    _broadcast_check(input, other, fn_name)
    if input._data.dtype.kind == "b":
        raise TypeError(f"{fn_name}(): not defined for bool tensors (as PyTorch). "
                        "Hint: convert first, e.g. x.long().")
    if input._data.dtype.kind in "iu" and np.any(other._data == 0):
        raise RuntimeError(f"{fn_name}(): integer division by zero (ZeroDivisionError). "
                           "Hint: mask the zero divisors, or divide float tensors (x / 0 is inf).")
    return input, other


def floor_divide(input, other, *, out=None) -> Tensor:
    """``input // other``: the quotient rounded toward -inf, as ``torch.floor_divide``
    and Python's ``//`` (7 // -2 == -4; shapes broadcast; integers stay integers).

    Not differentiable, as in PyTorch: the result still requires grad when an input
    does, but backward() through it raises. ``div(a, b, rounding_mode='floor')`` gives
    the same values with gradient 0.
    """
    if out is not None:
        return into(out, floor_divide(input, other))
    input, other = _division_operands(input, other, "floor_divide")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.floor_divide(input._data, other._data)

    def backward(grad):
        raise RuntimeError("floor_divide (//): the derivative is not implemented (as in "
                           "PyTorch). Hint: div(a, b, rounding_mode='floor') gives the same "
                           "values with gradient 0, or detach() the inputs.")

    return Tensor._from_op(out, (input, other), backward, "floor_divide", saved=())


def remainder(input, other, *, out=None) -> Tensor:
    """``input % other`` with the sign of the divisor, as ``torch.remainder`` and Python's
    ``%`` (-7 % 3 == 2, 7 % -3 == -2; shapes broadcast). See ``fmod`` for C's sign rule.

    remainder(a, b) = a - b * floor(a / b), so d/da = 1 and d/db = -floor(a / b)
    (away from the jumps where a / b is a whole number).
    """
    if out is not None:
        return into(out, remainder(input, other))
    input, other = _division_operands(input, other, "remainder")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.remainder(input._data, other._data)

    def backward(grad):
        grad_b = None
        if other.requires_grad:
            with np.errstate(divide="ignore", invalid="ignore"):
                quotient = np.floor_divide(input._data, other._data)
            grad_b = unbroadcast(-grad * quotient, other.shape)
        return (unbroadcast(grad, input.shape) if input.requires_grad else None, grad_b)

    return Tensor._from_op(out, (input, other), backward, "remainder")


def fmod(input: Tensor, other, *, out=None) -> Tensor:
    """The remainder with the sign of the dividend, as ``torch.fmod`` and C's fmod
    (fmod(-7, 3) == -1, where -7 % 3 == 2; ``other`` may be a number; shapes broadcast).

    fmod(a, b) = a - b * trunc(a / b), so d/da = 1 and d/db = -trunc(a / b).
    """
    if out is not None:
        return into(out, fmod(input, other))
    require_tensor(input, "fmod")
    input, other = _division_operands(input, other, "fmod")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.fmod(input._data, other._data)

    def backward(grad):
        grad_b = None
        if other.requires_grad:
            with np.errstate(divide="ignore", invalid="ignore"):
                quotient = np.trunc(input._data / other._data)
            grad_b = unbroadcast(-grad * quotient, other.shape)
        return (unbroadcast(grad, input.shape) if input.requires_grad else None, grad_b)

    return Tensor._from_op(out, (input, other), backward, "fmod")


def neg(input: Tensor) -> Tensor:
    """``-input`` (same shape)."""
    if require_tensor(input, "neg")._data.dtype == np.bool_:
        raise TypeError("neg(): negation, the `-` operator, on a bool tensor is not supported "
                        "(as PyTorch). Hint: use ~x or logical_not for a logical not.")

    def backward(grad):
        return (-grad,)

    return Tensor._from_op(-input._data, (input,), backward, "neg", saved=())


def pow(input, exponent) -> Tensor:
    """``input ** exponent`` for tensor**number, tensor**tensor and number**tensor
    (``input`` is the base; shapes broadcast).

    d(a^p)/da = p * a^(p-1)  and  d(a^p)/dp = a^p * log(a).
    """
    if isinstance(input, Tensor) and is_number(exponent):
        return _pow_scalar_exponent(input, python_scalar(exponent))
    if not isinstance(input, Tensor) and not isinstance(exponent, Tensor):
        raise TypeError("pow(): at least one of base and exponent must be a Tensor")
    base, exponent = pair(input, exponent)
    _broadcast_check(base, exponent, "pow")
    _check_integer_power(base._data, exponent._data)
    out = np.power(base._data, exponent._data)

    def backward(grad):
        grad_base = grad_exponent = None
        if base.requires_grad:
            # as in PyTorch, an exponent of exactly 0 gives gradient 0 (not 0 * inf)
            with np.errstate(divide="ignore", invalid="ignore"):
                local = exponent._data * np.power(base._data, exponent._data - 1)
            grad_base = unbroadcast(np.where(exponent._data == 0, 0, grad * local)
                                    .astype(out.dtype, copy=False), base.shape)
        if exponent.requires_grad:
            # 0^p with p >= 0 is 0 or 1 and flat in p there: PyTorch defines the gradient as 0
            flat_at_zero = (base._data == 0) & (exponent._data >= 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                local = out * np.log(base._data)
            grad_exponent = unbroadcast(np.where(flat_at_zero, 0, grad * local)
                                        .astype(out.dtype, copy=False), exponent.shape)
        return grad_base, grad_exponent

    return Tensor._from_op(out, (base, exponent), backward, "pow")


def _check_integer_power(base: np.ndarray, exponent) -> None:
    if base.dtype.kind in "iu" and np.asarray(exponent).dtype.kind in "iu" \
            and np.any(np.asarray(exponent) < 0):
        raise ValueError("pow(): integers to negative integer powers are not allowed (as "
                         "PyTorch). Hint: make the base float, e.g. x.float() ** -1.")


def _pow_scalar_exponent(a: Tensor, p) -> Tensor:
    if a._data.dtype.kind in "iub" and isinstance(p, float):
        a = astype(a, np.float32)  # PyTorch: int tensor ** 2.5 is a float tensor
    _check_integer_power(a._data, p)
    out = a._data ** p

    def backward(grad):
        if p == 0:
            return (np.zeros_like(a._data),)
        return (grad * (p * a._data ** (p - 1)),)

    return Tensor._from_op(out, (a,), backward, "pow")


def exp(input: Tensor) -> Tensor:
    """e ** input, element-wise (same shape; integers give float32)."""
    input = as_float(input)
    out = np.exp(input._data)

    def backward(grad):
        return (grad * out,)  # d(e^a)/da = e^a: reuse the forward result

    return Tensor._from_op(out, (input,), backward, "exp", saved=(), saves_output=True)


def log(input: Tensor) -> Tensor:
    """Natural logarithm, element-wise (same shape; integers give float32)."""
    input = as_float(input)
    out = np.log(input._data)

    def backward(grad):
        return (grad / input._data,)

    return Tensor._from_op(out, (input,), backward, "log")


def sqrt(input: Tensor) -> Tensor:
    """Square root, element-wise (same shape; integers give float32)."""
    input = as_float(input)
    out = np.sqrt(input._data)

    def backward(grad):
        # d(sqrt a)/da = 1 / (2 sqrt a): reuse the forward result
        return (grad / (2 * out),)

    return Tensor._from_op(out, (input,), backward, "sqrt", saved=(),
                           saves_output=True)


def abs(input: Tensor) -> Tensor:
    """|input|, element-wise (same shape)."""
    out = np.abs(input._data)

    def backward(grad):
        # sign(0) = 0: the subgradient at 0 is taken as 0, as in PyTorch
        return (grad * np.sign(input._data),)

    return Tensor._from_op(out, (input,), backward, "abs")


def clip(input: Tensor, min=None, max=None) -> Tensor:
    """Limit the entries of ``input`` to ``[min, max]`` (either bound may be None, a number
    or a Tensor that broadcasts against ``input``; the output has ``input``'s shape).

    The gradient flows to ``input`` where ``min <= input <= max`` (bounds included, as
    in PyTorch) and to a Tensor bound where that bound was the one used.
    """
    require_tensor(input, "clip")
    if min is None and max is None:
        raise ValueError("clip(): at least one of min and max must not be None")
    # type promotion as PyTorch: an integer tensor with a float number bound is float32;
    # a Tensor bound of another dtype promotes like any other operand
    if input._data.dtype.kind in "iub" and any(
            isinstance(python_scalar(b), float) for b in (min, max) if not isinstance(b, Tensor)):
        input = astype(input, DEFAULT_DTYPE)
    for bound in (min, max):
        if isinstance(bound, Tensor) and bound.dtype != input.dtype:
            input = astype(input, result_dtype(input, bound))
    low = None if min is None else astype(min if isinstance(min, Tensor) else
                                          as_tensor(python_scalar(min), like=input), input.dtype)
    high = None if max is None else astype(max if isinstance(max, Tensor) else
                                           as_tensor(python_scalar(max), like=input), input.dtype)
    out = input._data
    if low is not None:
        out = np.maximum(out, low._data)
    if high is not None:
        out = np.minimum(out, high._data)  # applied last: when min > max, max wins (as PyTorch)
    if out is input._data:
        out = out.copy()
    parents = (input,) + tuple(t for t in (low, high) if t is not None)

    def backward(grad):
        x = input._data
        inside = np.ones(x.shape, dtype=bool)
        if low is not None:
            inside = inside & (x >= low._data)
        if high is not None:
            inside = inside & (x <= high._data)
        grads = [unbroadcast(np.where(inside, grad, 0).astype(out.dtype, copy=False),
                             input.shape) if input.requires_grad else None]
        if low is not None:
            used_low = x < low._data
            if high is not None:
                used_low = used_low & (low._data < high._data)
            grads.append(unbroadcast(np.where(used_low, grad, 0).astype(out.dtype, copy=False),
                                     low.shape) if low.requires_grad else None)
        if high is not None:
            used_high = x > high._data
            if low is not None:
                used_high = used_high | (high._data < low._data)
            grads.append(unbroadcast(np.where(used_high, grad, 0).astype(out.dtype, copy=False),
                                     high.shape) if high.requires_grad else None)
        return tuple(grads)

    return Tensor._from_op(out, parents, backward, "clip")


clamp = clip


def _max_or_min(a, b, pick, a_wins_where, fn_name: str) -> Tensor:
    a, b = pair(a, b)
    _broadcast_check(a, b, fn_name)
    out = pick(a._data, b._data)

    def backward(grad):
        # the winner takes the gradient; a tie splits it 0.5 / 0.5 (as PyTorch). A loser
        # gets nothing; where a NaN is involved neither side lost, so both get it (as
        # PyTorch: the NaN output depends on the NaN input, never on the other alone)
        tie = a._data == b._data
        a_lost, b_lost = a_wins_where(b._data, a._data), a_wins_where(a._data, b._data)
        share_a = np.where(tie, 0.5, np.where(a_lost, 0.0, 1.0)).astype(out.dtype, copy=False)
        share_b = np.where(tie, 0.5, np.where(b_lost, 0.0, 1.0)).astype(out.dtype, copy=False)
        grad_a = unbroadcast(grad * share_a, a.shape) if a.requires_grad else None
        grad_b = unbroadcast(grad * share_b, b.shape) if b.requires_grad else None
        return grad_a, grad_b

    return Tensor._from_op(out, (a, b), backward, fn_name)


def maximum(input, other) -> Tensor:
    """Element-wise larger of ``input`` and ``other`` (shapes broadcast)."""
    return _max_or_min(input, other, np.maximum, np.greater, "maximum")


def minimum(input, other) -> Tensor:
    """Element-wise smaller of ``input`` and ``other`` (shapes broadcast)."""
    return _max_or_min(input, other, np.minimum, np.less, "minimum")


_NOT_GIVEN = object()  # where(condition) alone is a different function: tell the cases apart


def where(condition, input=_NOT_GIVEN, other=_NOT_GIVEN):
    """``input`` where ``condition`` is True, else ``other`` (all three broadcast together).

    As ``torch.where(condition, input, other)``; ``other`` (or ``input``) may be a number.
    ``where(condition)`` alone is ``nonzero(condition, as_tuple=True)``: a tuple with, per
    dim, the int64 indices of the non-zero (True) entries, as PyTorch.
    """
    if input is _NOT_GIVEN and other is _NOT_GIVEN:
        data = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
        return tuple(Tensor(index.astype(np.int64)) for index in np.nonzero(np.atleast_1d(data)))
    if input is _NOT_GIVEN or other is _NOT_GIVEN:
        raise TypeError("where(): give both input and other (where(condition, input, other)), "
                        "or neither (where(condition) lists the indices of the True entries)")
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise TypeError(f"where(): condition must be a boolean tensor, got dtype {cond.dtype}. "
                        "Hint: build it with a comparison such as x > 0.")
    input, other = pair(input, other)
    try:
        np.broadcast_shapes(cond.shape, input.shape, other.shape)
    except ValueError:
        raise ValueError(f"where(): condition {cond.shape}, input {input.shape} and other "
                         f"{other.shape} cannot be broadcast together") from None
    out = np.where(cond, input._data, other._data)

    def backward(grad):
        grad_a = unbroadcast(np.where(cond, grad, 0).astype(grad.dtype, copy=False), input.shape) \
            if input.requires_grad else None
        grad_b = unbroadcast(np.where(cond, 0, grad).astype(grad.dtype, copy=False), other.shape) \
            if other.requires_grad else None
        return grad_a, grad_b

    return Tensor._from_op(out, (input, other), backward, "where", saved=())


def astype(input: Tensor, dtype) -> Tensor:
    """Convert dtype; the gradient is converted back to ``input``'s dtype."""
    dtype = np.dtype(dtype)
    if input._data.dtype == dtype:
        return input
    out = input._data.astype(dtype)

    def backward(grad):
        return (grad.astype(input._data.dtype),)

    return Tensor._from_op(out, (input,), backward, "astype", saved=())


_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
               "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor",
               "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}


def to_type(input: Tensor, dtype=None, non_blocking: bool = False):
    """PyTorch's ``Tensor.type``: with no dtype, the type's name (``"torch.FloatTensor"``);
    with a dtype or such a name, the converted tensor (as ``astype``)."""
    if dtype is None:
        return "torch." + _TYPE_NAMES.get(input._data.dtype.name, input._data.dtype.name)
    if isinstance(getattr(dtype, "dtype", None), np.dtype):  # minnet.LongTensor and the like
        dtype = dtype.dtype
    if isinstance(dtype, str) and dtype.startswith("torch."):
        names = {name: np.dtype(key) for key, name in _TYPE_NAMES.items()}
        if dtype[len("torch."):] not in names:
            raise ValueError(f"type(): unknown type name {dtype!r}; expected one of "
                             f"{sorted('torch.' + n for n in names)}")
        dtype = names[dtype[len("torch."):]]
    if np.dtype(dtype).kind != "f":  # integer/bool copies are not differentiable (as PyTorch)
        # dtype= keeps e.g. int32 (Tensor() alone makes every integer array int64)
        return Tensor(input._data.astype(dtype), dtype=dtype)
    return astype(input, dtype)


def clamp_min(input: Tensor, min) -> Tensor:
    """clip(input, min=min)."""
    return clip(input, min, None)


def clamp_max(input: Tensor, max) -> Tensor:
    """clip(input, max=max)."""
    return clip(input, None, max)


def lerp(input: Tensor, end, weight) -> Tensor:
    """input + weight * (end - input): from input (weight 0) to end (weight 1); ``weight``
    may be a number or a Tensor (all three broadcast)."""
    require_tensor(input, "lerp")
    return add(input, mul(weight, sub(end, input)))
