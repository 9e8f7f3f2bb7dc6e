"""The engine shared by ``gradcheck`` (Tensors, Modules) and ``check_backward`` (NumPy layers).

Both reduce to ``Target``s (a float64 working array the function reads, perturbed in
place, and its analytic gradient) and ``evaluate()``, which returns ``L = sum(w * out)``
split per output sample (one number per entry along axis 0): the split is free and
lets the diagnosis spot "the gradient of one sample only". This module turns them
into ``InputCheck``s.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from .diagnose import diagnose, diagnose_directional
from .numeric import rel_error_array
from .result import Diagnosis, Entry, GradcheckError, InputCheck

# Keep the per-sample numeric Jacobian rows only while they are small.
MAX_PER_SAMPLE_VALUES = 2_000_000
N_WORST = 5


@dataclass
class Target:
    name: str
    array: np.ndarray      # float64, C-contiguous; evaluate() reads it
    analytic: np.ndarray   # float64, same shape
    original_dtype: np.dtype


@dataclass
class Settings:
    eps: float
    atol: float
    rtol: float
    n_samples: Optional[int]
    fast_mode: bool
    count_kinks: bool

    def __post_init__(self):
        """Settings that would make the check meaningless are refused, not run: eps=0 or
        nan compares nothing and used to report PASSED."""
        import math
        for name, low in (("eps", "> 0"), ("atol", ">= 0"), ("rtol", ">= 0")):
            value = getattr(self, name)
            ok = isinstance(value, (int, float, np.floating, np.integer)) and \
                not isinstance(value, bool) and math.isfinite(value) and \
                (value > 0 if low == "> 0" else value >= 0)
            if not ok:
                raise GradcheckError(f"gradcheck: {name} must be a finite number {low}, got "
                                     f"{value!r}" + (". Hint: the default eps=1e-6 suits "
                                                     "float64" if name == "eps" else ""))
        if self.n_samples is not None and (isinstance(self.n_samples, bool) or
                                           not isinstance(self.n_samples, (int, np.integer))
                                           or self.n_samples < 1):
            raise GradcheckError(f"gradcheck: n_samples must be a positive integer or None, "
                                 f"got {self.n_samples!r}")

    def as_dict(self) -> dict:
        return dict(eps=self.eps, atol=self.atol, rtol=self.rtol, n_samples=self.n_samples,
                    fast_mode=self.fast_mode, count_kinks=self.count_kinks)


def checker_generator(seed: int) -> np.random.Generator:
    """The checker's own random stream (output weights, sampled entries, directions).

    Salted so it never equals the stream of ``minnet.randn(..., seed=seed)``: with
    the same seed the output weights would equal the input itself, and symmetric
    products like x.T @ x could hide a transposed gradient.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise GradcheckError(f"gradcheck: seed must be an integer >= 0, got {seed!r}")
    return np.random.default_rng((int(seed), 0x6772616463))


def check_deterministic(evaluate: Callable, hint: str) -> np.ndarray:
    """Evaluate twice at the same point; finite differences are meaningless if they differ."""
    first = evaluate()
    second = evaluate()
    scale = max(1.0, float(np.abs(first).sum()))
    if first.shape != second.shape or np.abs(first - second).max(initial=0.0) > 1e-12 * scale:
        raise GradcheckError(
            "gradcheck: the function is not deterministic: two evaluations at the same input "
            f"gave L = {first.sum():.12g} and L = {second.sum():.12g}, so finite differences "
            f"would measure the randomness, not the gradient. Hint: {hint}")
    return first


def _noise_floor(base: np.ndarray, eps: float) -> float:
    """How large a one-sided difference can get from rounding alone."""
    scale = max(1.0, float(np.abs(base).sum()))
    return 100 * np.finfo(np.float64).eps * scale / eps


def _is_kink(flat: np.ndarray, j: int, evaluate: Callable, base_sum: float, fwd: float,
             bwd: float, eps: float, floor: float) -> bool:
    """Is entry j on a kink (ReLU/max/abs at 0)?

    For a smooth L the one-sided slopes (L(x+eps)-L(x))/eps and (L(x)-L(x-eps))/eps
    differ by about eps * L'', which shrinks with eps; at a kink they differ by
    the jump in slope, which does not. Entries whose slopes disagree strongly
    are re-measured with eps/10 to tell the two apart.
    """
    jump = abs(fwd - bwd)
    # 50 x floor: the eps/10 re-measurement has 10x the rounding noise, which must stay
    # well below the 0.5 * jump it is compared with
    if jump <= 50 * floor or jump <= 1e-3 * max(abs(fwd), abs(bwd)):
        return False
    small = eps / 10
    original = flat[j]
    try:
        flat[j] = original + small
        plus = evaluate().sum()
        flat[j] = original - small
        minus = evaluate().sum()
    finally:
        flat[j] = original
    jump_small = abs((plus - base_sum) / small - (base_sum - minus) / small)
    return jump_small > 0.5 * jump


def _sample_entries(size: int, n_samples: Optional[int], rng: np.random.Generator) -> np.ndarray:
    if n_samples is None or n_samples >= size:
        return np.arange(size)
    if n_samples < 1:
        raise GradcheckError(f"gradcheck: n_samples must be a positive integer or None, got "
                             f"{n_samples}")
    return np.sort(rng.choice(size, size=int(n_samples), replace=False))


def _numeric_entries(target: Target, evaluate: Callable, base: np.ndarray, settings: Settings,
                     rng: np.random.Generator):
    """Central differences at the sampled entries of one target.

    Returns (numeric, kink, per_sample): numeric and kink have the target's
    shape (NaN / False where not sampled); per_sample (or None) has shape
    (n_output_samples, target.size): the numeric gradient of each output
    sample's share of L.
    """
    eps = settings.eps
    flat = target.array.reshape(-1)
    if flat.size == 0:
        raise GradcheckError(f"gradcheck: input {target.name} is empty (shape "
                             f"{target.array.shape}): there is no entry to check")
    if not np.shares_memory(flat, target.array):
        raise GradcheckError(f"gradcheck internal error: the working array for {target.name} is "
                             "not contiguous")
    size = flat.size
    numeric = np.full(size, np.nan)
    kink = np.zeros(size, dtype=bool)
    keep_per_sample = base.size > 1 and base.size * size <= MAX_PER_SAMPLE_VALUES
    per_sample = np.full((base.size, size), np.nan) if keep_per_sample else None
    base_sum = float(base.sum())
    floor = _noise_floor(base, eps)
    sampled = np.zeros(size, dtype=bool)  # entries compared (numeric may be nan/inf there)
    for j in _sample_entries(size, settings.n_samples, rng):
        sampled[j] = True
        original = flat[j]
        try:
            flat[j] = original + eps
            plus = evaluate()
            flat[j] = original - eps
            minus = evaluate()
        finally:
            flat[j] = original  # exactly the old value, not (x + eps) - eps
        numeric[j] = (plus.sum() - minus.sum()) / (2 * eps)
        if per_sample is not None:
            per_sample[:, j] = (plus - minus) / (2 * eps)
        fwd = (plus.sum() - base_sum) / eps
        bwd = (base_sum - minus.sum()) / eps
        kink[j] = _is_kink(flat, j, evaluate, base_sum, fwd, bwd, eps, floor)
    shape = target.array.shape
    return numeric.reshape(shape), kink.reshape(shape), per_sample, sampled.reshape(shape)


def _worst_entries(analytic, numeric, rel, counted, kink) -> list:
    """The entries with the largest relative error (mismatching ones first)."""
    candidates = np.flatnonzero(counted.reshape(-1))
    if candidates.size == 0:
        return []
    order = candidates[np.argsort(-rel.reshape(-1)[candidates], kind="stable")][:N_WORST]
    return [Entry(index=tuple(int(i) for i in np.unravel_index(j, analytic.shape)),
                  analytic=float(analytic.reshape(-1)[j]), numeric=float(numeric.reshape(-1)[j]),
                  rel_error=float(rel.reshape(-1)[j]), kink=bool(kink.reshape(-1)[j]))
            for j in order]


def _check_entries(target: Target, evaluate, base, settings, rng, context) -> InputCheck:
    analytic = target.analytic
    numeric, kink, per_sample, checked = _numeric_entries(target, evaluate, base, settings, rng)
    # a NaN/inf on either side is a mismatch, never a pass (NaN compares False with anything)
    nonfinite = checked & ~(np.isfinite(numeric) & np.isfinite(analytic))
    with np.errstate(invalid="ignore", over="ignore"):
        rel = np.where(checked, rel_error_array(np.nan_to_num(analytic), np.nan_to_num(numeric)),
                       np.nan)
        rel[nonfinite] = np.inf
        outside = np.abs(analytic - np.nan_to_num(numeric)) > settings.atol + \
            settings.rtol * np.abs(np.nan_to_num(numeric))
    mismatch = checked & (outside | nonfinite)
    counted = checked if settings.count_kinks else checked & ~kink
    failing = mismatch & counted
    passed = not failing.any()
    counted_rel = rel[counted]
    max_rel = float(counted_rel.max()) if counted_rel.size else 0.0
    worst_pool = failing if failing.any() else counted
    check = InputCheck(
        name=target.name, shape=tuple(target.array.shape), passed=passed, max_rel_error=max_rel,
        analytic=analytic, numeric=numeric, rel_error=rel, checked=checked, mismatch=mismatch,
        kink=kink, n_mismatch=int(failing.sum()), n_checked=int(checked.sum()),
        worst=_worst_entries(analytic, numeric, rel, worst_pool, kink),
        original_dtype=target.original_dtype)
    if not passed:
        with np.errstate(all="ignore"):  # an inf/nan gradient is a finding, not a warning
            check.diagnosis = diagnose(analytic, numeric, considered=checked & ~kink,
                                       mismatch=failing, per_sample=per_sample,
                                       atol=settings.atol, rtol=settings.rtol,
                                       context=dict(context, values=target.array))
        unexplained = check.diagnosis is None or check.diagnosis.kind in UNEXPLAINED
        if unexplained and context.get("evaluate_ones") is not None:
            found = _ignores_dout_diagnosis(target, numeric, checked & ~kink, settings,
                                            context["evaluate_ones"])
            if found is not None:
                check.diagnosis = found
    return check


# Diagnoses that a more expensive test may replace: they say "something is off here".
UNEXPLAINED = ("unknown", "some_entries", "partial_zero")
MAX_ONES_ENTRIES = 20_000


def _ignores_dout_diagnosis(target: Target, numeric, considered, settings: Settings,
                            evaluate_ones: Callable) -> Optional[Diagnosis]:
    """Does the analytic gradient equal the gradient of out.sum() (dout = all ones)?

    check_backward hands the backward a random dout; a backward that never multiplies
    by it (db = np.ones(M), relu's dx = (x > 0)) returns the gradient for dout = 1.
    Measuring that costs two more evaluations per entry, so it runs only for an
    input that failed without a clearer explanation.
    """
    flat = target.array.reshape(-1)
    if flat.size > MAX_ONES_ENTRIES or not considered.any():
        return None
    eps = settings.eps
    ones_numeric = np.full(flat.size, np.nan)
    for j in np.flatnonzero(considered.reshape(-1)):
        original = flat[j]
        try:
            flat[j] = original + eps
            plus = float(evaluate_ones())
            flat[j] = original - eps
            minus = float(evaluate_ones())
        finally:
            flat[j] = original
        ones_numeric[j] = (plus - minus) / (2 * eps)
    ones_numeric = ones_numeric.reshape(target.array.shape)[considered]
    analytic = target.analytic[considered]
    close = np.abs(analytic - ones_numeric) <= settings.atol + settings.rtol * np.abs(ones_numeric)
    if not close.all() or np.allclose(ones_numeric, numeric[considered], rtol=settings.rtol,
                                      atol=settings.atol):
        return None
    return Diagnosis(
        "ignores_dout",
        f"The analytic gradient of {target.name} is the gradient of out.sum(): the backward "
        "ignores the upstream gradient dout (it computes the gradient as if dout were all "
        "ones).",
        "multiply by dout (the chain rule): db = dout.sum(axis=0), not np.ones(M); "
        "relu: dx = dout * (x > 0), not (x > 0).")


def _check_direction(target: Target, evaluate, settings, rng) -> InputCheck:
    """fast_mode: compare v.grad with (L(x + eps v) - L(x - eps v)) / 2eps for one random unit v."""
    eps = settings.eps
    direction = rng.standard_normal(target.array.shape)
    direction /= max(np.linalg.norm(direction), 1e-300)
    original = target.array.copy()
    try:
        target.array[...] = original + eps * direction
        plus = evaluate().sum()
        target.array[...] = original - eps * direction
        minus = evaluate().sum()
    finally:
        target.array[...] = original
    numeric = float((plus - minus) / (2 * eps))
    analytic = float(np.sum(direction * target.analytic))
    rel = float(rel_error_array(analytic, numeric))
    passed = abs(analytic - numeric) <= settings.atol + settings.rtol * abs(numeric)
    check = InputCheck(name=target.name, shape=tuple(target.array.shape), passed=bool(passed),
                       max_rel_error=rel, analytic=target.analytic, numeric=None,
                       n_mismatch=0 if passed else 1, n_checked=1,
                       original_dtype=target.original_dtype, directional=(analytic, numeric))
    if not passed:
        check.diagnosis = diagnose_directional(analytic, numeric, settings.atol, settings.rtol)
    return check


def check_targets(targets: list, evaluate: Callable, base: np.ndarray, settings: Settings,
                  rng: np.random.Generator, context: dict) -> list:
    """One ``InputCheck`` per target. ``base`` = evaluate() at the unperturbed point."""
    if not np.all(np.isfinite(base)):
        raise GradcheckError("gradcheck: the function's output at the given inputs holds NaN or "
                             "inf, so no gradient can be compared there. Hint: check at a point "
                             "where the function is finite (e.g. log of positive numbers).")
    for target in targets:
        if not np.all(np.isfinite(target.array)):
            raise GradcheckError(f"gradcheck: input {target.name} holds NaN or inf; finite "
                                 f"differences need finite inputs. Hint: check at finite values.")
    checks = []
    for target in targets:
        if settings.fast_mode:
            checks.append(_check_direction(target, evaluate, settings, rng))
        else:
            checks.append(_check_entries(target, evaluate, base, settings, rng, context))
    return checks


def swapped_gradients(checks: list, atol: float, rtol: float) -> None:
    """Replace the diagnosis of a failed input whose analytic gradient is another input's
    numeric gradient: the backward returned the gradients in the wrong order."""
    full = [c for c in checks if c.numeric is not None and c.checked is not None
            and c.checked.all()]
    for check in full:
        if check.passed:
            continue
        for other in full:
            if other is check or other.shape != check.shape:
                continue
            close = np.abs(check.analytic - other.numeric) <= atol + rtol * np.abs(other.numeric)
            if close.all() and not np.allclose(other.numeric, check.numeric, rtol=rtol, atol=atol):
                check.diagnosis = Diagnosis(
                    "swapped",
                    f"The analytic gradient of {check.name} is the numeric gradient of "
                    f"{other.name}: the backward returns the gradients in another order than "
                    "the forward takes its inputs.",
                    "return the gradients in the order of the forward's arguments (for "
                    "forward(x, w, b): return dx, dw, db); with Tensors, check which input each "
                    "gradient of a custom backward belongs to.")
                break


# A passing input whose gradients agree only this well (norm-wise) gets a note. Measured:
# correct CS231n layers agree to <= 1e-9 in float64; a batchnorm backward that forgot the
# eps of sqrt(var + eps) agreed to 2e-6 and passed the entry-wise tolerance.
LOOSE_AGREEMENT = 1e-7


def loose_agreement_warnings(checks: list, atol: float) -> list:
    """Notes for inputs that passed with a norm-wise relative error above LOOSE_AGREEMENT.

    Gradients that are all tiny (<= 100 * atol, e.g. a bias feeding a batchnorm, whose
    gradient is 0 up to rounding) are left alone: their relative error measures noise.
    """
    messages = []
    for check in checks:
        if not check.passed or check.numeric is None or check.checked is None:
            continue
        counted = check.checked & ~check.kink if check.kink is not None else check.checked
        a, n = check.analytic[counted], check.numeric[counted]
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(n))):
            continue
        if n.size == 0 or float(np.abs(n).max()) <= 100 * atol:
            continue
        scale = float(np.linalg.norm(a) + np.linalg.norm(n))
        if scale == 0:
            continue
        error = float(np.linalg.norm(a - n)) / scale
        if error > LOOSE_AGREEMENT:
            messages.append(
                f"{check.name} passed, but its gradients agree only to {error:.1e} (norm-wise "
                "relative error); in float64 a correct layer usually agrees to ~1e-9. Compare "
                "the numbers: a small term may be missing (e.g. an eps used in the forward but "
                "not in the backward). Long compositions can legitimately reach ~1e-7.")
    return messages


def kink_warnings(checks: list, count_kinks: bool, limit: int = 3) -> list:
    from .result import format_index
    messages = []
    for check in checks:
        if check.kink is None or not check.kink.any():
            continue
        indices = [tuple(int(i) for i in ix) for ix in np.argwhere(check.kink)]
        for index in indices[:limit]:
            messages.append(f"{check.name}{format_index(index)} is at a kink (e.g. ReLU/max/abs "
                            "at 0): finite differences are unreliable there; nudge the input")
        if len(indices) > limit:
            messages.append(f"{check.name}: {len(indices) - limit} more entries at kinks")
        messages.append(f"{check.name}: kink entries are "
                        + ("counted as failures (count_kinks=True)" if count_kinks else
                           "not counted as failures (pass count_kinks=True to count them)"))
    return messages
