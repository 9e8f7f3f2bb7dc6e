"""``check_backward``: gradient-check a hand-written NumPy layer (CS231n style).

``forward(*arrays) -> (out, cache)`` and ``backward(dout, cache) -> one gradient per
input``, e.g. ``check_backward(affine_forward, affine_backward, x, w, b)``. With a
random upstream ``dout`` (fixed by ``seed``), ``backward(dout, cache)`` is compared with
central differences of ``L = sum(forward(...)[0] * dout)``. Integer inputs (labels)
are skipped; ``wrt=(0, 1)`` picks the checked inputs.
"""
from __future__ import annotations

import warnings
from typing import Optional, Sequence

import numpy as np

from .compare import Settings, checker_generator, Target, check_deterministic, check_targets
from .result import GradcheckError, GradcheckWarning
from .tensor_check import FLOAT32_WARNING, argument_names, finish, sizes_of

DETERMINISM_HINT = ("if the layer is random (dropout), fix its seed for the check (CS231n: "
                    "dropout_param['seed'] = 123) or check it in test mode; and make sure "
                    "forward keeps no state between calls.")


def _call_forward(forward, arrays: list):
    """forward(*arrays) -> (out as float64 array, cache), with clear errors for other shapes."""
    result = forward(*arrays)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        got = (f"a {type(result).__name__} of length {len(result)}"
               if isinstance(result, (tuple, list)) else type(result).__name__)
        raise GradcheckError(f"check_backward(): forward must return a pair (out, cache), got "
                             f"{got}. Hint: end the forward with `return out, cache` (the cache "
                             "holds what backward needs).")
    out, cache = result
    try:
        out = np.asarray(out, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise GradcheckError(f"check_backward(): forward's out must be a numeric array, got "
                             f"{type(out).__name__} ({err})") from err
    return out, cache


def _resolve_wrt(wrt, arrays: list, names: list) -> list:
    floating = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    if wrt is None:
        if not floating:
            raise GradcheckError("check_backward(): none of the inputs is a floating-point array, "
                                 "so there is nothing to differentiate. Hint: x.astype(np.float64).")
        return floating
    wrt = [wrt] if isinstance(wrt, (int, np.integer)) else list(wrt)
    for i in wrt:
        if not isinstance(i, (int, np.integer)) or not -len(arrays) <= i < len(arrays):
            raise GradcheckError(f"check_backward(): wrt={tuple(wrt)} holds {i!r}, but forward "
                                 f"takes {len(arrays)} input(s) (indices 0..{len(arrays) - 1}).")
        if arrays[i].dtype.kind != "f":
            raise GradcheckError(f"check_backward(): wrt includes input {i} ({names[i]}) of dtype "
                                 f"{arrays[i].dtype}: integer inputs (labels, indices) have no "
                                 "gradient. Hint: leave it out of wrt.")
    return [i % len(arrays) for i in wrt]


def _shape_hint(grad_shape: tuple, shape: tuple) -> str:
    if len(shape) == 2 and grad_shape == shape[::-1]:
        return ("it is the transpose of the input's shape: did you swap the factors of a "
                "matrix product (x.T @ dout vs dout.T @ x) or forget a .T?")
    if len(grad_shape) == len(shape) + 1 and grad_shape[1:] == shape:
        return (f"it has an extra leading axis of size {grad_shape[0]}: did you forget to sum "
                "over the batch axis (.sum(axis=0))?")
    if len(grad_shape) == len(shape) and all(g == s or s == 1 for g, s in zip(grad_shape, shape)):
        return ("the input was broadcast along its size-1 axes: sum the gradient over them "
                "with keepdims=True.")
    if int(np.prod(grad_shape)) == int(np.prod(shape)):
        return ("it has the right number of entries: reshape it (dx.reshape(x.shape)), but "
                "check that the order of the entries is right.")
    return "a gradient always has exactly the shape of its input."


def _describe(i: int, names: list) -> str:
    return f"'{names[i]}' (input {i})"


def _gradients_by_input(grads, wrt: list, arrays: list, names: list) -> dict:
    """Map backward's return value to {input index: float64 gradient}, validating it."""
    n_inputs = len(arrays)
    listing = ", ".join(names)
    if grads is None or isinstance(grads, np.ndarray) or np.isscalar(grads):
        if n_inputs == 1 or len(wrt) == 1:
            grads = (grads,)
        else:
            what = "None" if grads is None else f"a single {type(grads).__name__}"
            raise GradcheckError(
                f"check_backward(): backward returned {what}, but forward takes {n_inputs} "
                f"inputs ({listing}). Hint: return a tuple with one gradient per input, in the "
                f"same order, e.g. `return {', '.join('d' + n for n in names)}`.")
    if not isinstance(grads, (tuple, list)):
        raise GradcheckError(f"check_backward(): backward returned {type(grads).__name__}; expected "
                             "a tuple of gradient arrays, one per input.")
    if len(grads) == n_inputs:
        by_index = dict(enumerate(grads))
    elif len(grads) == len(wrt):
        by_index = dict(zip(wrt, grads))
    else:
        allowed = f"{n_inputs}" if len(wrt) == n_inputs else f"{n_inputs} (one per input) or " \
                  f"{len(wrt)} (one per checked input {tuple(wrt)})"
        raise GradcheckError(
            f"check_backward(): backward returned {len(grads)} gradient(s) but forward takes "
            f"{n_inputs} input(s) ({listing}); expected {allowed}. Hint: return one gradient "
            "per input in the forward's argument order; use None for inputs without a gradient "
            "(labels).")
    gradients = {}
    for i in wrt:
        grad = by_index.get(i)
        if grad is None:
            raise GradcheckError(f"check_backward(): backward returned None for the gradient of "
                                 f"{_describe(i, names)}. Hint: compute d{names[i]}, or leave "
                                 "this input out with wrt=(...).")
        try:
            grad = np.asarray(grad, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise GradcheckError(f"check_backward(): the gradient of {_describe(i, names)} is not "
                                 f"a numeric array ({type(grad).__name__}).") from err
        if grad.shape != arrays[i].shape:
            raise GradcheckError(
                f"check_backward(): the gradient of {_describe(i, names)} has shape {grad.shape} "
                f"but {names[i]} has shape {arrays[i].shape}. Hint: "
                f"{_shape_hint(grad.shape, arrays[i].shape)}")
        gradients[i] = grad
    return gradients


def check_backward(forward, backward, *arrays, eps: float = 1e-6, atol: float = 1e-5,
                   rtol: float = 1e-3, n_samples: Optional[int] = None, fast_mode: bool = False,
                   seed: int = 0, wrt: Optional[Sequence[int]] = None, count_kinks: bool = False,
                   raise_exception: bool = False):
    """Check ``backward(dout, cache)`` against finite differences of ``forward(*arrays)``.

    forward:  ``forward(*arrays) -> (out, cache)``; out any shape (a scalar loss too).
    backward: ``backward(dout, cache) -> grads``: a tuple/list with one gradient per
              input (None allowed for unchecked ones) or one per ``wrt`` input; a
              single array when there is one input.
    wrt:      indices of the inputs to check (default: every floating-point input).
    Other arguments as in ``gradcheck``. The caller's arrays are never modified:
    the check runs on float64 copies. Returns a ``GradcheckResult``.
    """
    for role, function in (("forward", forward), ("backward", backward)):
        if not callable(function):
            raise GradcheckError(f"check_backward(): {role} must be a function, got "
                                 f"{type(function).__name__}. Hint: check_backward(forward, "
                                 f"backward, x, w, b).")
    if not arrays:
        raise GradcheckError("check_backward(): pass the forward's inputs after the two "
                             "functions: check_backward(forward, backward, x, w, b).")
    settings = Settings(eps, atol, rtol, n_samples, fast_mode, count_kinks)
    rng = checker_generator(seed)
    names = argument_names(forward, len(arrays))
    originals = [np.asarray(a) for a in arrays]
    wrt = _resolve_wrt(wrt, originals, names)
    # copies: the caller's arrays stay untouched even if forward writes into its inputs
    working = [np.array(a, dtype=np.float64) if a.dtype.kind == "f" else np.array(a)
               for a in originals]
    messages = []
    float32 = [names[i] for i in wrt if originals[i].dtype != np.float64]
    if float32:
        text = FLOAT32_WARNING.format(names=", ".join(float32),
                                      verb="is" if len(float32) == 1 else "are")
        warnings.warn(text, GradcheckWarning, stacklevel=2)
        messages.append(text)

    given = [w.copy() for w in working]
    out, cache = _call_forward(forward, given)
    written = [names[i] for i, (g, w) in enumerate(zip(given, working))
               if g.shape != w.shape or not np.array_equal(g, w)]
    if written:
        messages.append(f"forward wrote into its input(s) {', '.join(written)} in place: a layer "
                        "should never modify its inputs (the caller still needs them); the check "
                        "gave forward a fresh copy at every call")
    dout = np.ones(out.shape) if out.size == 1 else rng.standard_normal(out.shape)
    grads = backward(dout.copy(), cache)
    gradients = _gradients_by_input(grads, wrt, originals, names)

    def evaluate() -> np.ndarray:
        # fresh copies each call: perturbing happens in ``working``, and a forward that
        # writes into its inputs must not corrupt the next evaluation
        value = _call_forward(forward, [w.copy() for w in working])[0]
        if value.shape != dout.shape:
            raise GradcheckError(f"check_backward(): forward's output changed shape from "
                                 f"{dout.shape} to {value.shape} between calls.")
        products = value * dout
        return products.reshape(products.shape[0], -1).sum(axis=1) if products.ndim \
            else products.reshape(1)

    base = check_deterministic(evaluate, DETERMINISM_HINT)
    sizes = sizes_of([(names[i], a.shape) for i, a in enumerate(originals)]
                     + [("the output", out.shape)])
    checks = []
    for i in wrt:
        target = Target(names[i], working[i], gradients[i], originals[i].dtype)
        checks += check_targets([target], evaluate, base, settings, rng,
                                {"name": names[i], "sizes": sizes})
    return finish(checks, messages, settings, raise_exception)
