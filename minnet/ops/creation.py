"""Making tensors: ``tensor``, ``zeros``, ``arange``, ``randn``, ``multinomial``, ...

Signatures and dtype rules are PyTorch's: floats default to float32, integer
ranges and ``full`` of an int to int64, and every factory takes ``dtype=``,
``device=`` (only the CPU exists here) and ``requires_grad=``. Random factories
take ``generator=`` (a ``minnet.Generator`` or ``np.random.Generator``) or minnet's
``seed=``; without either they draw from minnet's default generator
(``minnet.manual_seed``). None of these is differentiable: they make leaves.
"""
from __future__ import annotations

import numbers
from typing import Optional

import numpy as np

from ..random import get_generator
from ..tensor import DEFAULT_DTYPE, Tensor, _as_array, wrap_array
from ..utils.device import check_device


def _size(size, where: str) -> tuple:
    """PyTorch's ``zeros(2, 3)`` or ``zeros((2, 3))`` -> (2, 3), with a clear error."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    size = tuple(int(s) if isinstance(s, Tensor) else s for s in size)
    if any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 0 for s in size):
        raise ValueError(f"{where}(): sizes must be non-negative integers, got {size!r}")
    return tuple(int(s) for s in size)


def _leaf(array: np.ndarray, dtype, device, requires_grad: bool, where: str) -> Tensor:
    check_device(device, where)
    if dtype is not None:
        array = array.astype(np.dtype(dtype), copy=False)
    return Tensor(array, requires_grad=requires_grad) if requires_grad else wrap_array(array)


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new leaf holding a copy of ``data``; Python floats become float32, ints int64."""
    check_device(device, "tensor")
    result = wrap_array(_as_array(data, dtype))  # (the Tensor class makes lists float32)
    return result.requires_grad_() if requires_grad else result


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor``, but a Tensor or NumPy array of the right dtype is shared, not copied."""
    check_device(device, "as_tensor")
    if isinstance(data, Tensor) and (dtype is None or data.dtype == np.dtype(dtype)):
        return data
    if isinstance(data, np.ndarray) and (dtype is None or data.dtype == np.dtype(dtype)) \
            and data.dtype.kind in "fb" or isinstance(data, np.ndarray) and data.dtype == np.int64:
        return wrap_array(data)
    return tensor(data, dtype=dtype)  # infers as torch.tensor: [1, 2] is int64


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` (changes to one show in the other), as in PyTorch."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy(): expected a np.ndarray, got {type(array).__name__}")
    return wrap_array(array)


def zeros(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _leaf(np.zeros(_size(size, "zeros"), dtype=dtype or DEFAULT_DTYPE), None, device,
                 requires_grad, "zeros")


def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _leaf(np.ones(_size(size, "ones"), dtype=dtype or DEFAULT_DTYPE), None, device,
                 requires_grad, "ones")


def empty(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """PyTorch leaves ``empty``'s entries undefined; minnet fills them with zeros
    (deterministic runs)."""
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def _fill_dtype(fill_value):
    """``full``'s default dtype, as PyTorch: bool -> bool, int -> int64, float -> float32."""
    if isinstance(fill_value, (bool, np.bool_)):
        return np.bool_
    if isinstance(fill_value, numbers.Integral):
        return np.int64
    return DEFAULT_DTYPE


def full(size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    size = _size((size,), "full")
    value = fill_value.item() if isinstance(fill_value, Tensor) else fill_value
    return _leaf(np.full(size, value, dtype=dtype or _fill_dtype(value)), None, device,
                 requires_grad, "full")


def zeros_like(input: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return zeros(input.shape, dtype=dtype or input.dtype, device=device,
                 requires_grad=requires_grad)


def ones_like(input: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return ones(input.shape, dtype=dtype or input.dtype, device=device,
                requires_grad=requires_grad)


def empty_like(input: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return zeros_like(input, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(input: Tensor, fill_value, dtype=None, device=None,
              requires_grad: bool = False) -> Tensor:
    return full(input.shape, fill_value, dtype=dtype or input.dtype, device=device,
                requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """``arange(5)`` -> 0..4 (int64); any float among the arguments gives float32.

    As PyTorch: with an integer ``dtype`` the bounds and step are truncated to integers
    first (``arange(3.1, dtype=int64)`` is 0, 1, 2), and a zero step, an infinite bound or
    a step that points away from ``end`` raises (NumPy returns an empty range).
    """
    if end is None:
        start, end = 0, start
    bounds = [b.item() if isinstance(b, Tensor) else b for b in (start, end, step)]
    if dtype is not None and np.dtype(dtype).kind in "iu":
        bounds = [int(b) if np.isfinite(b) else b for b in bounds]
    integral = all(isinstance(b, numbers.Integral) for b in bounds)
    first, last, step = bounds
    if step == 0:
        raise ValueError(f"arange(): step must be nonzero, got {bounds[2]!r}")
    if not (np.isfinite(first) and np.isfinite(last)):
        raise ValueError(f"arange(): unsupported range {first} -> {last}: both bounds must be "
                         "finite numbers")
    if (last - first) * step < 0:
        raise ValueError(f"arange(): upper bound and lower bound inconsistent with step sign: "
                         f"start={first}, end={last}, step={step}. Hint: "
                         "the step's sign must match end - start; arange(5, 0, -1) counts down.")
    values = np.arange(*bounds, dtype=np.int64 if integral else np.float64)
    return _leaf(values.astype(dtype or (np.int64 if integral else DEFAULT_DTYPE)), None,
                 device, requires_grad, "arange")


def linspace(start, end, steps: int, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive (float32).

    ``start`` and ``end`` are numbers or 0-d tensors; with an integer ``dtype`` they are
    truncated to integers first, as in PyTorch.
    """
    for name, bound in (("start", start), ("end", end)):
        if isinstance(bound, Tensor) and bound.ndim != 0:
            raise ValueError(f"linspace(): {name} must be a number or a 0-d tensor, got a "
                             f"tensor of shape {bound.shape}")
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 0:
        raise ValueError(f"linspace(): steps must be a non-negative int, got {steps!r}")
    start, end = (b.item() if isinstance(b, Tensor) else b for b in (start, end))
    if dtype is not None and np.dtype(dtype).kind in "iu":
        start, end = int(start), int(end)
    return _leaf(np.linspace(start, end, int(steps)).astype(dtype or DEFAULT_DTYPE), None,
                 device, requires_grad, "linspace")


def eye(n: int, m: Optional[int] = None, dtype=None, device=None,
        requires_grad: bool = False) -> Tensor:
    """The (n, m) identity matrix (m defaults to n): ones on the diagonal, zeros elsewhere."""
    _size((n,) if m is None else (n, m), "eye")
    return _leaf(np.eye(n, m, dtype=dtype or DEFAULT_DTYPE), None, device, requires_grad, "eye")


# -- random ----------------------------------------------------------------------------------
def randn(*size, generator=None, seed: Optional[int] = None, dtype=None, device=None,
          requires_grad: bool = False) -> Tensor:
    """Standard-normal samples from ``generator``, a fresh one seeded by ``seed``, or else
    minnet's default generator (seeded at import; reseed with ``minnet.manual_seed``)."""
    rng = get_generator(generator, seed)
    values = rng.standard_normal(_size(size, "randn"))
    return _leaf(values.astype(dtype or DEFAULT_DTYPE), None, device, requires_grad, "randn")


def rand(*size, generator=None, seed: Optional[int] = None, dtype=None, device=None,
         requires_grad: bool = False) -> Tensor:
    """Uniform [0, 1) samples; the generator is chosen as in ``randn``."""
    rng = get_generator(generator, seed)
    values = rng.random(_size(size, "rand"))
    return _leaf(values.astype(dtype or DEFAULT_DTYPE), None, device, requires_grad, "rand")


def randint(*args, size=None, generator=None, seed: Optional[int] = None, dtype=None,
            device=None, requires_grad: bool = False) -> Tensor:
    """Integers in [low, high): ``randint(high, size)`` or ``randint(low, high, size)`` (int64)."""
    args = list(args)
    if size is None and args and isinstance(args[-1], (tuple, list)):
        size = args.pop()
    if len(args) == 1:
        low, high = 0, args[0]
    elif len(args) == 2:
        low, high = args
    else:
        raise TypeError("randint(): expected randint(high, size) or randint(low, high, size), "
                        f"got {len(args)} bounds")
    if size is None:
        raise TypeError("randint(): missing the size, e.g. randint(0, 10, (3,))")
    if high <= low:
        raise ValueError(f"randint(): high ({high}) must be greater than low ({low})")
    rng = get_generator(generator, seed)
    values = rng.integers(low, high, size=_size((size,), "randint"), dtype=np.int64)
    return _leaf(values, dtype, device, requires_grad, "randint")


def randperm(n: int, generator=None, seed: Optional[int] = None, dtype=None,
             device=None) -> Tensor:
    """A random order of 0..n-1 (int64)."""
    rng = get_generator(generator, seed)
    return _leaf(rng.permutation(int(n)).astype(np.int64), dtype, device, False, "randperm")


def randn_like(input: Tensor, generator=None, seed: Optional[int] = None, dtype=None,
               device=None, requires_grad: bool = False) -> Tensor:
    return randn(input.shape, generator=generator, seed=seed, dtype=dtype or input.dtype,
                 device=device, requires_grad=requires_grad)


def rand_like(input: Tensor, generator=None, seed: Optional[int] = None, dtype=None,
              device=None, requires_grad: bool = False) -> Tensor:
    return rand(input.shape, generator=generator, seed=seed, dtype=dtype or input.dtype,
                device=device, requires_grad=requires_grad)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator=None, seed: Optional[int] = None) -> Tensor:
    """Sample category indices from the (unnormalised) weights in each row of ``input``.

    Shapes: (C,) -> (num_samples,) and (N, C) -> (N, num_samples), int64. Without
    ``replacement`` a category is drawn at most once per row, as in PyTorch.
    """
    if isinstance(num_samples, bool) or not isinstance(num_samples, numbers.Integral) \
            or num_samples <= 0:
        raise ValueError(f"multinomial(): num_samples must be a positive int, got "
                         f"{num_samples!r}")
    weights = np.asarray(input._data if isinstance(input, Tensor) else input, dtype=np.float64)
    if weights.ndim not in (1, 2):
        raise ValueError(f"multinomial(): input must be 1-D or 2-D (categories last), got shape "
                         f"{weights.shape}")
    if weights.shape[-1] == 0 or not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise RuntimeError("multinomial(): probability tensor contains either inf, nan or "
                           "element < 0 (or has no categories)")
    rows = np.atleast_2d(weights)
    totals = rows.sum(axis=1, keepdims=True)
    if np.any(totals <= 0):
        raise RuntimeError("multinomial(): invalid multinomial distribution (sum of "
                           "probabilities <= 0)")
    if not replacement and num_samples > np.count_nonzero(rows, axis=1).min():
        raise RuntimeError(f"multinomial(): cannot sample n_sample={num_samples} > "
                           f"prob_dist.size(-1) non-zero categories without replacement")
    rng = get_generator(generator, seed)
    picks = np.stack([rng.choice(rows.shape[1], size=num_samples, replace=replacement,
                                 p=row / row.sum()) for row in rows]).astype(np.int64)
    return wrap_array(picks[0] if weights.ndim == 1 else picks)


# -- PyTorch's legacy typed constructors: FloatTensor([1.0]), LongTensor(2, 3) -------------
def _typed(dtype):
    def make(*data) -> Tensor:
        if all(isinstance(d, numbers.Integral) and not isinstance(d, bool) for d in data):
            return zeros(*data, dtype=dtype)  # a size, e.g. FloatTensor(2, 3) (zeros here)
        return tensor(data[0], dtype=dtype)
    make.dtype = np.dtype(dtype)  # so that x.type(minnet.LongTensor) converts, as PyTorch
    return make


FloatTensor, DoubleTensor, LongTensor = _typed(np.float32), _typed(np.float64), _typed(np.int64)
IntTensor, BoolTensor = _typed(np.int32), _typed(np.bool_)


def normal(mean, std=1.0, size=None, *, generator=None, seed: Optional[int] = None,
           dtype=None, requires_grad: bool = False) -> Tensor:
    """Normal samples: ``normal(mean, std)`` with Tensors of means and/or stds (one draw per
    entry; shapes broadcast), or ``normal(0.0, 1.0, size=(2, 3))`` with numbers. The
    generator is chosen as in ``randn``. The result is a new leaf (no gradient flows to
    ``mean`` or ``std``)."""
    mean_data = mean._data if isinstance(mean, Tensor) else mean
    std_data = std._data if isinstance(std, Tensor) else std
    if np.any(np.asarray(std_data) < 0):
        raise ValueError("normal(): std must be >= 0 everywhere. Hint: it is a standard "
                         "deviation, not a variance's square root taken of a negative number.")
    if size is None:
        if not (isinstance(mean, Tensor) or isinstance(std, Tensor)):
            raise TypeError("normal(): with two numbers give a size, e.g. normal(0.0, 1.0, "
                            "size=(2, 3))")
        shape = np.broadcast_shapes(np.shape(mean_data), np.shape(std_data))
    else:
        shape = _size((size,), "normal")
    like = mean if isinstance(mean, Tensor) else std if isinstance(std, Tensor) else None
    out_dtype = dtype or (like.dtype if like is not None and like.dtype.kind == "f"
                          else DEFAULT_DTYPE)
    rng = get_generator(generator, seed)
    values = mean_data + std_data * rng.standard_normal(shape)
    return _leaf(np.asarray(values).astype(out_dtype), None, None, requires_grad, "normal")


def bernoulli(input, p=None, *, generator=None, seed: Optional[int] = None) -> Tensor:
    """1 with probability ``input`` (or ``p``, the same for every entry), else 0; same
    shape and dtype as ``input``. The generator is chosen as in ``randn``."""
    data = input._data if isinstance(input, Tensor) else np.asarray(input)
    probability = data if p is None else np.full(data.shape, p)
    if np.any((probability < 0) | (probability > 1)) or np.any(np.isnan(probability)):
        raise ValueError("bernoulli(): probabilities must lie in [0, 1]. Hint: pass "
                         "probabilities (e.g. sigmoid(logits)), not logits.")
    rng = get_generator(generator, seed)
    return wrap_array((rng.random(data.shape) < probability).astype(data.dtype))


def meshgrid(*tensors, indexing: Optional[str] = None) -> tuple:
    """Coordinate grids from 1-D tensors: for a (n,) and b (m,), two (n, m) tensors with
    ``indexing='ij'`` (the default, as PyTorch's) or (m, n) with ``'xy'`` (NumPy's and
    matplotlib's, for plotting a decision boundary). Each grid is its vector broadcast, so
    gradients sum over the copies."""
    if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)):
        tensors = tuple(tensors[0])
    indexing = "ij" if indexing is None else indexing
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid(): indexing must be 'ij' or 'xy', got {indexing!r}")
    tensors = [t if isinstance(t, Tensor) else tensor(t) for t in tensors]
    for t in tensors:
        if t.ndim > 1:
            raise ValueError(f"meshgrid(): expects 0-d or 1-D tensors, got shape {t.shape}")
    vectors = [t.reshape(-1) for t in tensors]
    sizes = [v.shape[0] for v in vectors]
    if indexing == "xy" and len(vectors) >= 2:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    grids = []
    for position, vector in enumerate(vectors):
        axis = position
        if indexing == "xy" and position < 2:
            axis = 1 - position  # x varies along columns, y along rows
        shape = [1] * len(vectors)
        shape[axis] = vector.shape[0]
        grids.append(vector.reshape(*shape).expand(*sizes))
    return tuple(grids)


def _triangle_indices(row: int, col: int, offset: int, lower: bool, where: str) -> Tensor:
    if row < 0 or col < 0:
        raise ValueError(f"{where}(): row and col must be >= 0, got {row} and {col}")
    rows, cols = (np.tril_indices if lower else np.triu_indices)(row, offset, col)
    return wrap_array(np.stack([rows, cols]).astype(np.int64))


def tril_indices(row: int, col: int, offset: int = 0) -> Tensor:
    """The (2, n) int64 coordinates of a row x col matrix's lower triangle (diagonal
    ``offset`` included), row by row."""
    return _triangle_indices(row, col, offset, True, "tril_indices")


def triu_indices(row: int, col: int, offset: int = 0) -> Tensor:
    """The (2, n) int64 coordinates of the upper triangle (diagonal ``offset`` included)."""
    return _triangle_indices(row, col, offset, False, "triu_indices")
