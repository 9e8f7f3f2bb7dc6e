"""``gradcheck``: compare minnet's autograd with finite differences.

For a function of Tensors (or a Module, then also w.r.t. its parameters)::

    x = minnet.randn(3, 5, dtype=np.float64, requires_grad=True)
    res = minnet.gradcheck(lambda x: (x * x).sum(), x)
    assert res, res          # the repr is a readable report

Everything runs on float64 *copies*: the caller's tensors, the module's
parameters/buffers and their ``.grad`` are exactly as before afterwards.
"""
from __future__ import annotations

import inspect
import warnings
from contextlib import contextmanager
from typing import Optional

import numpy as np

from ..tensor import Tensor, _state, no_grad
from .compare import (Settings, Target, check_deterministic, check_targets, checker_generator,
                      kink_warnings, loose_agreement_warnings, swapped_gradients)
from .result import GradcheckError, GradcheckResult, GradcheckWarning

FLOAT32_WARNING = ("{names} {verb} float32: float32 keeps only ~7 significant digits, so "
                   "(L(x+eps) - L(x-eps)) / 2eps would be mostly rounding noise. gradcheck "
                   "checked float64 copies instead; create inputs with dtype=np.float64 (or "
                   "call model.double()) to silence this.")


def _is_module(fn) -> bool:
    from ..nn.module import Module
    return isinstance(fn, Module)


def argument_names(fn, count: int) -> list:
    """Names of ``fn``'s first ``count`` positional parameters (``input i`` when unknown)."""
    names = [f"input {i}" for i in range(count)]
    try:
        target = fn.forward if _is_module(fn) else fn
        params = [p for p in inspect.signature(target).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return names
    for i, param in enumerate(params[:count]):
        names[i] = param.name
    return names


@contextmanager
def _float64_module(module):
    """Give every parameter and buffer a float64 copy; put the originals back afterwards.

    The original arrays (and ``.grad``) are restored as the very same objects,
    so anything holding a reference to them (an optimizer) sees no change.
    """
    saved_params = [(p, p._data, p.grad) for p in module.parameters()]
    saved_buffers = [(b, b._data) for b in module.buffers()]
    try:
        for param, data, _ in saved_params:
            param._data = np.array(data, dtype=np.float64 if data.dtype.kind == "f" else data.dtype)
            param.grad = None
        for buffer, data in saved_buffers:
            # copies even for int buffers: train-mode forwards may update them in place
            buffer._data = np.array(data, dtype=np.float64 if data.dtype.kind == "f" else data.dtype)
        yield
    finally:
        for param, data, grad in saved_params:
            param._data, param.grad = data, grad
        for buffer, data in saved_buffers:
            buffer._data = data


def _working_inputs(inputs: tuple) -> list:
    """float64 copies of floating Tensor inputs (same requires_grad); others passed as they are."""
    working = []
    for value in inputs:
        if isinstance(value, Tensor) and value.dtype.kind == "f":
            working.append(Tensor(np.array(value._data, dtype=np.float64),
                                  requires_grad=value.requires_grad))
        else:
            working.append(value)
    return working


def _outputs(out, where: str) -> list:
    outputs = list(out) if isinstance(out, (tuple, list)) else [out]
    for k, o in enumerate(outputs):
        if not isinstance(o, Tensor):
            raise GradcheckError(
                f"gradcheck(): {where} returned {type(o).__name__}"
                f"{'' if len(outputs) == 1 else f' as output {k}'}, expected a Tensor (or a tuple "
                "of Tensors). Hint: build the output with minnet ops (not NumPy) so gradients "
                "can flow; for NumPy layers use check_backward().")
    differentiable = [o for o in outputs if o.dtype.kind == "f"]
    if not differentiable:
        raise GradcheckError(f"gradcheck(): {where} returned only non-floating outputs "
                             f"({', '.join(str(o.dtype) for o in outputs)}); only floating-point "
                             "outputs have gradients.")
    return differentiable  # integer/bool outputs (argmax, masks) have no gradient: skipped


def _output_weights(outputs: list, rng: np.random.Generator) -> list:
    """The fixed random w_k in L = sum_k sum(w_k * out_k); 1 for a single scalar output."""
    if len(outputs) == 1 and outputs[0]._data.size == 1:
        return [np.ones(outputs[0].shape)]
    return [rng.standard_normal(o.shape) for o in outputs]


def _weighted_per_sample(outputs: list, weights: list) -> np.ndarray:
    """L split along the first output axis (see compare.py); one number if that is not possible."""
    if len(outputs) == 1 and outputs[0].ndim >= 1:
        products = outputs[0]._data.astype(np.float64) * weights[0]
        return products.reshape(products.shape[0], -1).sum(axis=1)
    return np.array([sum(float(np.sum(o._data * w)) for o, w in zip(outputs, weights))])


def _backward_shape_guard(node, grad_out, parent_grads):
    """Turn a custom op's malformed backward into a clear error (the engine would zip silently)."""
    where = f"the backward of op '{node.op}'"
    if not isinstance(parent_grads, (tuple, list)):
        raise GradcheckError(f"gradcheck(): {where} returned {type(parent_grads).__name__}, "
                             f"expected a tuple with one gradient per input ({len(node._parents)}). "
                             "Hint: return (grad_a,) even for a single input.")
    if len(parent_grads) != len(node._parents):
        raise GradcheckError(f"gradcheck(): {where} returned {len(parent_grads)} gradient(s) but "
                             f"the op has {len(node._parents)} input(s). Hint: return one entry "
                             "per input, in order, with None for inputs that need no gradient.")
    for k, (parent, grad) in enumerate(zip(node._parents, parent_grads)):
        if grad is None or not parent.requires_grad:
            continue
        shape = np.shape(grad)
        if shape != parent.shape:
            raise GradcheckError(
                f"gradcheck(): {where} returned a gradient of shape {shape} for its input {k}, "
                f"which has shape {parent.shape}. Hint: a gradient has its input's shape; "
                "use unbroadcast(grad, shape) after broadcasting, .T to transpose.")


def _analytic_gradients(fn, working: list, targets: list, weights_rng) -> tuple:
    """Run forward + backward once; returns (analytic arrays, weights)."""
    for t in targets:
        t.grad = None
    out = fn(*working)
    outputs = _outputs(out, "fn")
    weights = _output_weights(outputs, weights_rng)
    connected = [(o, w) for o, w in zip(outputs, weights) if o.requires_grad]
    _state.backward_observers.append(_backward_shape_guard)
    try:
        for k, (o, w) in enumerate(connected):
            o.backward(gradient=w.astype(o.dtype), retain_graph=k < len(connected) - 1)
    finally:
        _state.backward_observers.remove(_backward_shape_guard)
    analytic = [np.zeros(t.shape) if t.grad is None else np.array(t.grad._data, dtype=np.float64)
                for t in targets]
    return analytic, weights, outputs


def sizes_of(named_arrays: list) -> dict:
    """{size: 'what has that size'} for every axis of the inputs and the output."""
    sizes = {}
    for name, shape in named_arrays:
        for axis, size in enumerate(shape):
            if size >= 2:
                sizes.setdefault(size, f"the size of axis {axis} of {name}")
    # then products of neighbouring axes (a mean over H * W positions in spatial
    # batchnorm); a product that several spans give is listed with each of them
    products = {}
    for name, shape in named_arrays:
        for first in range(len(shape)):
            for last in range(first + 1, len(shape)):
                span = shape[first:last + 1]
                where = f"axes {first}..{last} of {name} ({' x '.join(str(k) for k in span)})"
                spans = products.setdefault(int(np.prod(span)), [])
                if min(span) >= 2 and where not in spans and len(spans) < 3:
                    spans.append(where)
    for size, spans in products.items():
        if spans:
            sizes.setdefault(size, "the product of the sizes of " + " or of ".join(spans))
    return sizes


def _determinism_hint(fn) -> str:
    if _is_module(fn) and fn.training:
        dropouts = [type(m).__name__ for m in fn.modules() if "dropout" in type(m).__name__.lower()]
        what = f" (it contains {', '.join(sorted(set(dropouts)))})" if dropouts else ""
        return (f"the module is in train mode{what}: call model.eval() before gradcheck, or "
                "make the randomness repeatable (e.g. a function that re-seeds the Dropout "
                "generator at the start of every call).")
    return ("make fn deterministic: no fresh random numbers per call (use a fixed generator "
            "re-seeded at every call), no state that changes between calls.")


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              n_samples: Optional[int] = None, fast_mode: bool = False, seed: int = 0,
              raise_exception: bool = False, count_kinks: bool = False) -> GradcheckResult:
    """Check ``fn``'s analytic gradients against central finite differences, in float64.

    fn:        a function of Tensors returning a Tensor (or tuple), or a Module (parameters too).
    inputs:    a Tensor or a tuple of arguments; Tensors with ``requires_grad=True`` are checked.
    eps:       the step; an entry fails when |analytic - numeric| > atol + rtol * |numeric|.
    n_samples: check only this many random entries per input (None: all).
    fast_mode: one random directional derivative per input instead of entries.
    seed:      seeds the output weighting w (L = sum(w * out)), the entries and directions.
    raise_exception: raise GradcheckError with the report instead of returning a failure.
    count_kinks: count mismatches at kinks (ReLU/abs/max at 0) as failures.
    Returns a ``GradcheckResult``: truthy iff passed, ``repr`` is the report.
    """
    if not callable(fn):
        raise GradcheckError(f"gradcheck(): fn must be a function or a Module, got "
                             f"{type(fn).__name__}. Hint: gradcheck(lambda x: (x * x).sum(), "
                             f"[x]).")
    if isinstance(inputs, np.ndarray):
        raise GradcheckError("gradcheck(): inputs must be Tensors (or a tuple of arguments), got a "
                             "NumPy array. Hint: minnet.tensor(x, dtype=np.float64, "
                             "requires_grad=True); for NumPy layers use check_backward().")
    if not isinstance(inputs, Tensor) and not isinstance(inputs, (tuple, list)):
        raise GradcheckError(f"gradcheck(): inputs must be a Tensor or a tuple/list of the "
                             f"function's arguments, got {type(inputs).__name__}")
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    settings = Settings(eps, atol, rtol, n_samples, fast_mode, count_kinks)
    rng = checker_generator(seed)
    module = fn if _is_module(fn) else None
    names = argument_names(fn, len(inputs))
    working = _working_inputs(inputs)
    # the dtypes as the caller had them, read before any float64 copy is made
    original_dtypes = {names[i]: t.dtype for i, t in enumerate(inputs)
                       if isinstance(t, Tensor) and t.requires_grad}
    if module is not None:
        original_dtypes.update({name: p.dtype for name, p in module.named_parameters()})
    messages = []
    with (_float64_module(module) if module is not None else _nothing()):
        named = [(names[i], w) for i, w in enumerate(working)
                 if isinstance(w, Tensor) and w.requires_grad]
        if module is not None:
            named += [(name, p) for name, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise GradcheckError("gradcheck(): nothing to check: no input has requires_grad=True"
                                 + ("" if module is None else " and the module has no trainable "
                                    "parameters") + ". Hint: create the inputs with "
                                 "requires_grad=True, e.g. minnet.randn(3, 4, dtype=np.float64, "
                                 "requires_grad=True).")
        float32 = [name for name, _ in named if original_dtypes[name] == np.float32]
        if float32:
            text = FLOAT32_WARNING.format(names=", ".join(float32),
                                          verb="is" if len(float32) == 1 else "are")
            warnings.warn(text, GradcheckWarning, stacklevel=2)
            messages.append(text)
        analytic, weights, outputs = _analytic_gradients(fn, working, [t for _, t in named], rng)

        def evaluate() -> np.ndarray:
            with no_grad():
                outs = _outputs(fn(*working), "fn")
            return _weighted_per_sample(outs, weights)

        base = check_deterministic(evaluate, _determinism_hint(fn))
        sizes = sizes_of([(name, t.shape) for name, t in named]
                       + [("the output", o.shape) for o in outputs])
        checks = []
        for (name, tensor), grad in zip(named, analytic):
            target = Target(name, tensor._data, grad, original_dtypes[name])
            checks += check_targets([target], evaluate, base, settings, rng,
                                    {"name": name, "sizes": sizes})
    return finish(checks, messages, settings, raise_exception,
                  disconnected=not any(o.requires_grad for o in outputs))


def finish(checks: list, messages: list, settings: Settings, raise_exception: bool,
           disconnected: bool = False) -> GradcheckResult:
    """Collect warnings, build the result, raise if asked to."""
    if disconnected:
        messages.append("the output does not require grad: it is not connected to any checked "
                        "input through recorded ops (no_grad(), .data, NumPy or detach() cut "
                        "the graph)")
    swapped_gradients(checks, settings.atol, settings.rtol)
    messages = messages + loose_agreement_warnings(checks, settings.atol)
    kinks = kink_warnings(checks, settings.count_kinks)
    if kinks:
        warnings.warn("gradcheck: " + kinks[0] + " (see the report for all)", GradcheckWarning,
                      stacklevel=3)
    result = GradcheckResult(all(c.passed for c in checks), checks, messages + kinks,
                             settings.as_dict())
    if raise_exception and not result.passed:
        raise GradcheckError("gradcheck failed:\n" + repr(result))
    return result


@contextmanager
def _nothing():
    yield
