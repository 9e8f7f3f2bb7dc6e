"""``check_backward``: gradient-check a hand-written NumPy layer (CS231n style).

``forward(*arrays) -> (out, cache)`` and ``backward(dout, cache) -> one gradient per
input``, e.g. ``check_backward(affine_forward, affine_backward, x, w, b)``. With a
random upstream ``dout`` (fixed by ``seed``), ``backward(dout, cache)`` is compared with
central differences of ``L = sum(forward(...)[0] * dout)``. Integer inputs (labels)
are skipped; ``wrt=(0, 1)`` picks the checked inputs. Arguments that are not arrays
(CS231n's ``bn_param``/``conv_param`` dicts, ``reg=0.1``) are passed through unchanged.
A forward with several outputs returns ``(out_1, ..., out_k, cache)`` and its backward
takes ``(dout_1, ..., dout_k, cache)`` (CS231n's ``lstm_step_forward``).
"""
from __future__ import annotations

import copy
import warnings
from typing import Optional, Sequence

import numpy as np

from .compare import Settings, checker_generator, Target, check_deterministic, check_targets
from .result import GradcheckError, GradcheckWarning
from .tensor_check import FLOAT32_WARNING, argument_names, finish, sizes_of

DETERMINISM_HINT = ("if the layer is random (dropout), fix its seed for the check (CS231n: "
                    "dropout_param['seed'] = 123) or check it in test mode; and make sure "
                    "forward keeps no state between calls.")


MASKED_NOTE = ("forward returned a NumPy masked array (np.ma): its masked entries were "
               "counted as 0, as NumPy's masked sums and np.ma.dot do (np.asarray would silently "
               "unmask them and check another function). Return a plain array instead, e.g. "
               "np.maximum(x, 0) or np.where(mask, x, 0): NumPy functions that are not "
               "mask-aware see the hidden values.")


def _as_output(value, k: int, count: int, notes: set) -> np.ndarray:
    """One forward output as a float64 array; a masked array's masked entries become 0."""
    if isinstance(value, np.ma.MaskedArray):
        notes.add(MASKED_NOTE)
        value = value.astype(np.float64).filled(0.0)
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        which = "out" if count == 1 else f"output {k} (of {count})"
        raise GradcheckError(f"check_backward(): forward's {which} must be a numeric array, got "
                             f"{type(value).__name__} ({err}). Hint: forward returns (out, cache), "
                             "or (out_1, ..., out_k, cache) for several outputs.") from err


def _call_forward(forward, arguments: list, notes: set):
    """forward(*arguments) -> ([outputs as float64 arrays], cache), with clear errors.

    ``(out, cache)`` is one output; ``(out_1, ..., out_k, cache)`` with k >= 2 are k
    outputs whose backward takes ``(dout_1, ..., dout_k, cache)``.
    """
    result = forward(*arguments)
    if not isinstance(result, (tuple, list)) or len(result) < 2:
        got = (f"a {type(result).__name__} of length {len(result)}"
               if isinstance(result, (tuple, list)) else type(result).__name__)
        raise GradcheckError(f"check_backward(): forward must return a pair (out, cache), got "
                             f"{got}. Hint: end the forward with `return out, cache` (the cache "
                             "holds what backward needs).")
    *outputs, cache = result
    return [_as_output(o, k, len(outputs), notes) for k, o in enumerate(outputs)], cache


def _is_array_argument(value) -> bool:
    return isinstance(value, np.ndarray)


def _is_scalar_argument(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _fresh(value):
    """A private copy of a pass-through argument: a forward may update it (CS231n's
    batchnorm writes running_mean into bn_param), and every evaluation must start from
    the same state, with the caller's object untouched."""
    try:
        return copy.deepcopy(value)
    except Exception:  # an object that cannot be copied is passed as it is
        return value


def _resolve_wrt(wrt, arguments: list, names: list) -> list:
    """The indices of the checked inputs: by default every floating-point *array*
    (Python numbers like ``reg=0.1`` and dicts like ``bn_param`` are settings, not inputs)."""
    floating = [i for i, a in enumerate(arguments)
                if _is_array_argument(a) and a.dtype.kind == "f"]
    if wrt is None:
        if not floating:
            raise GradcheckError("check_backward(): none of the inputs is a floating-point array, "
                                 "so there is nothing to differentiate. Hint: x.astype(np.float64).")
        return floating
    wrt = [wrt] if isinstance(wrt, (int, np.integer)) else list(wrt)
    for i in wrt:
        if not isinstance(i, (int, np.integer)) or not -len(arguments) <= i < len(arguments):
            raise GradcheckError(f"check_backward(): wrt={tuple(wrt)} holds {i!r}, but forward "
                                 f"takes {len(arguments)} input(s) (indices "
                                 f"0..{len(arguments) - 1}).")
        value = arguments[i]
        if _is_scalar_argument(value) and isinstance(value, (float, np.floating)):
            continue  # a float number can be checked: it becomes a 0-d array
        if not _is_array_argument(value):
            raise GradcheckError(f"check_backward(): wrt includes input {i} ({names[i]}), a "
                                 f"{type(value).__name__}: only arrays (and float numbers) can be "
                                 "differentiated. Hint: pass it as np.array(..., dtype=np.float64) "
                                 "or leave it out of wrt.")
        if value.dtype.kind != "f":
            raise GradcheckError(f"check_backward(): wrt includes input {i} ({names[i]}) of dtype "
                                 f"{value.dtype}: integer inputs (labels, indices) have no "
                                 "gradient. Hint: leave it out of wrt.")
    return [i % len(arguments) for i in wrt]


def _shape_hint(grad_shape: tuple, shape: tuple, others: dict = None) -> str:
    """Why a gradient may have the wrong shape; ``others`` maps the other checked
    inputs' names to their shapes (a gradient shaped like another input was
    probably returned in the wrong position)."""
    for name, other_shape in (others or {}).items():
        if grad_shape == other_shape:
            return (f"{grad_shape} is the shape of {name}: are the gradients returned in "
                    "another order than the forward's arguments? Return them in the same "
                    "order (affine_forward(x, w, b) -> return dx, dw, db).")
    if len(shape) == 2 and grad_shape == shape[::-1]:
        return ("it is the transpose of the input's shape: did you swap the factors of a "
                "matrix product (x.T @ dout vs dout.T @ x) or forget a .T?")
    if len(grad_shape) == len(shape) + 1 and grad_shape[1:] == shape and grad_shape[0] == 1:
        return ("it has an extra leading axis of size 1: a sum or mean with keepdims=True "
                "keeps the summed axis; drop keepdims (dbeta = dout.sum(axis=0)) or "
                "reshape it to the input's shape.")
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
            checked = [names[i] for i in wrt]
            subset = "" if grads is None else (
                f" If it is the gradient of {names[wrt[0]]} only, say so: wrt=({wrt[0]},) (e.g. a "
                "loss function returning (loss, dW) checks W only).")
            raise GradcheckError(
                f"check_backward(): backward returned {what}, but forward takes {n_inputs} "
                f"inputs ({listing}), {len(wrt)} of them checked ({', '.join(checked)}). Hint: "
                f"return a tuple with one gradient per checked input, in the forward's order, "
                f"e.g. `return {', '.join('d' + n for n in checked)}`.{subset}")
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
        subset = ""
        if 1 <= len(grads) < len(wrt):
            picked = tuple(wrt[:len(grads)])
            subset = (f" If backward returns the gradients of only some inputs, say which: "
                      f"wrt={picked} (e.g. a loss function returning (loss, dW) checks W "
                      "only).")
        raise GradcheckError(
            f"check_backward(): backward returned {len(grads)} gradient(s) but forward takes "
            f"{n_inputs} input(s) ({listing}); expected {allowed}. Hint: return one gradient "
            "per input in the forward's argument order; use None for inputs without a gradient "
            f"(labels).{subset}")
    others_of = {i: {names[j]: np.shape(arrays[j]) for j in wrt if j != i} for i in wrt}
    gradients = {}
    for i in wrt:
        others = others_of[i]
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
                f"{_shape_hint(grad.shape, arrays[i].shape, others)}")
        gradients[i] = grad
    return gradients


def check_backward(forward, backward, *arrays, eps: float = 1e-6, atol: float = 1e-5,
                   rtol: float = 1e-3, n_samples: Optional[int] = None, fast_mode: bool = False,
                   seed: int = 0, wrt: Optional[Sequence[int]] = None, count_kinks: bool = False,
                   raise_exception: bool = False):
    """Check ``backward(dout, cache)`` against finite differences of ``forward(*arrays)``.

    forward: ``forward(*arrays) -> (out, cache)``, out any shape; several outputs:
        ``(out_1, ..., out_k, cache)``, then ``backward(dout_1, ..., dout_k, cache)``.
    backward: one gradient per input (None for unchecked ones) or per ``wrt`` input, as a
        tuple/list; a single array when there is one input.
    arrays: floating-point arrays are checked; anything else (labels, bn_param, reg) is
        passed through. wrt: indices of the checked inputs (default: every float array).
    Other arguments as in ``gradcheck``. Runs on float64 copies (the caller's arguments are
    never modified). Returns a ``GradcheckResult``.
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
    originals = list(arrays)
    wrt = _resolve_wrt(wrt, originals, names)
    # copies: the caller's arrays stay untouched even if forward writes into its inputs;
    # checked inputs are float64 (a float number in wrt becomes a 0-d array)
    working = []
    for i, value in enumerate(originals):
        if i in wrt or (_is_array_argument(value) and value.dtype.kind == "f"):
            # C order: the checker perturbs entries through a flat view (x.T is Fortran-ordered)
            working.append(np.array(value, dtype=np.float64, order="C"))
        elif _is_array_argument(value):
            working.append(np.array(value))
        else:
            working.append(value)
    dtypes = {i: getattr(originals[i], "dtype", np.dtype(np.float64)) for i in wrt}
    messages = []
    float32 = [names[i] for i in wrt if dtypes[i] != np.float64]
    if float32:
        text = FLOAT32_WARNING.format(names=", ".join(float32),
                                      verb="is" if len(float32) == 1 else "are")
        warnings.warn(text, GradcheckWarning, stacklevel=2)
        messages.append(text)

    def arguments() -> list:
        """Fresh copies for one call of forward (it may write into them)."""
        return [w.copy() if isinstance(w, np.ndarray) else _fresh(w) for w in working]

    notes = set()
    given = arguments()
    outs, cache = _call_forward(forward, given, notes)
    written = [names[i] for i, (g, w) in enumerate(zip(given, working))
               if isinstance(w, np.ndarray) and (g.shape != w.shape or not np.array_equal(g, w))]
    if written:
        messages.append(f"forward wrote into its input(s) {', '.join(written)} in place: a layer "
                        "should never modify its inputs (the caller still needs them); the check "
                        "gave forward a fresh copy at every call")
    if len(outs) == 1 and outs[0].size == 1:
        douts = [np.ones(outs[0].shape)]  # a loss: the analytic gradient is the loss's own
    else:
        douts = [rng.standard_normal(o.shape) for o in outs]
    try:
        grads = backward(*[d.copy() for d in douts], cache)
    except TypeError as err:
        if len(outs) == 1 or "argument" not in str(err):
            raise
        raise GradcheckError(
            f"check_backward(): forward returned {len(outs) + 1} values, read as {len(outs)} "
            f"outputs and a cache, so backward was called with {len(outs)} upstream gradients "
            f"and the cache, and raised: {err}. Hint: a forward with one output returns "
            "exactly (out, cache); put everything backward needs into one cache tuple.") from err
    gradients = _gradients_by_input(grads, wrt, working, names)
    # split L per output sample (see compare.py) when all outputs share their first axis
    leading = {o.shape[0] if o.ndim else None for o in outs}
    per_sample = len(leading) == 1 and None not in leading

    def evaluate() -> np.ndarray:
        # fresh copies each call: perturbing happens in ``working``, and a forward that
        # writes into its inputs must not corrupt the next evaluation
        values = _call_forward(forward, arguments(), notes)[0]
        if [v.shape for v in values] != [d.shape for d in douts]:
            raise GradcheckError(f"check_backward(): forward's output changed shape from "
                                 f"{[d.shape for d in douts]} to {[v.shape for v in values]} "
                                 "between calls.")
        if per_sample:
            return sum((v * d).reshape(v.shape[0], -1).sum(axis=1) for v, d in zip(values, douts))
        return np.array([sum(float(np.sum(v * d)) for v, d in zip(values, douts))])

    def evaluate_ones() -> float:
        """L with dout = all ones (out.sum()): tells a backward that ignores dout."""
        return sum(float(v.sum()) for v in _call_forward(forward, arguments(), notes)[0])

    base = check_deterministic(evaluate, DETERMINISM_HINT)
    scalar_loss = len(outs) == 1 and outs[0].size == 1  # dout = 1 already
    sizes = sizes_of([(names[i], np.shape(a)) for i, a in enumerate(working)
                      if isinstance(a, np.ndarray)]
                     + [("the output", o.shape) for o in outs])
    checks = []
    for i in wrt:
        target = Target(names[i], working[i], gradients[i], dtypes[i])
        checks += check_targets([target], evaluate, base, settings, rng,
                                {"name": names[i], "sizes": sizes,
                                 "evaluate_ones": None if scalar_loss else evaluate_ones})
    return finish(checks, messages + sorted(notes), settings, raise_exception)
