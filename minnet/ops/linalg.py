"""Matrix products: ``matmul`` (with batching) and the fused ``linear``."""
from __future__ import annotations

import math

import numpy as np

from ..tensor import Tensor
from ._util import into, pair, unbroadcast


def _check_same_dtype(a: Tensor, b: Tensor, fn_name: str) -> None:
    """PyTorch refuses to multiply float32 by float64 (or ints by floats); so do we.

    Silently promoting would turn a whole float32 model into float64 because
    one batch came straight from NumPy, doubling memory and time.
    """
    if a._data.dtype != b._data.dtype:
        raise TypeError(f"{fn_name}(): both operands must have the same dtype, got "
                        f"{a._data.dtype} and {b._data.dtype}. Hint: convert the data with "
                        f".float() (float32, the default) or the model with .double().")


def matmul(input, other, *, out=None) -> Tensor:
    """``input @ other`` with NumPy's rules: 1-D operands are promoted, batch dims broadcast.

    Shapes: input (..., n, k) @ other (..., k, m) -> (..., n, m).
    """
    if out is not None:
        return into(out, matmul(input, other))
    input, other = pair(input, other, promote=False)  # PyTorch refuses mixed dtypes here
    _check_same_dtype(input, other, "matmul")
    if input.ndim == 0 or other.ndim == 0:
        raise ValueError(f"matmul(): both operands need at least 1 dimension, got shapes "
                         f"{input.shape} and {other.shape}. Hint: use * for scalar "
                         "multiplication.")
    k_a = input.shape[-1]
    k_b = other.shape[-2] if other.ndim >= 2 else other.shape[0]
    if k_a != k_b:
        raise ValueError(f"matmul(): shapes {input.shape} and {other.shape} cannot be "
                         f"multiplied: the last dim of the first ({k_a}) must equal the "
                         f"{'second-to-last' if other.ndim >= 2 else 'only'} dim of the "
                         f"second ({k_b}).")
    out = np.asarray(np.matmul(input._data, other._data))  # 1-D @ 1-D gives a NumPy scalar

    def backward(grad):
        # Work with at least 2-D views so one formula covers every case:
        # dA = dOut @ B^T, dB = A^T @ dOut, then undo the 1-D promotion and
        # sum over broadcast batch dims.
        a2 = input._data[None, :] if input.ndim == 1 else input._data
        b2 = other._data[:, None] if other.ndim == 1 else other._data
        g2 = grad
        if other.ndim == 1:  # (this order also works when both are 1-D and grad is 0-d)
            g2 = np.expand_dims(g2, -1)
        if input.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        grad_a = grad_b = None
        if input.requires_grad:
            grad_a = np.matmul(g2, np.swapaxes(b2, -1, -2))
            if input.ndim == 1:
                grad_a = np.squeeze(grad_a, -2)
            grad_a = unbroadcast(grad_a, input.shape)
        if other.requires_grad:
            grad_b = np.matmul(np.swapaxes(a2, -1, -2), g2)
            if other.ndim == 1:
                grad_b = np.squeeze(grad_b, -1)
            grad_b = unbroadcast(grad_b, other.shape)
        return grad_a, grad_b

    return Tensor._from_op(out, (input, other), backward, "matmul")


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias`` as one node (what ``nn.Linear`` calls).

    Shapes: input (..., in_features), weight (out_features, in_features),
    bias (out_features,) -> (..., out_features). Fusing the three steps into
    one node saves two graph nodes per layer and skips the input gradient when
    the input is data (``input.requires_grad`` is False).
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"linear(): input must be a Tensor, got {type(input).__name__}. "
                        "Hint: wrap arrays with minnet.tensor(...).")
    x, w = input._data, weight._data
    if w.ndim != 2:
        raise ValueError(f"linear(): weight must be 2-D (out_features, in_features), got shape "
                         f"{w.shape}")
    if bias is not None and bias._data.shape != (w.shape[0],):
        raise ValueError(f"linear(): bias must have shape ({w.shape[0]},) to match the "
                         f"weight {w.shape}, got {bias.shape}")
    _check_same_dtype(input, weight, "linear")
    if x.ndim == 0 or x.shape[-1] != w.shape[1]:
        raise ValueError(f"linear(): input has {x.shape[-1] if x.ndim else 'no'} features "
                         f"(shape {x.shape}) but the weight expects {w.shape[1]} "
                         f"(weight shape {w.shape})")
    # (an explicit row count: reshape(-1, 0) is ambiguous to NumPy when in_features is 0)
    x2d = x if x.ndim == 2 else x.reshape(math.prod(x.shape[:-1]), x.shape[-1])
    out2d = x2d @ w.T
    if bias is not None:
        if bias._data.dtype == out2d.dtype:
            out2d += bias._data  # in place: out2d is a new array, no need for another
        else:
            out2d = out2d + bias._data  # (a bias of another dtype promotes, as before)
    out = out2d if x.ndim == 2 else out2d.reshape(x.shape[:-1] + (w.shape[0],))
    parents = (input, weight) if bias is None else (input, weight, bias)

    def backward(grad):
        g2d = grad if grad.ndim == 2 else grad.reshape(-1, w.shape[0])
        grad_x = (g2d @ w).reshape(x.shape) if input.requires_grad else None
        grad_w = g2d.T @ x2d if weight.requires_grad else None
        if bias is None:
            return grad_x, grad_w
        grad_b = g2d.sum(axis=0) if bias.requires_grad else None
        return grad_x, grad_w, grad_b

    # every gradient above is a new array: the engine may hand it to a leaf uncopied
    backward.returns_new_arrays = True
    return Tensor._from_op(out, parents, backward, "linear", saved=(input, weight))


def mm(input: Tensor, mat2: Tensor, *, out=None) -> Tensor:
    """Matrix product of two 2-D tensors: (n, k) @ (k, m) -> (n, m) (no broadcasting)."""
    if getattr(input, "ndim", None) != 2 or getattr(mat2, "ndim", None) != 2:
        raise ValueError(f"mm(): both operands must be 2-D matrices, got shapes "
                         f"{getattr(input, 'shape', input)} and {getattr(mat2, 'shape', mat2)}. "
                         f"Hint: matmul (@) handles batches and vectors.")
    return matmul(input, mat2, out=out)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """Batched matrix product: (b, n, k) @ (b, k, m) -> (b, n, m) (same batch size b)."""
    if getattr(input, "ndim", None) != 3 or getattr(mat2, "ndim", None) != 3 \
            or input.shape[0] != mat2.shape[0]:
        raise ValueError(f"bmm(): expected two 3-D tensors with the same batch size, got shapes "
                         f"{getattr(input, 'shape', input)} and {getattr(mat2, 'shape', mat2)}")
    return matmul(input, mat2)


def dot(input: Tensor, other: Tensor) -> Tensor:
    """Inner product of two 1-D tensors of the same length -> a 0-d tensor."""
    if getattr(input, "ndim", None) != 1 or getattr(other, "ndim", None) != 1 \
            or input.shape != other.shape:
        raise ValueError(f"dot(): expected two 1-D tensors of the same length, got shapes "
                         f"{getattr(input, 'shape', input)} and {getattr(other, 'shape', other)}")
    return matmul(input, other)


def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation, as ``torch.einsum("ij,jk->ik", a, b)``; without ``->`` the output
    has the letters used once, in alphabetical order (``"ij,jk"`` is ``"ij,jk->ik"``).

    The gradient of operand i is again an einsum: the upstream gradient (with the
    output's letters) contracted with every other operand, giving operand i's letters.
    Letters that only operand i has and that are summed away get the gradient
    broadcast along them (each entry contributed once to the sum). A letter repeated
    within one operand reads its diagonal ("ii->i", the trace "ii->"), so the gradient
    lands on that diagonal and is 0 elsewhere. "..." is not supported.
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    equation = equation.replace(" ", "")
    if "." in equation:
        raise ValueError(f"einsum(): '...' is not supported; name every dim, e.g. "
                         f"'bij,bjk->bik'; got {equation!r}")
    if "->" not in equation:  # the implicit form: the letters used once, in alphabetical order
        letters = equation.replace(",", "")
        equation += "->" + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    inputs, output = equation.split("->")
    subscripts = inputs.split(",")
    if len(subscripts) != len(operands):
        raise ValueError(f"einsum(): {equation!r} names {len(subscripts)} operand(s), "
                         f"{len(operands)} given")
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in operands]
    for letters, t in zip(subscripts, tensors):
        if len(letters) != t.ndim or any(t.shape[k] != t.shape[letters.index(c)]
                                         for k, c in enumerate(letters)):
            raise ValueError(f"einsum(): subscripts {letters!r} do not fit an operand of shape "
                             f"{t.shape} (one letter per dim; a repeated letter needs equal "
                             f"sizes)")
    out = np.asarray(np.einsum(equation, *[t._data for t in tensors]))

    def backward(grad):
        grads = []
        for i, (letters, t) in enumerate(zip(subscripts, tensors)):
            if not t.requires_grad:
                grads.append(None)
                continue
            others = [(s, u._data) for j, (s, u) in enumerate(zip(subscripts, tensors)) if j != i]
            known = set(output).union(*(set(s) for s, _ in others))
            distinct = "".join(dict.fromkeys(letters))  # each letter once, in order
            reachable = "".join(c for c in distinct if c in known)
            spec = ",".join([output] + [s for s, _ in others]) + "->" + reachable
            g = np.einsum(spec, grad, *[a for _, a in others])
            # letters summed away by operand i alone: broadcast the gradient along them
            g = np.expand_dims(g, [k for k, c in enumerate(distinct) if c not in known])
            g = np.broadcast_to(g, [t.shape[letters.index(c)] for c in distinct])
            if distinct != letters:  # a repeated letter: only its diagonal was read
                full = np.zeros(t.shape, dtype=t.dtype)
                grid = np.indices(g.shape, sparse=True)
                full[tuple(grid[distinct.index(c)] for c in letters)] = g
                g = full
            grads.append(g.astype(t.dtype))
        return tuple(grads)

    return Tensor._from_op(out, tuple(tensors), backward, "einsum")


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """Outer product of two vectors: (n,) and (m,) -> (n, m), entry [i, j] = a[i] * b[j].
    A broadcast product of a column and a row, so mul's backward sums the copies."""
    if getattr(input, "ndim", None) != 1 or getattr(vec2, "ndim", None) != 1:
        raise ValueError(f"outer(): expected two 1-D tensors, got shapes "
                         f"{getattr(input, 'shape', input)} and {getattr(vec2, 'shape', vec2)}")
    return input.reshape(-1, 1) * vec2.reshape(1, -1)


ger = outer  # (PyTorch's older name)


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """beta * input + alpha * (mat1 @ mat2): (n, k) @ (k, m), input broadcast to (n, m)."""
    if getattr(mat1, "ndim", None) != 2 or getattr(mat2, "ndim", None) != 2:
        raise ValueError(f"addmm(): mat1 and mat2 must be 2-D matrices, got shapes "
                         f"{getattr(mat1, 'shape', mat1)} and {getattr(mat2, 'shape', mat2)}")
    product = matmul(mat1, mat2)
    if alpha != 1:
        product = product * alpha
    if beta == 0:  # input is ignored then, nan and inf included (as PyTorch)
        return product
    return (input if beta == 1 else input * beta) + product


def tensordot(a: Tensor, b: Tensor, dims=2) -> Tensor:
    """Sum of products over dims of ``a`` and ``b``: ``dims=k`` pairs a's last k dims with
    b's first k; ``dims=([1, 0], [0, 1])`` names the pairs. A permute, a reshape and one
    matrix product (so the backward is theirs)."""
    if isinstance(dims, int):
        if dims < 0:
            raise ValueError(f"tensordot(): dims must be >= 0, got {dims}")
        dims_a, dims_b = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        dims_a, dims_b = [list(d) if isinstance(d, (tuple, list)) else [d] for d in dims]
    dims_a = [d % a.ndim for d in dims_a] if a.ndim else []
    dims_b = [d % b.ndim for d in dims_b] if b.ndim else []
    if len(dims_a) != len(dims_b) or any(a.shape[i] != b.shape[j]
                                         for i, j in zip(dims_a, dims_b)):
        raise ValueError(f"tensordot(): the contracted dims must pair up with equal sizes, got "
                         f"{dims_a} of {a.shape} and {dims_b} of {b.shape}")
    free_a = [d for d in range(a.ndim) if d not in dims_a]
    free_b = [d for d in range(b.ndim) if d not in dims_b]
    summed = math.prod(a.shape[d] for d in dims_a)
    a_matrix = a.permute(*(free_a + dims_a)).reshape(-1, summed) if a.ndim else a.reshape(1, 1)
    b_matrix = b.permute(*(dims_b + free_b)).reshape(summed, -1) if b.ndim else b.reshape(1, 1)
    shape = tuple(a.shape[d] for d in free_a) + tuple(b.shape[d] for d in free_b)
    return matmul(a_matrix, b_matrix).reshape(shape)


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0) -> Tensor:
    """All pairwise p-norm distances between the rows of x1 (P, M) and x2 (R, M) -> (P, R)
    (with a batch dim in front, (B, P, M) and (B, R, M) -> (B, P, R)). Builds the (P, R, M)
    differences, so it is meant for the small sizes of a lab; the norm's backward gives a
    zero distance a zero gradient."""
    from .sorting import norm
    if getattr(x1, "ndim", 0) < 2 or getattr(x2, "ndim", 0) < 2 or x1.shape[-1] != x2.shape[-1]:
        raise ValueError(f"cdist(): expects (..., P, M) and (..., R, M) with the same M, got "
                         f"{getattr(x1, 'shape', x1)} and {getattr(x2, 'shape', x2)}")
    return norm(x1.unsqueeze(-2) - x2.unsqueeze(-3), p, -1)
