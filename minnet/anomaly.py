"""Anomaly mode: stop at the first op that makes a NaN or an Inf, and say why.

``with minnet.detect_anomaly(): ...`` checks each op result (forward) and each
gradient a backward returns; the first non-finite value raises `AnomalyError`
naming the op, its module, the phase, what the op received and the user's line
that created it. Forward flags a NaN, or an Inf made from finite inputs (an
``-inf`` mask travelling on is not the culprit; ``log(0)`` is). The mode adds
observers to ``minnet.tensor._state`` while on, so when off the engine pays nothing.
"""
from __future__ import annotations

import functools
import linecache
import os
import sys
import weakref
from typing import Callable, NamedTuple, Optional

import numpy as np

from .tensor import Tensor, _state

__all__ = ["AnomalyError", "SourceLine", "detect_anomaly", "set_detect_anomaly",
           "is_anomaly_enabled", "is_anomaly_check_nan_enabled"]

# frames in files under this folder are minnet's own, not the user's code
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


# --------------------------------------------------------------------------
# The error
# --------------------------------------------------------------------------
class SourceLine(NamedTuple):
    """The user's line that created an op: ``file``, ``line`` (1-based), ``code`` text."""

    file: str
    line: int
    code: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.code}"


class AnomalyError(RuntimeError):
    """The first NaN/Inf seen in anomaly mode, with fields a debugger turns into a finding.

    ``op``, ``module`` (or None), ``phase`` ("forward"/"backward"), ``source`` (a
    `SourceLine` or None), ``stats`` (numbers), ``detail`` (what the op received),
    ``hint``, and ``code``: ``grad.nonfinite`` (backward), ``data.nonfinite`` (a
    data tensor was already non-finite) or ``loss.nonfinite`` (an op made it so).
    """

    def __init__(self, message: str, *, op: str, module: Optional[str], phase: str,
                 source: Optional[SourceLine], stats: dict, detail: str, hint: str,
                 code: str):
        super().__init__(message)
        self.op = op
        self.module = module
        self.phase = phase
        self.source = source
        self.stats = stats
        self.detail = detail
        self.hint = hint
        self.code = code

    def to_dict(self) -> dict:
        """Plain data (JSON-ready) for reports."""
        return {"code": self.code, "op": self.op, "module": self.module, "phase": self.phase,
                "source": None if self.source is None else self.source._asdict(),
                "stats": dict(self.stats), "detail": self.detail, "hint": self.hint}


# --------------------------------------------------------------------------
# The mode switch
# --------------------------------------------------------------------------
class _AnomalyMode:
    enabled = False
    check_nan = True


_mode = _AnomalyMode()

# id(op result) -> (weak reference to it, file, line): where each recorded op
# was created, so a backward error can name it. Entries vanish with their tensor.
_created_at: dict = {}


def is_anomaly_enabled() -> bool:
    return _mode.enabled


def is_anomaly_check_nan_enabled() -> bool:
    return _mode.enabled and _mode.check_nan


def _switch(enabled: bool, check_nan: bool) -> None:
    """Set the mode and add/remove this module's observers to match it."""
    _mode.enabled, _mode.check_nan = bool(enabled), bool(check_nan)
    forward, backward = _state.forward_observers, _state.backward_observers
    if _mode.enabled:
        if _on_forward not in forward:
            forward.append(_on_forward)
        if _on_backward not in backward:
            backward.append(_on_backward)
    else:
        if _on_forward in forward:
            forward.remove(_on_forward)
        if _on_backward in backward:
            backward.remove(_on_backward)
        _created_at.clear()


class detect_anomaly:
    """Check every op's result and every gradient for NaN/Inf; raise `AnomalyError` at the first.

    A context manager (``with minnet.detect_anomaly(): ...``) or a decorator
    (``@minnet.detect_anomaly()`` or ``@minnet.detect_anomaly``). On exit the
    previous mode is restored, so blocks nest. ``check_nan=False`` (as in
    PyTorch) only records where ops were created, without checking values.
    Slow (every op result is scanned and the call stack walked): use it to
    find a NaN, not for training runs.
    """

    def __new__(cls, check_nan=True):
        if callable(check_nan):  # bare ``@detect_anomaly`` on a function
            return cls()(check_nan)
        return super().__new__(cls)

    def __init__(self, check_nan: bool = True):
        self.check_nan = bool(check_nan)
        self._previous: list = []  # a stack, so one instance can be re-entered

    def __enter__(self):
        self._previous.append((_mode.enabled, _mode.check_nan))
        _switch(True, self.check_nan)
        return self

    def __exit__(self, *exc):
        _switch(*self._previous.pop())
        return False

    def __call__(self, func: Callable) -> Callable:
        check_nan = self.check_nan

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with detect_anomaly(check_nan):
                return func(*args, **kwargs)

        return wrapper


class set_detect_anomaly:
    """Turn anomaly mode on or off at once; as a context manager, restore on exit (as torch)."""

    def __init__(self, mode: bool, check_nan: bool = True):
        self._previous = (_mode.enabled, _mode.check_nan)
        _switch(mode, check_nan)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _switch(*self._previous)
        return False


# --------------------------------------------------------------------------
# Where an op was created: the first frame outside the minnet package
# --------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _is_internal(filename: str) -> bool:
    return os.path.abspath(filename).startswith(_PACKAGE_DIR)


def _user_frame() -> Optional[tuple]:
    """(file, line) of the innermost caller outside minnet, or None."""
    frame = sys._getframe(1)
    while frame is not None and _is_internal(frame.f_code.co_filename):
        frame = frame.f_back
    return None if frame is None else (frame.f_code.co_filename, frame.f_lineno)


def _source_line(where: Optional[tuple]) -> Optional[SourceLine]:
    if where is None:
        return None
    file, line = where
    return SourceLine(file, line, linecache.getline(file, line).strip())


def _remember_creation(out: Tensor) -> None:
    key = id(out)
    where = _user_frame()
    if where is not None:
        ref = weakref.ref(out, lambda _ref, key=key: _created_at.pop(key, None))
        _created_at[key] = (ref, *where)


def _created_where(node: Tensor) -> Optional[tuple]:
    entry = _created_at.get(id(node))
    if entry is None or entry[0]() is not node:
        return None
    return entry[1], entry[2]


# --------------------------------------------------------------------------
# The observers
# --------------------------------------------------------------------------
def _on_forward(out: Tensor, inputs) -> None:
    if _mode.check_nan and out._data.dtype.kind in "fc" and not np.isfinite(out._data).all():
        inputs_have_inf = any(_count(x._data)[1] for x in inputs)
        if np.isnan(out._data).any() or not inputs_have_inf:
            raise _forward_error(out, inputs)
    if out._backward is not None:
        _remember_creation(out)  # for a backward error later


def _on_backward(node: Tensor, grad_out: np.ndarray, parent_grads) -> None:
    if not _mode.check_nan:
        return
    for index, (parent, grad) in enumerate(zip(node._parents, parent_grads)):
        if grad is None or not parent.requires_grad:
            continue
        grad = np.asarray(grad)
        if grad.dtype.kind in "fc" and not np.isfinite(grad).all():
            raise _backward_error(node, grad_out, index, grad)


# --------------------------------------------------------------------------
# Explaining a forward anomaly
# --------------------------------------------------------------------------
def _count(array: np.ndarray) -> tuple:
    """(number of NaN, number of Inf) in ``array``."""
    if array.dtype.kind not in "fc":
        return 0, 0
    return int(np.isnan(array).sum()), int(np.isinf(array).sum())


def _explain_log(out, inputs):
    x = inputs[0]._data
    zeros, negatives = int((x == 0).sum()), int((x < 0).sum())
    parts = []
    if zeros:
        parts.append(f"log got 0.0 at {zeros} of {x.size} positions")
    if negatives:
        parts.append(f"log got a negative input at {negatives} of {x.size} positions")
    if not parts:
        return None
    detail = ", ".join(parts) + f", min input {_fmt(_finite_min(x))}"
    stats = {"zeros": zeros, "negatives": negatives, "min_input": _finite_min(x)}
    hint = ("keep the argument positive: log(p + 1e-8) or clamp(p, min=1e-8); for "
            "probabilities, work with logits (log_softmax, cross_entropy) instead")
    return detail, stats, hint


def _explain_exp(out, inputs):
    x = inputs[0]._data
    limit = float(np.log(np.finfo(out._data.dtype).max))
    overflowed = int((x > limit).sum())
    if not overflowed:
        return None
    dtype = np.dtype(out._data.dtype).name
    detail = (f"exp overflowed: input max {_fmt(_finite_max(x))} > log({dtype} max) {limit:.1f} "
              f"at {overflowed} of {x.size} positions")
    stats = {"overflowed": overflowed, "max_input": _finite_max(x), "threshold": limit}
    hint = ("subtract the maximum before exp (as softmax and logsumexp do); if the inputs "
            "grew during training, the learning rate may be too high")
    return detail, stats, hint


def _explain_div(out, inputs):
    numerator, denominator = (np.broadcast_to(x._data, out._data.shape) for x in inputs)
    zero_den = denominator == 0
    zeros = int(zero_den.sum())
    if not zeros and not (np.isfinite(numerator).all() and np.isfinite(denominator).all()):
        return None  # nothing div did: the inputs were already non-finite
    if not zeros:
        smallest = float(np.abs(denominator).min()) if denominator.size else 0.0
        detail = (f"div overflowed: smallest |denominator| {smallest:.3g}, largest |numerator| "
                  f"{_finite_max(np.abs(numerator)):.3g}")
        stats = {"min_abs_denominator": smallest}
        hint = "keep the denominator away from 0, e.g. x / (s + 1e-8)"
        return detail, stats, hint
    zero_over_zero = int((zero_den & (numerator == 0)).sum())
    detail = f"div got a zero denominator at {zeros} of {out._data.size} positions"
    if zero_over_zero:
        detail += f" (0/0 = NaN at {zero_over_zero} of them)"
    stats = {"zero_denominators": zeros, "zero_over_zero": zero_over_zero}
    hint = ("add an epsilon to the denominator (x / (s + 1e-8)) or clamp it; a sum or "
            "standard deviation over an empty or constant slice is 0")
    return detail, stats, hint


def _explain_sqrt(out, inputs):
    x = inputs[0]._data
    negatives = int((x < 0).sum())
    if not negatives:
        return None
    detail = (f"sqrt got a negative input at {negatives} of {x.size} positions, "
              f"min input {_fmt(_finite_min(x))}")
    stats = {"negatives": negatives, "min_input": _finite_min(x)}
    hint = ("clamp the argument to >= 0; a variance computed as E[x^2] - E[x]^2 can dip "
            "below 0 by rounding")
    return detail, stats, hint


def _explain_pow(out, inputs):
    base = np.broadcast_to(inputs[0]._data, out._data.shape)
    bad_nan = np.isnan(out._data) & (base < 0)
    bad_inf = np.isinf(out._data) & (base == 0)
    if bad_nan.any():
        count = int(bad_nan.sum())
        detail = (f"pow got a negative base at {count} of {out._data.size} positions (a fractional "
                  f"power of a negative number is NaN), min base {_fmt(_finite_min(base))}")
        return detail, {"negative_bases": count, "min_input": _finite_min(base)}, \
            "clamp the base to >= 0 or use an integer exponent"
    if bad_inf.any():
        count = int(bad_inf.sum())
        detail = f"pow got a zero base at {count} of {out._data.size} positions (0 to a negative power is Inf)"
        return detail, {"zero_bases": count}, "add an epsilon to the base"
    return None


_EXPLAINERS = {"log": _explain_log, "exp": _explain_exp, "div": _explain_div,
               "sqrt": _explain_sqrt, "pow": _explain_pow}


def _fmt(value: float) -> str:
    """A number as a student would write it: 0.0, -1.5, 812.3, 1e+30."""
    text = f"{value:.6g}"
    return text if any(c in text for c in ".ein") else text + ".0"


def _finite_min(x: np.ndarray) -> float:
    finite = x[np.isfinite(x)] if x.dtype.kind in "fc" else x
    return float(finite.min()) if finite.size else float("nan")


def _finite_max(x: np.ndarray) -> float:
    finite = x[np.isfinite(x)] if x.dtype.kind in "fc" else x
    return float(finite.max()) if finite.size else float("nan")


def _describe_inputs(inputs) -> tuple:
    """One clause per input: shape, finite range, and any NaN/Inf it already held."""
    clauses, already = [], []
    for k, x in enumerate(inputs):
        nan, inf = _count(x._data)
        clause = (f"input {k} {tuple(x.shape)} with finite values in "
                  f"[{_fmt(_finite_min(x._data))}, {_fmt(_finite_max(x._data))}]") \
            if x._data.size and x._data.dtype.kind in "fciub" else f"input {k} {tuple(x.shape)}"
        if nan or inf:
            clause += f" already holding {nan} NaN and {inf} Inf"
            already.append(k)
        clauses.append(clause)
    return "; ".join(clauses), already


def _explain_generic(out, inputs):
    described, already = _describe_inputs(inputs)
    stats = {"inputs_already_nonfinite": len(already)}
    if already:
        detail = f"{out.op} received non-finite values: {described}"
        hint = ("the NaN/Inf came from before this op: from the data, from a parameter "
                "(a NaN gradient step?) or from an op run outside anomaly mode")
    else:
        dtype = np.dtype(out._data.dtype)
        biggest = max((float(np.abs(x._data).max()) for x in inputs
                       if x._data.size and x._data.dtype.kind in "fciub"), default=0.0)
        stats["max_abs_input"] = biggest
        detail = (f"{out.op} got finite inputs ({described}) but its result left {dtype.name} "
                  f"range (max {np.finfo(dtype).max:.3g})" if dtype.kind == "f" else
                  f"{out.op} got finite inputs ({described})")
        hint = ("values this large usually mean exploding activations or a too high "
                "learning rate; normalise the inputs or lower the learning rate")
    return detail, stats, hint


def _node_being_differentiated() -> Optional[Tensor]:
    """The graph node whose backward is running now, or None (the engine keeps it).

    A custom ``autograd.Function.backward`` computes with ordinary ops, so a NaN
    it makes is first seen by the forward observer: this lets the error say "backward".
    """
    return _state.current_node


def _forward_error(out: Tensor, inputs) -> AnomalyError:
    nan, inf = _count(out._data)
    explained = _EXPLAINERS.get(out.op, lambda *_: None)(out, inputs) \
        or _explain_generic(out, inputs)
    detail, op_stats, hint = explained
    stats = {"size": int(out._data.size), "nan": nan, "inf": inf, **op_stats}
    source = _source_line(_user_frame())
    made = " and ".join(f"{n} {what}" for n, what in ((nan, "NaN"), (inf, "Inf")) if n)
    node = _node_being_differentiated()
    if node is not None:  # an op inside a custom backward: a gradient went non-finite
        headline = (f"backward: op '{out.op}' in the backward of op '{node.op}'"
                    f"{_in_module(node)} made {made} of {out._data.size} values")
        return AnomalyError(_message(headline, detail, hint, source, None),
                            op=node.op, module=node.module, phase="backward", source=source,
                            stats=stats, detail=detail, hint=hint,
                            code="grad.nonfinite")
    data_inputs_bad = [x for x in inputs
                       if x.op is None and not x.requires_grad and sum(_count(x._data))]
    code = "data.nonfinite" if data_inputs_bad else "loss.nonfinite"
    headline = f"forward: op '{out.op}'{_in_module(out)} made {made} of {out._data.size} values"
    return AnomalyError(_message(headline, detail, hint, source, None),
                        op=out.op, module=out.module, phase="forward", source=source,
                        stats=stats, detail=detail, hint=hint, code=code)


# --------------------------------------------------------------------------
# Explaining a backward anomaly
# --------------------------------------------------------------------------
# ops whose derivative is infinite where input ``k`` is 0: op -> (input index, derivative)
_INFINITE_SLOPE_AT_ZERO = {"sqrt": (0, "1 / (2 sqrt(x))"), "log": (0, "1 / x"),
                           "div": (1, "-a / b^2"), "pow": (0, "p x^(p-1) with p < 1")}


def _backward_error(node: Tensor, grad_out: np.ndarray, index: int,
                    grad: np.ndarray) -> AnomalyError:
    nan, inf = _count(grad)
    in_nan, in_inf = _count(np.asarray(grad_out))
    stats = {"input_index": index, "size": int(grad.size), "nan": nan, "inf": inf,
             "grad_out_nan": in_nan, "grad_out_inf": in_inf,
             "grad_out_max_abs": _finite_max(np.abs(np.asarray(grad_out)))}
    made = " and ".join(f"{n} {what}" for n, what in ((nan, "NaN"), (inf, "Inf")) if n)
    headline = (f"backward: the gradient for input {index} of op '{node.op}'{_in_module(node)} "
                f"has {made} of {grad.size} values")
    if in_nan or in_inf:
        detail = (f"the incoming gradient was already non-finite ({in_nan} NaN, {in_inf} Inf): "
                  "it came from the backward() seed, a gradient hook, or from summing "
                  "contributions (inf + -inf)")
        hint = "look at what was passed to backward() and at any register_hook functions"
    else:
        detail = (f"the incoming gradient was finite (max |grad| {stats['grad_out_max_abs']:.3g}); "
                  f"{node.op}'s backward made it non-finite")
        hint = "keep the op's input away from the point where its derivative blows up"
        slope = _INFINITE_SLOPE_AT_ZERO.get(node.op)
        if slope is not None and slope[0] < len(node._parents):
            x = node._parents[slope[0]]._data
            zeros = int((x == 0).sum())
            stats["zero_inputs"] = zeros
            if zeros:
                detail += (f": its derivative {slope[1]} is infinite where input {slope[0]} "
                           f"is 0, and input {slope[0]} is 0.0 at {zeros} of {x.size} positions")
                hint = (f"add an epsilon inside {node.op} (e.g. sqrt(x + 1e-8)) or clamp its "
                        "input away from 0")
    where = _created_where(node)
    source = _source_line(where)
    note = None if where is not None else \
        "(the op was created outside anomaly mode: run the forward pass inside it too)"
    return AnomalyError(_message(headline, detail, hint, source, note),
                        op=node.op, module=node.module, phase="backward", source=source,
                        stats=stats, detail=detail, hint=hint, code="grad.nonfinite")


# --------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------
def _in_module(node: Tensor) -> str:
    return f" in {node.module}" if node.module else ""


def _message(headline: str, detail: str, hint: str, source: Optional[SourceLine],
             note: Optional[str]) -> str:
    lines = [headline, f"  {detail}", f"  hint: {hint}"]
    if source is not None:
        lines.append(f"  created at {source.file}:{source.line}")
        if source.code:
            lines.append(f"      {source.code}")
    elif note:
        lines.append(f"  {note}")
    return "\n".join(lines)
