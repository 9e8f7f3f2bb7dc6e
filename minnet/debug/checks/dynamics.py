"""Run checks on the loss curve: non-finite, diverging, on a plateau, oscillating.

They read ``ctx.run.losses`` (diagnose) or ``monitor.scalar("loss")`` (a user's loop).
With T finite steps and windows of w = max(5, T // 10) steps: ``start``/``end`` are
the first/last window means, ``low``/``peak`` the lowest/highest window mean,
``initial`` the loss before any step. Window means, because one unlucky mini-batch is
not a trend; growth is measured from the smaller of ``start`` and ``initial``, since a
run that blows up at once already has the blow-up in ``start``.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ..context import batch_iterator, copy_model, optimizer_factory, standard_train_step
from ..report import Finding
from ..thresholds import define
from .loss_steps import logged_nonfinite, loss_curve

DIVERGE_FACTOR = define(
    "diverging_loss_factor", 1.5, source="37R 36, HOLDEN 6",
    why="a training loss whose window mean rises this many times above its starting window mean "
        "is growing, not learning: the steps overshoot (usually a learning rate too high)")
DIVERGE_REBOUND = define(
    "diverging_rebound_fraction", 0.5, source="37R 36, HOLDEN 6",
    why="a training loss that gives back more than this fraction of the progress it had made "
        "(end - low) / (start - low) is climbing again")
PLATEAU_FLAT = define(
    "plateau_relative_change", 0.03, source="37R 31, 36, SHAO 4",
    why="over the last third of the run the loss changed by less than this fraction of its "
        "value: it has stopped moving")
PLATEAU_PROGRESS = define(
    "plateau_progress_fraction", 0.5, source="37R 31, 36, SHAO 4, RECIPE 2",
    why="the run covered less than this fraction of the way from its starting loss to the "
        "achievable loss (what the same model reaches on one tiny batch): it is stuck far above "
        "where it could be")
PLATEAU_NOISE = define(
    "plateau_noise_margin", 1.0, source="37R 31, 36; measured on minnet's healthy runs",
    why="standard errors of the fitted descent added to it before calling the loss flat: a "
        "mini-batch loss is noisy, and a line fitted to the last third of a noisy curve can look "
        "flat by chance while the loss is still falling (a healthy RMSprop regression measured "
        "-1.4% +- 16% over its last third while falling 0.55 -> 0.34 -> 0.18); flat means the "
        "descent is below plateau_relative_change even this many standard errors above the "
        "estimate")
PLATEAU_DROPPED = define(
    "plateau_dropped_fraction", 0.3, source="37R 31, RECIPE 2; measured on minnet's healthy runs",
    why="a run whose loss already fell by this fraction of its starting value is learning; a flat "
        "tail then is more likely the full data set's own floor (above the tiny-batch value, "
        "which is only a lower bound) than a stuck optimizer, so the plateau is reported as info")
DIVERGE_SPIKE = define(
    "diverging_spike_factor", 3.0, source="37R 36, HOLDEN 6",
    why="a single step's training loss above this many times the untrained loss: the weights "
        "were thrown far up the loss surface (a well-set learning rate never makes the loss "
        "exceed its untrained value several-fold, even on an unlucky batch; measured on the "
        "healthy baselines, other healthy runs and the fixed scenarios: at most 1.12x)")
DIVERGE_MIN_RISE = define(
    "diverging_min_rise", 0.1, source="37R 36; measured on already-trained healthy models",
    why="a rise of the loss counts as growth only when it exceeds this fraction of the loss's "
        "own scale (the larger of the run's starting loss and the loss of an untrained, "
        "input-independent prediction): a trained moons MLP whose loss wobbles 0.007 -> 0.03 "
        "between batches has not diverged when guessing scores 0.69")
OSC_AUTOCORR = define(
    "oscillation_autocorrelation", -0.75, source="37R 36",
    why="consecutive loss changes of independent mini-batch noise correlate at -0.5; a loss "
        "bouncing between two levels every step gives close to -1")
OSC_AMPLITUDE = define(
    "oscillation_amplitude", 0.05, source="37R 36",
    why="the typical step-to-step change of the loss, relative to the loss itself, above which "
        "the bouncing is large enough to matter")

OSC_FLOOR = define(
    "oscillation_level_floor", 0.05, source="37R 36; measured on already-trained healthy models",
    why="the bounce is measured relative to the loss's level, but never to less than this "
        "fraction of the loss of guessing: a trained sine fit at MSE 1e-3 moving by 6e-4 per "
        "step sits at its minimum; it does not overshoot it")

MIN_STEPS = 10           # fewer losses than this say nothing about a trend
TINY_BATCH = 16          # samples in the "achievable" reference (RECIPE 2: overfit one batch)
TINY_BATCH_STEPS = 150   # Adam steps on it


# --------------------------------------------------------------------------
# the loss curve and its summary
# --------------------------------------------------------------------------
def first_nonfinite(losses: np.ndarray) -> Optional[int]:
    """Index of the first NaN/Inf loss, or None. (Unrecorded steps are NaN too, so only
    steps followed by nothing — the run stopped there — or recorded as inf count.)"""
    bad = np.flatnonzero(~np.isfinite(losses))
    return int(bad[0]) if bad.size else None


def finite_prefix(losses: np.ndarray) -> np.ndarray:
    """The losses up to the first non-finite one."""
    stop = first_nonfinite(losses)
    return losses if stop is None else losses[:stop]


def window_means(losses: np.ndarray, width: int) -> np.ndarray:
    """Mean of every run of ``width`` consecutive losses."""
    kernel = np.ones(width) / width
    return np.convolve(losses, kernel, mode="valid")


def curve_summary(losses: np.ndarray) -> dict:
    """start/end/low/peak window means of a finite loss curve (see the module docstring)."""
    width = max(5, len(losses) // 10)
    means = window_means(losses, width)
    return {"steps": len(losses), "window": width, "start": float(means[0]),
            "end": float(means[-1]), "low": float(means.min()), "peak": float(means.max()),
            "peak_step": int(means.argmax()), "low_step": int(means.argmin())}


def initial_loss_value(ctx) -> Optional[float]:
    """The fresh model's loss on the preflight sample (shared with the loss checks), or None
    when there is no data to compute it (a Monitor in the user's own loop)."""
    if getattr(ctx, "X_train", None) is None or ctx.loss_fn is None:
        return None
    key = "loss.initial_value"
    if key not in ctx.cache:
        value = None
        try:
            from .loss import initial_sample
            X, y, output = initial_sample(ctx)
            with np.errstate(all="ignore"):
                value = float(ctx.loss_value(output, y))
        except Exception:  # noqa: BLE001 - a loss that fails at init is another check's
            value = None
        ctx.cache[key] = value if value is not None and math.isfinite(value) else None
    return ctx.cache[key]


def _mode_dependent(model) -> bool:
    """Does the model hold a layer that computes differently in training mode (Dropout,
    batch norm)?"""
    from ...nn.dropout import Dropout
    from ...nn.norm import _BatchNorm
    return any(isinstance(module, (Dropout, _BatchNorm)) for module in model.modules())


def initial_training_loss(ctx) -> Optional[float]:
    """The fresh model's loss on the preflight sample *in training mode*: the yardstick for
    the run's batch losses, which are measured in training mode.

    With dropout the training-mode loss of a trained model sits well above its evaluation
    loss (measured: 0.25 against 0.14 with Dropout(0.1) after 600 steps), so comparing the
    run's batch losses with the evaluation value called that gap a loss that grows. The
    draw leaves minnet's random stream where it was. Without mode-dependent layers this is
    ``initial_loss_value``.
    """
    if getattr(ctx, "X_train", None) is None or ctx.loss_fn is None \
            or getattr(ctx, "fresh_model", None) is None:
        return initial_loss_value(ctx)
    key = "loss.initial_training_value"
    if key not in ctx.cache:
        model = ctx.fresh_model()
        if not _mode_dependent(model):
            ctx.cache[key] = initial_loss_value(ctx)
        else:
            from ... import random as minnet_random
            generator = minnet_random._default
            state = generator.bit_generator.state
            value = None
            try:
                from .loss import initial_sample
                X, y, _ = initial_sample(ctx)
                with np.errstate(all="ignore"):
                    value = float(ctx.loss_value(ctx.forward(model, X, train_mode=True), y))
            except Exception:  # noqa: BLE001 - a loss that fails at init is another check's
                value = None
            finally:
                minnet_random._default = generator
                generator.bit_generator.state = state
            ctx.cache[key] = value if value is not None and math.isfinite(value) else None
    return ctx.cache[key]


# --------------------------------------------------------------------------
# loss.nonfinite
# --------------------------------------------------------------------------
def replay_with_anomaly(ctx, step: int) -> Optional[dict]:
    """Retrain a fresh copy to just before ``step`` and run that step in anomaly mode.

    The batch order is the short run's (same seed), so the replayed step sees the same
    batch and the same weights. Returns the AnomalyError's fields, or None when the
    replay raised none (e.g. dropout noise made it differ).
    """
    from ...anomaly import AnomalyError, detect_anomaly
    model = ctx.fresh_model()
    optimizer = ctx.make_optimizer(model)
    if step > 0:
        before = ctx.train(model, steps=step, optimizer=optimizer)
        if before.stopped_at is not None:
            return None
    batches = batch_iterator(ctx.X_train, ctx.y_train, ctx.batch_size, ctx.shuffle, ctx.seed)
    for _ in range(step):
        next(batches)
    X_batch, y_batch = next(batches)
    model.train()
    try:
        with detect_anomaly(), np.errstate(all="ignore"):
            if ctx.train_step is not None:
                ctx.train_step(model, ctx.loss_fn, optimizer, X_batch, y_batch)
            else:
                standard_train_step(model, ctx.loss_fn, optimizer, X_batch, y_batch,
                                    ctx.clip_grad_norm)
    except AnomalyError as error:
        return {"op": error.op, "module": error.module, "phase": error.phase,
                "source": str(error.source) if error.source is not None else None,
                "stats": dict(error.stats or {}), "detail": getattr(error, "detail", ""),
                "hint": getattr(error, "hint", "")}
    return None


def nonfinite_loss(ctx) -> list:
    """The loss became NaN/Inf; with the data at hand, name the op and layer by replaying."""
    losses = loss_curve(ctx)
    run = getattr(ctx, "run", None)
    if run is not None:
        # the shared loop stops at the first non-finite loss (an exception is another story)
        step = run.stopped_at if run.error is None else None
    else:
        step = logged_nonfinite(losses)
    if step is None or step >= len(losses) or np.isfinite(losses[step]):
        return []
    value = float(losses[step])
    before = finite_prefix(losses)
    evidence = {"step": step, "loss": value,
                "last_finite_loss": float(before[-1]) if before.size else None,
                "first_loss": float(before[0]) if before.size else None}
    message = f"The training loss became {value} at step {step}"
    layer = None
    fix = None
    replay = None
    if getattr(ctx, "X_train", None) is not None and ctx.loss_fn is not None:
        try:
            replay = replay_with_anomaly(ctx, step)
        except Exception as error:  # noqa: BLE001 - the replay is a bonus, never a crash
            evidence["replay_error"] = repr(error)
    if replay is not None:
        evidence.update(anomaly_op=replay["op"], anomaly_module=replay["module"],
                        anomaly_phase=replay["phase"], anomaly_source=replay["source"],
                        anomaly_stats=replay["stats"])
        from .gradients import monitor_layer_name
        # "model.0 (Linear)" in op records; the Monitor (and every other finding) says "0 (Linear)"
        layer = monitor_layer_name(replay["module"])
        where = f" inside {layer}" if layer else " in the loss"
        message += (f". Replaying that step under minnet.detect_anomaly(): the first non-finite "
                    f"value was made by '{replay['op']}'{where} during {replay['phase']}")
        if replay["detail"]:
            message += f" ({replay['detail']})"
        if replay["source"]:
            message += f", created at {replay['source']}"
        message += "."
        fix = _nonfinite_fix(replay)
    else:
        message += (". Run the failing step under `with minnet.detect_anomaly():` to find the op "
                    "that produced it.")
    if before.size >= 2 and before[-1] > 10 * max(abs(before[0]), 1e-12):
        message += (f" The loss had grown from {before[0]:.4g} to {before[-1]:.4g} first: the "
                    "training blew up (see the learning rate and gradient findings).")
    return [Finding("loss.nonfinite", message, layer=layer, evidence=evidence, fix=fix, step=step)]


# ops whose non-finite result usually comes from their own domain (log 0, x / 0, exp of a
# large logit), where a numerically stable form is the fix; elsewhere (a matmul or an MSE
# overflowing on huge values) the values were already exploding and the replay's hint says why
_DOMAIN_OPS = ("log", "div", "sqrt", "pow", "reciprocal", "exp", "softmax", "entropy", "nll")


def _nonfinite_fix(replay: dict) -> str:
    """The fix for a non-finite loss from its anomaly replay: the op's hint, and the stable
    forms only when the op is one whose domain produced the NaN/Inf."""
    parts = []
    if replay.get("hint"):
        parts.append(replay["hint"][0].upper() + replay["hint"][1:].rstrip(".") + ".")
    op = str(replay.get("op") or "").lower()
    hint = str(replay.get("hint") or "")
    if "clamp" in hint or "logits" in hint:
        return " ".join(parts)   # the op's own hint already gives the stable form
    if any(name in op for name in _DOMAIN_OPS) or not parts:
        parts.append("Use numerically stable forms: cross_entropy / "
                     "binary_cross_entropy_with_logits on logits instead of log of "
                     "probabilities, or clamp the argument (x.clamp(min=1e-7).log()).")
    else:
        parts.append("See the learning rate, gradient and data-scale findings of this report "
                     "for what made the values explode.")
    return " ".join(parts)


# --------------------------------------------------------------------------
# loss.diverging
# --------------------------------------------------------------------------
def diverging_verdict(losses: np.ndarray, factor: float, rebound: float,
                      initial: Optional[float] = None,
                      spike: Optional[float] = None, chance: Optional[float] = None,
                      min_rise: float = 0.0) -> Optional[dict]:
    """Evidence that the loss grows, else None.

    Growth is measured from ``min(start, initial)``: a window mean above ``factor`` x
    start ("above_start"), one step above ``spike`` x start ("spike"), or giving back more
    than ``rebound`` of the progress ("rebound"). A rise counts only above ``min_rise`` x
    max(start, chance), so a trained model's 0.007 -> 0.03 is noise where guessing scores
    0.69. ``summary["sustained"]``: the run ends above ``factor`` x start (an error, not a
    recovered blow-up's warning).
    """
    finite = finite_prefix(losses)
    if finite.size < MIN_STEPS:
        return None
    summary = curve_summary(finite)
    first = float(finite[0]) if initial is None or not math.isfinite(initial) else float(initial)
    summary["initial"] = first
    summary["first_window"] = summary["start"]
    summary["start"] = start = min(summary["start"], first)
    end, low, peak = summary["end"], summary["low"], summary["peak"]
    summary["peak_over_start"] = peak / start if start > 0 else math.inf
    summary["max_loss"] = float(finite.max())
    summary["max_step"] = int(finite.argmax())
    # a spike is judged against the untrained loss: after a fast first fall, a batch back
    # near the initial value is noise, not a blow-up
    summary["max_over_initial"] = summary["max_loss"] / first if first > 0 else math.inf
    progress = start - low
    summary["rebound_fraction"] = (end - low) / progress if progress > 0 else 0.0
    scale = max(start, chance or 0.0)
    summary["scale"] = scale
    summary["chance_loss"] = chance
    summary["min_rise"] = min_rise * scale
    summary["end_over_start"] = end / start if start > 0 else math.inf
    summary["sustained"] = bool(start > 0 and end > factor * start
                                and end - start > min_rise * scale)

    def large(rise: float) -> bool:
        return rise > min_rise * scale

    if start > 0 and peak > factor * start and large(peak - start):
        summary["reason"] = "above_start"
        return summary
    # a single bad batch is a blow-up only if it is worse than guessing: a trained model's
    # batch at 0.12 when guessing scores 0.69 is noise (dropout, a hard batch), not divergence
    if spike is not None and first > 0 and summary["max_loss"] > spike * first \
            and large(summary["max_loss"] - first) \
            and (chance is None or summary["max_loss"] > chance):
        summary["reason"] = "spike"
        return summary
    if progress > 0 and summary["rebound_fraction"] > rebound and end > low * 1.5 \
            and large(end - low):
        summary["reason"] = "rebound"
        return summary
    return None


def _diverging(ctx, losses: np.ndarray) -> Optional[dict]:
    """diverging_verdict with the thresholds in force and the initial and chance losses of
    ``ctx``."""
    from .loss import chance_loss
    return diverging_verdict(losses, ctx.thresholds[DIVERGE_FACTOR],
                             ctx.thresholds[DIVERGE_REBOUND],
                             initial=initial_training_loss(ctx),
                             spike=ctx.thresholds[DIVERGE_SPIKE],
                             chance=chance_loss(ctx),
                             min_rise=ctx.thresholds[DIVERGE_MIN_RISE])


def diverging_loss(ctx) -> list:
    summary = _diverging(ctx, loss_curve(ctx))
    if summary is None:
        return []
    w = summary["window"]
    if summary["reason"] == "above_start":
        message = (f"The training loss grows: its mean over {w} steps rose from {summary['start']:.4g} "
                   f"at the start to {summary['peak']:.4g} (steps {summary['peak_step']}-"
                   f"{summary['peak_step'] + w - 1}), {summary['peak_over_start']:.3g}x its "
                   f"starting value, and ends at {summary['end']:.4g}.")
    elif summary["reason"] == "spike":
        message = (f"The training loss blew up: at step {summary['max_step']} it reached "
                   f"{summary['max_loss']:.4g}, {summary['max_over_initial']:.3g}x its initial "
                   f"value {summary['initial']:.4g}, and ends at {summary['end']:.4g}.")
    else:
        message = (f"The training loss fell to {summary['low']:.4g} and climbed back to "
                   f"{summary['end']:.4g}, giving back {100 * summary['rebound_fraction']:.0f}% of "
                   f"its progress from {summary['start']:.4g}.")
    if summary["sustained"]:
        severity = "error"
        message += (f" It ends {summary['end_over_start']:.3g}x above where it started: this run "
                    "does not train. The optimizer's steps overshoot: the learning rate is too "
                    "high for this model.")
    else:
        severity = "warning"
        message += (" The run recovered (it ends below "
                    f"{ctx.thresholds['diverging_loss_factor']:g}x its start): on its own not a "
                    "failure; but steps that throw the loss up like this mean a "
                    "learning rate on the high side, and they can leave damage the final loss "
                    "hides (dead ReLUs) or end in NaN on another seed.")
    return [Finding("loss.diverging", message, severity=severity, evidence=summary,
                    thresholds=[ctx.thresholds.describe(DIVERGE_FACTOR),
                                ctx.thresholds.describe(DIVERGE_SPIKE),
                                ctx.thresholds.describe(DIVERGE_REBOUND),
                                ctx.thresholds.describe(DIVERGE_MIN_RISE)],
                    fix="Lower the learning rate 10x (or find one with an LR range test, "
                        "minnet.optim.lr_find); clip gradients if a few steps explode.")]


# --------------------------------------------------------------------------
# loss.plateau
# --------------------------------------------------------------------------
def achievable_loss(ctx) -> Optional[float]:
    """The loss the model reaches on one tiny batch with Adam (RECIPE 2: overfit one batch).

    A lower bound for what training could reach; computed once per diagnosis.
    """
    key = "loss.achievable"
    if key in ctx.cache:
        return ctx.cache[key]
    value = None
    if getattr(ctx, "X_train", None) is not None and ctx.loss_fn is not None:
        from ...optim import Adam
        X, y = ctx.sample(TINY_BATCH, seed=ctx.seed + 3)
        model = ctx.fresh_model()
        run = ctx.train(model, TINY_BATCH_STEPS, X=X, y=y, batch_size=len(X), shuffle=False,
                        optimizer=Adam(model.parameters(), lr=1e-3), train_step=None)
        tail = run.losses[np.isfinite(run.losses)][-10:]
        value = float(tail.mean()) if tail.size else None
    ctx.cache[key] = value
    return value


def tail_trend(losses: np.ndarray) -> dict:
    """The descent of the last third of a loss curve, from a least-squares line.

    ``last_third_change`` = -slope * n / mean: the fraction of its level the loss lost over
    the n steps of the last third (positive: falling). ``last_third_change_se`` is its
    standard error from the scatter of the losses around the line (mini-batch noise), and
    ``last_third_slope_t`` = slope / its standard error (below -2: clearly still falling).
    """
    n = max(MIN_STEPS, len(losses) // 3)
    third = losses[-n:]
    n = len(third)
    t = np.arange(n) - (n - 1) / 2.0          # centred steps: slope and mean are independent
    level = float(third.mean())
    slope = float((t * (third - level)).sum() / (t * t).sum())
    residuals = third - level - slope * t
    slope_se = math.sqrt(float((residuals ** 2).sum()) / max(1, n - 2) / float((t * t).sum()))
    scale = n / abs(level) if level else 0.0
    return {"last_third_steps": n, "last_third_change": -slope * scale,
            "last_third_change_se": slope_se * scale,
            "last_third_slope_t": slope / slope_se if slope_se > 0 else
            (0.0 if slope == 0 else math.copysign(math.inf, slope))}


def plateau_verdict(losses: np.ndarray, flat_limit: float, progress_limit: float,
                    achievable=None, noise_margin: float = 1.0) -> Optional[dict]:
    """Evidence that the loss is flat and far above ``achievable`` (a number or a callable
    giving it lazily; None: 0), else None.

    Flat: the last third's fitted descent stays below ``flat_limit`` even ``noise_margin``
    standard errors above its estimate (a noisy curve is not called flat by chance), nor
    rising by more than ``flat_limit``. A run whose last window is not below its first made
    no progress at all: stuck, whatever its last third did (``summary["tail_flat"]`` says).
    Far: the run covered less than ``progress_limit`` of the way from its start to
    ``achievable``, which is a lower bound (the tiny-batch value), so the fraction is too.
    """
    finite = finite_prefix(losses)
    if finite.size < MIN_STEPS:
        return None
    summary = curve_summary(finite)
    summary.update(tail_trend(finite))
    descent_bound = summary["last_third_change"] + noise_margin * summary["last_third_change_se"]
    summary["last_third_change_bound"] = descent_bound
    start, end = summary["start"], summary["end"]
    # Judged on the tail alone, a run that wanders without learning (tanh saturated from
    # step 0: up 20%, down 12%, ending above its start) was stuck or not by the sign of its
    # last third's batch noise, i.e. by the seed. The tail's slope only matters for a run
    # that made progress: still falling (possibly, within the noise), or rising again after
    # a fall (the diverging check's rebound), it is not flat. A run that ends where it
    # started is stuck whatever its tail does.
    summary["tail_flat"] = bool(descent_bound < flat_limit
                                and summary["last_third_change"] > -flat_limit)
    if not summary["tail_flat"] and end < start:
        return None   # moving: not flat
    summary["dropped_fraction"] = (start - end) / start if start > 0 else 0.0
    if start <= 0 or summary["dropped_fraction"] >= progress_limit:
        return None   # already covered the way to zero loss (the lowest any reference can be)
    reference = achievable() if callable(achievable) else achievable
    summary["achievable"] = reference
    reference = 0.0 if reference is None else min(reference, start)
    span = start - reference
    summary["progress_fraction"] = (start - end) / span if span > 0 else 1.0
    if span <= 0 or summary["progress_fraction"] >= progress_limit:
        return None
    return summary


def frozen_loss(losses: np.ndarray) -> Optional[dict]:
    """The loss did not move at all: every finite step within 1e-7 (relative) of the first.

    No reference is needed for this one: a mini-batch loss that never changes, not even by
    batch noise, means nothing upstream of the loss is being updated (zero gradients, frozen
    or dead units, a constant output), or every batch gives the same loss because the
    output ignores the input and the weights do not move.
    """
    finite = finite_prefix(losses)
    if finite.size < MIN_STEPS:
        return None
    spread = float(np.ptp(finite))
    level = float(abs(finite[0]))
    if spread > 1e-7 * max(level, 1e-12):
        return None
    return {"steps": int(finite.size), "value": float(finite[0]), "spread": spread}


def plateau_loss(ctx) -> list:
    losses = loss_curve(ctx)
    frozen = frozen_loss(losses)
    from .loss import chance_loss
    chance = chance_loss(ctx)
    if frozen is not None and (frozen["value"] == 0 or (
            chance is not None and frozen["value"] <= 0.01 * chance)):
        frozen = None   # fixed at (nearly) zero loss: already fits these batches perfectly
    if frozen is not None:
        return [Finding(
            "loss.plateau",
            f"The training loss never moved: it was {frozen['value']:.6g} at every one of the "
            f"{frozen['steps']} steps (spread {frozen['spread']:.3g}). Not even batch noise "
            "changes it, so the output does not depend on the weights being trained: the "
            "gradients reaching them are zero (dead or saturated output units, a constant "
            "output, detached or frozen parameters).",
            severity="error", evidence=frozen,
            fix="Look at the findings linked to it (dead units, a bounded output, missing "
                "gradients); print p.grad for each parameter after one backward(): all zeros "
                "means the graph is cut or the units are dead.")]
    if _diverging(ctx, losses) is not None:
        return []   # a growing loss is not a plateau
    if _oscillating(ctx, losses) is not None:
        return []   # a loss bouncing between two levels is stuck because it oscillates
    summary = plateau_verdict(losses, ctx.thresholds[PLATEAU_FLAT],
                              ctx.thresholds[PLATEAU_PROGRESS],
                              achievable=lambda: achievable_loss(ctx),
                              noise_margin=ctx.thresholds[PLATEAU_NOISE])
    if summary is None:
        return []
    reference = summary["achievable"]
    against = (f"the {reference:.4g} the same model reaches on one batch of {TINY_BATCH} samples "
               "(a lower bound: the whole data set need not get that low)"
               if reference is not None else "zero")
    progress = summary["progress_fraction"]
    if progress > 0.005:
        moved = (f"it went from {summary['start']:.4g} to {summary['end']:.4g}, only "
                 f"{100 * progress:.0f}% of the way to {against}")
    elif progress >= -0.005:
        moved = (f"it went from {summary['start']:.4g} to {summary['end']:.4g}: no progress "
                 f"towards {against}")
    else:
        moved = (f"it ended higher than it started ({summary['start']:.4g} -> "
                 f"{summary['end']:.4g}), no progress towards {against}")
    change = -100 * summary["last_third_change"]   # signed like "changed by": negative = fell
    message = (f"The training loss is stuck: over the last third of the run (a line fitted to "
               f"its {summary['last_third_steps']} steps) it changed by {change:+.1f}% "
               f"(+- {100 * summary['last_third_change_se']:.1f}% from the batch noise), and "
               f"{moved}.")
    if not summary["tail_flat"]:
        message += (" It moves, but only up and down around where it started: the run "
                    "learnt nothing.")
    severity = None
    dropped_limit = ctx.thresholds[PLATEAU_DROPPED]
    if summary["dropped_fraction"] >= dropped_limit:
        # a large fall first: the flat tail may be this data set's own floor, not a stuck run
        severity = "info"
        message += (f" The loss did fall {100 * summary['dropped_fraction']:.0f}% first, so this "
                    "may be as low as the whole training set goes with this model; train longer "
                    "to tell.")
    direction = update_ratio_direction(ctx)
    summary["update_ratio_direction"] = direction
    if direction == "too_high":
        fix = ("The updates are already large (see update.ratio): do not raise the learning "
               "rate; lower it (10x to start) and look at the findings this is linked to.")
    elif direction == "too_low":
        fix = ("The updates are tiny (see update.ratio): raise the learning rate 10x, or pick "
               "one with minnet.optim.lr_find.")
    else:
        fix = ("If the updates are tiny (update/parameter ratio far below 1e-3), raise the "
               "learning rate 10x; otherwise look at the findings it is linked to (dead or "
               "saturated units, vanishing gradients, the initialisation).")
    return [Finding("loss.plateau", message, severity=severity, evidence=summary,
                    thresholds=[ctx.thresholds.describe(PLATEAU_FLAT),
                                ctx.thresholds.describe(PLATEAU_NOISE),
                                ctx.thresholds.describe(PLATEAU_PROGRESS),
                                ctx.thresholds.describe(PLATEAU_DROPPED)],
                    fix=fix)]


def update_ratio_direction(ctx) -> Optional[str]:
    """"too_high"/"too_low"/None: which way the update.ratio check finds the learning rate
    off, so the plateau's advice never contradicts it."""
    if getattr(ctx, "monitor", None) is None:
        return None
    try:
        from .updates import update_ratio
        directions = {f.evidence.get("direction") for f in update_ratio(ctx)}
    except Exception:  # noqa: BLE001 - advice only
        return None
    if "too_high" in directions:
        return "too_high"
    return "too_low" if "too_low" in directions else None


# --------------------------------------------------------------------------
# loss.oscillating
# --------------------------------------------------------------------------
def oscillation_verdict(losses: np.ndarray, autocorr_limit: float,
                        amplitude_limit: float, floor: float = 0.0) -> Optional[dict]:
    """Evidence that the loss bounces up and down every step with a large amplitude.

    The amplitude is relative to the loss's level, but never to less than ``floor`` (a
    fraction of the loss of guessing): a trained model at 1e-4 bouncing by 6e-5 is at its
    minimum, not overshooting it."""
    finite = finite_prefix(losses)
    if finite.size < MIN_STEPS:
        return None
    tail = finite[len(finite) // 10:]    # skip the first steps' fast fall
    changes = np.diff(tail)
    if changes.size < 4 or np.std(changes[:-1]) == 0 or np.std(changes[1:]) == 0:
        return None
    autocorr = float(np.corrcoef(changes[:-1], changes[1:])[0, 1])
    level = float(np.median(np.abs(tail)))
    reference = max(level, floor)
    amplitude = float(np.median(np.abs(changes)) / reference) if reference > 0 else math.inf
    sign_flips = float(np.mean(np.sign(changes[:-1]) != np.sign(changes[1:])))
    evidence = {"change_autocorrelation": autocorr, "relative_amplitude": amplitude,
                "sign_flip_fraction": sign_flips, "steps": int(tail.size),
                "median_loss": level}
    if autocorr < autocorr_limit and amplitude > amplitude_limit:
        return evidence
    return None


def _oscillating(ctx, losses: np.ndarray) -> Optional[dict]:
    """oscillation_verdict with the thresholds in force and the chance-level floor."""
    from .loss import chance_loss
    chance = chance_loss(ctx)
    floor = 0.0 if chance is None else ctx.thresholds[OSC_FLOOR] * chance
    return oscillation_verdict(losses, ctx.thresholds[OSC_AUTOCORR],
                               ctx.thresholds[OSC_AMPLITUDE], floor=floor)


def oscillating_loss(ctx) -> list:
    evidence = _oscillating(ctx, loss_curve(ctx))
    if evidence is None:
        return []
    message = (f"The training loss bounces: consecutive changes correlate at "
               f"{evidence['change_autocorrelation']:.2f} (independent batch noise gives -0.5, a "
               f"strict up-down alternation -1), {100 * evidence['sign_flip_fraction']:.0f}% of "
               f"steps reverse direction, and a typical step moves the loss by "
               f"{100 * evidence['relative_amplitude']:.0f}% of its value. Each step overshoots "
               "the valley floor and lands on the other side.")
    return [Finding("loss.oscillating", message, evidence=evidence,
                    thresholds=[ctx.thresholds.describe(OSC_AUTOCORR),
                                ctx.thresholds.describe(OSC_AMPLITUDE)],
                    fix="Lower the learning rate (10x to start), or add momentum / a decaying "
                        "schedule so the steps shrink near the minimum.")]


# --------------------------------------------------------------------------
# mechanical fixes: the learning rate 10x down or up
# --------------------------------------------------------------------------
def scaled_learning_rate(setup, factor: float):
    """A copy of ``setup`` with a fresh model copy and every param group's lr times ``factor``."""
    model = copy_model(setup.model)
    optimizer = optimizer_factory(setup.optimizer, setup.model)(model)
    for group in optimizer.param_groups:
        group["lr"] = group["lr"] * factor
    return setup.replace(model=model, optimizer=optimizer)


def lower_lr_for_divergence(setup, finding):
    return scaled_learning_rate(setup, 0.1)


def lower_lr_for_oscillation(setup, finding):
    return scaled_learning_rate(setup, 0.1)


def raise_lr_for_plateau(setup, finding):
    too_high = finding.evidence.get("update_ratio_direction") == "too_high"
    return scaled_learning_rate(setup, 0.1 if too_high else 10.0)
