"""Checks for graded tests whose failure message is the feedback a student reads.

Every helper raises ``LabFailure`` (an ``AssertionError``) saying what was checked, what
came out, what was expected and, where a known mistake fits, a hint; the plugin shows that
message and no traceback through the checker::

    expect_close("affine_forward out", out, expected)
    expect_backward(affine_forward, affine_backward, x, w, b, name="affine")
    expect_gradcheck(lambda x: my_op(x).sum(), (x,), name="my_op")
    expect_finding(report, "activation.dead_relu")
    expect(loss < 0.1, f"the repaired run should reach loss < 0.1, got {loss:.3f}")
"""
from __future__ import annotations

import os

import numpy as np

WORST_SHOWN = 5


class LabFailure(AssertionError):
    """A graded check failed; ``str(error)`` is the whole feedback for the student."""


def expect(condition, message: str) -> None:
    """Fail with ``message`` (written for a student) unless ``condition`` is true."""
    if not condition:
        raise LabFailure(message)


# --------------------------------------------------------------------------
# thresholds on training outcomes, with the margin the reference must keep
# --------------------------------------------------------------------------
# Every threshold checked in this process: (name, value, threshold, direction, margin).
# The plugin moves them into the test's grade, and `minnet labs check` fails when the
# reference solution clears a threshold by less than its margin: a grade that depends on
# the machine (BLAS kernels, thread count, JIT or not) shows up there first.
THRESHOLDS_SEEN: list = []


def _expect_threshold(name: str, value, threshold: float, margin: float, direction: str,
                      hint: str) -> None:
    if not margin >= 0:
        raise TypeError(f"{name}: margin must be >= 0, got {margin!r} (this is a bug in the test)")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise LabFailure(f"{name}: expected a number, got {type(value).__name__}: "
                         f"{_short_repr(value)}") from None
    THRESHOLDS_SEEN.append({"name": name, "value": number, "threshold": float(threshold),
                            "direction": direction, "margin": float(margin)})
    passed = number >= threshold if direction == ">=" else number <= threshold
    if not passed or not np.isfinite(number):
        text = f"{name} is {number:.4g}, expected {direction} {threshold:.4g}"
        raise LabFailure(text + (f". {hint}" if hint else ""))


def expect_at_least(name: str, value, threshold: float, *, margin: float, hint: str = ""):
    """A training outcome ``value`` (e.g. a validation accuracy) is >= ``threshold``.

    ``margin``: how far above the threshold the reference solution must stay on every
    machine (``minnet labs check`` fails when it comes closer): the threshold is set for
    a correct repair, not tuned to one run of it.
    """
    _expect_threshold(name, value, threshold, margin, ">=", hint)


def expect_at_most(name: str, value, threshold: float, *, margin: float, hint: str = ""):
    """A training outcome ``value`` (e.g. a final loss) is <= ``threshold``; the reference
    solution must stay at least ``margin`` below it (see ``expect_at_least``)."""
    _expect_threshold(name, value, threshold, margin, "<=", hint)


def threshold_slack(record: dict) -> float:
    """How far a recorded value is on the passing side of its threshold (negative: failed)."""
    if record["direction"] == ">=":
        return record["value"] - record["threshold"]
    return record["threshold"] - record["value"]


# --------------------------------------------------------------------------
# expect_close
# --------------------------------------------------------------------------
def _as_array(value):
    """A minnet Tensor, NumPy array, list or number as an array; None when it is none of those."""
    if hasattr(value, "numpy") and callable(value.numpy) and not isinstance(value, np.ndarray):
        value = value.numpy()  # a minnet (or torch-like) Tensor
    if isinstance(value, (np.ndarray, np.generic, int, float, bool, list, tuple)):
        try:
            array = np.asarray(value)
        except (TypeError, ValueError):
            return None
        return array if array.dtype != object else None
    return None


def _shape_hint(got: tuple, want: tuple) -> str:
    if len(got) == 2 and got == want[::-1]:
        return " It is the transpose of the expected shape: a missing or extra .T?"
    if got == want + (1,) or want == got + (1,):
        return (" One has an extra axis of size 1: (N, 1) against (N,) broadcasts to (N, N) in "
                "arithmetic. Use .reshape(-1) or keepdims consistently.")
    if len(got) == len(want) + 1 and got[1:] == want:
        return " It has an extra leading axis: did you forget to sum over the batch axis?"
    if len(got) + 1 == len(want) and want[1:] == got:
        return " The leading (batch) axis is missing: a sum over axis 0 where none belongs?"
    if int(np.prod(got)) == int(np.prod(want)):
        return " Same number of entries: a reshape may fix it, but check the order of axes."
    return ""


def _format_index(index) -> str:
    return "[" + ", ".join(str(int(i)) for i in index) + "]" if len(index) else "[]"


def expect_close(name: str, actual, expected, rtol: float = 1e-6, atol: float = 1e-8,
                 hint: str = None) -> None:
    """``actual`` matches ``expected`` entry by entry (|a - e| <= atol + rtol |e|).

    Checks a value came back, its type, shape, dtype kind, NaN/inf, then the values; a
    mismatch counts the differing entries and lists the worst (index, got, expected, error).
    ``hint``: what the test knows about this value (e.g. "column_means must skip the NaNs");
    it replaces the generic guesses (log(0) for a non-finite entry, "a 1/2?" for a constant
    factor), which mislead where the value is not a loss or a gradient."""
    if actual is None:
        raise LabFailure(f"{name}: got None. Did the function end without a `return`?")
    want = _as_array(expected)
    if want is None:
        raise TypeError(f"expect_close({name!r}): expected must be a number or an array, "
                        f"got {type(expected).__name__} (this is a bug in the test)")
    got = _as_array(actual)
    if got is None:
        raise LabFailure(f"{name}: expected a NumPy array (or number) of shape {want.shape}, got "
                         f"a {type(actual).__name__}: {_short_repr(actual)}")
    if got.shape != want.shape:
        raise LabFailure(f"{name}: shape {got.shape}, expected {want.shape}."
                         + _shape_hint(got.shape, want.shape))
    if want.dtype.kind in "fc" and got.dtype.kind not in "fc":
        raise LabFailure(f"{name}: dtype {got.dtype}, expected floating point ({want.dtype}). "
                         "An integer result usually means integer division (//) or an int array "
                         "created with np.zeros_like of integer labels.")
    if got.dtype.kind not in "biufc":
        raise LabFailure(f"{name}: dtype {got.dtype} is not numeric")
    got_f, want_f = got.astype(np.float64), want.astype(np.float64)
    bad = ~np.isfinite(got_f) & np.isfinite(want_f)
    if bad.any():
        first = np.argwhere(bad)[0] if got_f.ndim else ()
        value = got_f[tuple(first)] if got_f.ndim else got_f
        raise LabFailure(f"{name}: {int(bad.sum())} of {got_f.size} entries are {value} where a "
                         f"finite number is expected (first at {_format_index(first)}). "
                         + (hint if hint else "Look for log(0), exp of a large number, or 0/0."))
    error = np.abs(got_f - want_f)
    mismatch = ~np.isclose(got_f, want_f, rtol=rtol, atol=atol, equal_nan=True)
    if not mismatch.any():
        return
    lines = [f"{name}: {int(mismatch.sum())} of {got_f.size} entries differ "
             f"(tolerance |got - expected| <= {atol:g} + {rtol:g} * |expected|)."]
    if got_f.ndim == 0:
        lines.append(f"  got {got_f.item():.8g}, expected {want_f.item():.8g} "
                     f"(error {error.item():.3g})")
        if hint:
            lines.append(f"  hint: {hint}")
    else:
        order = np.argsort(np.where(mismatch, error, -1.0), axis=None)[::-1][:WORST_SHOWN]
        rows = [("index", "got", "expected", "error")]
        for flat in order:
            index = np.unravel_index(flat, got_f.shape)
            if not mismatch[index]:
                break
            rows.append((_format_index(index), f"{got_f[index]:.8g}", f"{want_f[index]:.8g}",
                         f"{error[index]:.3g}"))
        widths = [max(len(row[c]) for row in rows) for c in range(4)]
        lines.append("  worst entries:")
        lines += ["    " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
                  for row in rows]
        lines.extend(_pattern_hints(got_f, want_f, hint))
    raise LabFailure("\n".join(lines))


EXACT_RTOL, EXACT_ATOL = 1e-10, 1e-12


def expect_exact(name: str, actual, expected) -> None:
    """A derived gradient equals the exact one to float64 rounding (|error| <= 1e-12 +
    1e-10 |expected|). Finite differences agree only to about 1e-6..1e-9, so a "backward"
    that perturbs its inputs numerically instead of applying a derivation fails here."""
    try:
        expect_close(name, actual, expected, rtol=EXACT_RTOL, atol=EXACT_ATOL)
    except LabFailure as failure:
        loose = True
        try:
            expect_close(name, actual, expected, rtol=1e-5, atol=1e-7)
        except LabFailure:
            loose = False
        if not loose:
            raise
        raise LabFailure(f"{failure}\n  hint: close to the exact gradient but not equal to it "
                         "(errors of 1e-9..1e-6 are what finite differences leave): derive the "
                         "backward and compute it from the cache; do not differentiate "
                         "numerically") from None


def _pattern_hints(got: np.ndarray, want: np.ndarray, hint: str = None) -> list:
    """Name a known mistake when the numbers fit it (sign, a constant factor). ``hint`` (the
    test's own words) replaces the generic guess at what a constant factor is, and is shown
    whatever the pattern."""
    if np.allclose(got, -want, rtol=1e-6, atol=1e-10) and np.abs(want).max() > 0:
        pattern = "every entry has the opposite sign"
        return [f"  hint: {pattern}: {hint}" if hint else f"  hint: {pattern}: a sign error?"]
    nonzero = np.abs(want) > 1e-12
    if nonzero.sum() >= 2:
        ratio = got[nonzero] / want[nonzero]
        if np.all(got == 0):   # a factor of 0 is no missing factor: nothing arrived there
            pattern = "every entry is 0 where a nonzero value is expected"
            return [f"  hint: {pattern}: {hint}" if hint else
                    f"  hint: {pattern}: nothing was computed or accumulated into it (an "
                    "array never filled, a sum overwritten with `=` instead of `+=`, a mask "
                    "that is all False?)"]
        if np.allclose(ratio, ratio[0], rtol=1e-6) and not np.isclose(ratio[0], 1.0):
            pattern = f"every entry is {ratio[0]:.6g} times the expected value"
            return [f"  hint: {pattern}: {hint}" if hint else
                    f"  hint: {pattern}: {_factor_guess(float(ratio[0]))}"]
    return [f"  hint: {hint}"] if hint else []


def _factor_guess(ratio: float) -> str:
    """What a constant factor between got and expected usually is, from its value: 2 or 1/2
    a square's derivative, another whole number k a division by k (a mean's count)."""
    magnitude = abs(ratio)
    for k, inverted in ((round(magnitude), False), (round(1 / magnitude), True)):
        if k >= 2 and np.isclose(1 / magnitude if inverted else magnitude, k, rtol=1e-6):
            sign = "" if ratio > 0 else " (and the opposite sign)"
            if k == 2:
                return (f"a factor 2{sign}: the 2 of a square's derivative, or a 1/2, missing "
                        f"or extra?")
            if inverted:
                return (f"an extra division by {k}{sign}: a mean where a sum was meant, or "
                        f"the count divided twice?")
            return (f"a missing division by {k}{sign}: a sum where a mean over {k} entries "
                    f"was meant (the batch size?)")
    return "a missing or extra constant factor (a count in a mean? a 1/2?)"


def _short_repr(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


# --------------------------------------------------------------------------
# gradient checks
# --------------------------------------------------------------------------
def expect_backward(forward, backward, *arrays, name: str = None, **options):
    """``backward(dout, cache)`` matches finite differences of ``forward(*arrays)``.

    A wrapper of ``minnet.gradcheck.check_backward`` (same keyword options: eps,
    atol, rtol, wrt, seed, ...); its report is the feedback. Returns the result.
    """
    from ..gradcheck import GradcheckError, check_backward

    label = name or getattr(backward, "__name__", "backward")
    try:
        result = check_backward(forward, backward, *arrays, **options)
    except GradcheckError as error:
        raise LabFailure(f"{label}: the gradient check could not run.\n{error}") from None
    if not result:
        raise LabFailure(f"{label}: the analytic gradient does not match finite differences.\n"
                         f"{result}")
    return result


def expect_gradcheck(fn, inputs, name: str = None, **options):
    """minnet autograd of ``fn(*inputs)`` matches finite differences (``minnet.gradcheck``)."""
    from ..gradcheck import GradcheckError, gradcheck

    label = name or getattr(fn, "__name__", "function")
    try:
        result = gradcheck(fn, inputs, **options)
    except GradcheckError as error:
        raise LabFailure(f"{label}: the gradient check could not run.\n{error}") from None
    if not result:
        raise LabFailure(f"{label}: autograd's gradient does not match finite differences.\n"
                         f"{result}")
    return result


# --------------------------------------------------------------------------
# debugger reports
# --------------------------------------------------------------------------
def _findings(report) -> list:
    """The findings of a minnet.debug Report, or a list of Findings (monitor.findings())."""
    findings = getattr(report, "findings", report)
    if callable(findings):  # a Monitor: its findings() method
        findings = findings()
    try:
        return list(findings)
    except TypeError:
        raise TypeError(f"expected a minnet.debug Report or a list of Findings, got "
                        f"{type(report).__name__} (this is a bug in the test)") from None


def describe_finding(finding) -> str:
    """One finding as feedback: severity, code, layer, message, evidence, fix."""
    from ..debug.report import format_value

    where = f" in {finding.layer}" if getattr(finding, "layer", None) else ""
    lines = [f"  [{finding.severity}] {finding.code}{where}: {finding.message}"]
    evidence = getattr(finding, "evidence", None)
    if evidence:
        lines.append("      evidence: " + ", ".join(f"{key} = {format_value(value)}"
                                                    for key, value in evidence.items()))
    if getattr(finding, "fix", None):
        lines.append(f"      fix: {finding.fix}")
    lines.append(f"      docs: docs/checklist.md#{finding.code.replace('.', '')}")
    return "\n".join(lines)


def _listing(findings: list) -> str:
    if not findings:
        return "  (no findings)"
    return "\n".join(describe_finding(finding) for finding in findings)


def expect_no_errors(report, what: str = "the run") -> None:
    """The diagnosis of ``what`` has no finding of severity ``error``."""
    findings = _findings(report)
    errors = [finding for finding in findings if finding.severity == "error"]
    if errors:
        raise LabFailure(f"{what}: the debugger still reports {len(errors)} error(s):\n"
                         + _listing(errors))


def expect_finding(report, code: str, what: str = "the run") -> None:
    """The diagnosis of ``what`` contains a finding with ``code`` (e.g. 'activation.dead_relu')."""
    findings = _findings(report)
    if not any(finding.code == code for finding in findings):
        raise LabFailure(f"{what}: expected the debugger to report {code}, but it reported:\n"
                         + _listing(findings))


def expect_no_finding(report, code: str, what: str = "the run") -> None:
    """The diagnosis of ``what`` contains no finding with ``code``."""
    matching = [finding for finding in _findings(report) if finding.code == code]
    if matching:
        raise LabFailure(f"{what}: the debugger still reports {code}:\n" + _listing(matching))


def student_picture(path) -> np.ndarray:
    """The PNG the student's code wrote at ``path``, as matplotlib reads it (H, W, 3 or 4):
    only a regular file, never followed through a link. A security review kept a link to the
    reference's picture alive from a background process, past the sandbox's clean-up."""
    import io
    import stat

    import matplotlib.image as mpimg

    try:
        descriptor = os.open(str(path), os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as error:
        raise LabFailure(f"the picture at {path} cannot be read as a file of your own "
                         f"({error.strerror}): save the figure there with a plain write") from None
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise LabFailure(f"{path} is not a regular file: save the figure there")
    with os.fdopen(descriptor, "rb") as file:
        return mpimg.imread(io.BytesIO(file.read()), format="png")
