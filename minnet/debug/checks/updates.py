"""Checks of the updates: update/parameter ratio, clipping always on, regularisation too strong.

* ``update.ratio``: the run's median ||p_after - p_before|| / ||p_before|| per weight;
  CS231n's rule of thumb is ~1e-3, outside [1e-4, 3e-2] the learning rate is off, and
  exactly 0 everywhere means nothing moved (an error);
* ``optim.clipping_always``: gradients clipped on most steps, by whoever clips; it hides
  a learning rate that is too high, or is too tight if updates are small;
* ``reg.too_strong``: wd/2 * ||w||^2 dominates the data loss, or a copy without weight
  decay / dropout trains far lower.
"""
from __future__ import annotations

import math

import numpy as np

from ..report import Finding
from ..thresholds import define
from .loss_steps import (first_and_last_tenth, loss_curve, loss_fall,
                         steps_before_divergence)

UPDATE_LOW = define(
    "update_ratio_low", 1e-4, source="37R 33, SHAO 3, CS231N",
    why="updates smaller than this fraction of the weights per step: the learning rate is "
        "too low, training crawls (target ~1e-3)")
UPDATE_HIGH = define(
    "update_ratio_high", 1e-2, source="37R 33, SHAO 3, CS231N",
    why="updates larger than this fraction of the weights per step (median over the run): the "
        "learning rate is on the high side (the catalogue's band is [1e-4, 1e-2] around the "
        "~1e-3 target). Between this and update_ratio_high_warning the finding is only info")
UPDATE_HIGH_WARNING = define(
    "update_ratio_high_warning", 3e-2, source="measured on minnet's runs (CS231N target 1e-3)",
    why="above this the ratio is a warning: small nets that train well sit between 1e-2 and "
        "3e-2 (measured medians: up to 2.5e-2 on the last layer of a small CNN with SGD "
        "momentum, 1.6e-2 with Adam 1e-2, 1.1e-2 for a 16x4 layer with SGD 0.1; Adam's first "
        "steps move every weight by ~lr whatever the gradient), while learning rates too high "
        "for their net measured 3.5e-2 (Adam 0.1), 4.2e-2 (an oscillating L1 fit) up to 2 "
        "(diverging SGD)")
UPDATE_TARGET = define(
    "update_ratio_target", 1e-3, source="CS231N",
    why="the update/weight ratio a well-tuned learning rate gives; for a learning rate too "
        "low the suggested factor is target / measured")
CONVERGED_FALL = define(
    "update_ratio_converged_fall", 100.0, source="measured on minnet's runs (CS231N target 1e-3)",
    why="a loss whose last tenth sits this many times below its first tenth has converged: "
        "its late updates are small because its gradients are, so a median update ratio "
        "below the band does not mean the learning rate is too low (PyTorch's two-layer "
        "tutorial net, SGD 1e-4 on a summed MSE: loss 648 -> 2e-6, median ratio 1.6e-5)")
LR_DECAYED = define(
    "lr_decay_factor", 10.0, source="CS231N (update ratio ~1e-3), 37R 31",
    why="the learning rate ended at least this many times below its start within the short "
        "run: when the updates then fall below update_ratio_low in the run's last third, the "
        "schedule, not the gradients, stopped training (a per-epoch scheduler stepped every "
        "batch decays this fast; a schedule annealed over the run keeps the last third's "
        "median learning rate within ~10x of its start)")
CLIP_FRACTION = define(
    "clipping_active_fraction", 0.5, source="HOLDEN 6",
    why="clipping active on more than this share of the steps is no longer catching rare "
        "spikes: it is capping every update")
CLIP_FLAT_LOSS = define(
    "clip_flat_loss_drop", 0.05, source="measured on minnet's runs",
    why="with clipping on most steps, a loss that changed by less than this fraction of its "
        "start (first vs last tenth of the run) and updates not above the band mean the clip "
        "keeps the steps too small (clip 1e-3 on digits: 0.9% drop; the same net with the clip "
        "only on spikes: 90%)")
DECAY_DOMINANCE = define(
    "weight_decay_dominance", 1.0, source="37R 13, 30",
    why="weight-decay penalty wd/2 * ||w||^2 larger than this multiple of the data loss: the "
        "optimizer mostly shrinks weights instead of fitting the data")
REG_PROGRESS = define(
    "regularised_progress_fraction", 0.25, source="37R 13, 30; measured on minnet's runs",
    why="the regularised model covered less than this share of the way from the loss of "
        "guessing that the same model covers without regularisation in the same steps. "
        "Measured (100 steps, seeds 0-2): dropout 0.8 in a 16-wide net 0.00-0.01 (loss stays "
        "at chance), 0.5 there 0.08-0.13, 0.3 there 0.23-0.36, 0.1 there 0.71-0.78; digits "
        "MLP dropout 0.5 0.73-0.75, 0.9 0.22-0.25; moons MLP dropout 0.9 0.73-0.80; healthy "
        "programs with dropout / weight decay 0.94-1.00. The loss ratio alone misses a model "
        "stuck at chance when the unregularised one is still learning (0.69 / 0.44 = 1.6)")
REG_NOTHING = define(
    "regularised_progress_error", 0.05, source="37R 13, 30",
    why="the regularised model covered at most this share of that way: it learnt nothing "
        "while the same model without regularisation learns, so training fails as set up "
        "(error)")
REG_LOSS_RATIO = define(
    "regularised_loss_ratio", 2.0, source="37R 13, 30",
    why="training loss with the regularisation more than this many times the loss the same "
        "model reaches without it (same steps): the model cannot fit")


def _finite_median(values) -> float:
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else float("nan")


# -- update.ratio ---------------------------------------------------------------------------------
def _held_ids(optimizer):
    """ids of the parameters ``optimizer`` updates, or None without an optimizer."""
    if optimizer is None:
        return None
    return {id(p) for group in optimizer.param_groups for p in group["params"]}


def weight_update_ratios(monitor, optimizer=None) -> list:
    """``[(param name, layer, median update ratio over the run)]`` for every weight (ndim >= 2)
    the optimizer holds (``optimizer`` or the Monitor's).

    Biases are left out: they start at 0, so their ratio starts at infinity. Parameters the
    optimizer does not hold never move by design (grad.missing reports trainable ones).
    A median of exactly 0 is kept: that weight never moved.
    """
    model = getattr(monitor, "model", None)
    params = dict(model.named_parameters()) if model else {}
    held = _held_ids(optimizer if optimizer is not None else getattr(monitor, "optimizer", None))
    rows = []
    for name in monitor.param_names:
        param = params.get(name)
        if param is not None and (param._data.ndim < 2 or (held is not None and
                                                          id(param) not in held)):
            continue
        median = _finite_median(monitor.param(name, "update_ratio"))
        if np.isfinite(median) and median >= 0:
            rows.append((name, monitor.layer_of_param.get(name), median))
    return rows


def lr_factor(ratio: float, target: float) -> float:
    """The factor to multiply the learning rate by, rounded to a power of 10 (at least 10x)."""
    exponent = round(math.log10(target / ratio))
    return 10.0 ** exponent if exponent != 0 else (10.0 if ratio < target else 0.1)


def _never_moved(ctx, monitor, rows) -> list:
    """Weights whose update ratio was exactly 0 on every recorded step (frozen ones left to
    grad.missing): one error when none of the weights ever moved."""
    model = getattr(monitor, "model", None)
    params = dict(model.named_parameters()) if model else {}
    still = [(n, layer) for n, layer, ratio in rows if ratio == 0
             and params.get(n) is not None and params[n].requires_grad]
    if not still or len(still) < len(rows):
        return []
    # backward did give them a gradient: step() did not use it. (A gradient of exactly 0 --
    # every unit dead -- is the activation and gradient checks' finding, not this one.)
    grad_norms = [_finite_median(monitor.param(n, "grad_norm")) for n, _ in still]
    if not all(np.isfinite(g) and g > 0 for g in grad_norms):
        return []
    names = ", ".join(n for n, _ in still)
    return [Finding(
        "update.ratio",
        f"No weight ever changed: the update/weight ratio of every weight the optimizer holds "
        f"({names}) was exactly 0 on all {monitor.n_steps} steps, although backward() gave them "
        f"non-zero gradients. optimizer.step() found no gradient: it was cleared between backward() and step() "
        f"(zero_grad in the wrong place), or the learning rate is 0.",
        severity="error", layer=still[0][1],
        evidence={"parameter": still[0][0], "median_update_ratio": 0.0,
                  "median_grad_norm_after_backward": dict(zip([n for n, _ in still],
                                                              grad_norms)),
                  "direction": "too_low", "suggested_lr_factor": math.inf,
                  "weights_never_moved": [n for n, _ in still],
                  "lr": _finite_median(monitor.scalar("lr")) if "lr" in monitor.scalar_names
                  else float("nan")},
        thresholds=[ctx.thresholds.describe(UPDATE_LOW)],
        fix="Order the step as optimizer.zero_grad(); loss.backward(); optimizer.step() -- "
            "zero_grad() before backward(), never between backward() and step(); check that "
            "the learning rate is not 0.")]


def update_ratio(ctx) -> list:
    """Median update/weight ratio outside [low, high]: one finding per direction, naming the
    layer furthest off and listing every weight's ratio; an error when no weight ever moved."""
    monitor = ctx.monitor
    if monitor is None or monitor.n_steps == 0:
        return []
    low, high = ctx.thresholds[UPDATE_LOW], ctx.thresholds[UPDATE_HIGH]
    target = ctx.thresholds[UPDATE_TARGET]
    rows = weight_update_ratios(monitor, ctx.optimizer)
    if not rows:
        return []
    frozen = _never_moved(ctx, monitor, rows)
    if frozen:
        return frozen
    rows = [row for row in rows if row[2] > 0]  # a lone still weight: grad.missing's business
    if not rows:
        return []
    all_ratios = {name: ratio for name, _, ratio in rows}
    lr = _finite_median(monitor.scalar("lr")) if "lr" in monitor.scalar_names else float("nan")
    before = steps_before_divergence(monitor)
    # a loss that fell this far has converged: small late updates are not a slow lr
    converged = loss_fall(loss_curve(ctx)) >= ctx.thresholds[CONVERGED_FALL]
    findings = []
    for too_low, off in ((True, [r for r in rows if r[2] < low and not converged]),
                         (False, [r for r in rows if r[2] > high])):
        if not off:
            continue
        # the median over all weights sets the lr factor: one lr serves every layer
        overall = float(np.median([ratio for _, _, ratio in rows]))
        name, layer, ratio = (min if too_low else max)(off, key=lambda r: r[2])
        if too_low:
            basis = overall if overall < low else ratio
            factor = lr_factor(basis, target)
        else:
            # measured before the loss blew up, and aimed at the top of the band: the first
            # steps' ratios of healthy runs sit near it, so aiming at 1e-3 would overshoot
            early = [_finite_median(monitor.param(n, "update_ratio")[before]) for n, _, _ in rows]
            early = [r for r in early if np.isfinite(r) and r > 0]
            basis = float(np.median(early)) if early else overall
            basis = basis if basis > high else max(overall, ratio)
            # aim at the top of what healthy runs show (update_ratio_high_warning)
            aim = max(high, ctx.thresholds[UPDATE_HIGH_WARNING])
            factor = min(lr_factor(basis, aim), 0.1)
        suggested = lr * factor if np.isfinite(lr) else float("nan")
        how_far = target / ratio if too_low else ratio / target
        names = ", ".join(f"{n} {r:.2g}" for n, _, r in off)
        clip = clipped_most_steps(ctx) if too_low else None
        culprit = ("The gradient clip, not the learning rate, keeps the updates small"
                   if clip else f"The learning rate looks too {'low' if too_low else 'high'}")
        message = (f"Update/weight ratio {'below' if too_low else 'above'} the band "
                   f"[{low:g}, {high:g}] for {len(off)} of {len(rows)} weights ({names}; median "
                   f"over the run). Worst: {name}, {how_far:.3g}x "
                   f"{'below' if too_low else 'above'} the ~{target:g} a good learning rate "
                   f"gives. {culprit}.")
        lr_text = f" from {lr:.3g} to ~{suggested:.3g}" if np.isfinite(lr) else ""
        fix = (f"{'Raise' if too_low else 'Lower'} the learning rate about "
               f"{max(factor, 1 / factor):g}x{lr_text} (or run minnet.optim.lr_find to pick "
               f"one), then check that the ratio lands in [{low:g}, {high:g}], ideally near "
               f"{target:g}.")
        extra = {}
        if clip:
            message += (f" Gradient clipping was active on {clip['fraction']:.0%} of the steps "
                        f"and scaled the gradients down ~{clip['factor']:.3g}x (max norm "
                        f"{clip['max_norm']:.3g}, median gradient norm {clip['median']:.3g}).")
            fix = (f"Loosen the clip: raise max_norm from {clip['max_norm']:.3g} to about the "
                   f"median gradient norm, {clip['median']:.3g}, so it only catches rare "
                   f"spikes; keep the learning rate, then check that the ratio lands in "
                   f"[{low:g}, {high:g}].")
            extra = {"limited_by_clipping": True, "clipped_fraction": clip["fraction"],
                     "clip_grad_norm": clip["max_norm"], "suggested_max_norm": clip["median"],
                     "suggested_lr_factor": 1.0, "suggested_lr": lr}  # keep the lr
        severity = None
        if not too_low and ratio <= max(high, ctx.thresholds[UPDATE_HIGH_WARNING]):
            severity = "info"  # mildly high: common in small nets that train well
            message += (" Only mildly above the band: small nets that train well often sit "
                        "here; act on it if the loss is noisy or climbs.")
        findings.append(Finding(
            "update.ratio", message, layer=layer, severity=severity,
            evidence={"parameter": name, "median_update_ratio": ratio,
                      "median_over_weights": overall, "lr": lr,
                      "factor_basis_ratio": basis,
                      "suggested_lr_factor": factor, "suggested_lr": suggested,
                      "direction": "too_low" if too_low else "too_high",
                      "weights_off": [n for n, _, _ in off],
                      "update_ratio_per_weight": all_ratios, **extra},
            thresholds=[ctx.thresholds.describe(UPDATE_LOW),
                        ctx.thresholds.describe(UPDATE_HIGH),
                        ctx.thresholds.describe(UPDATE_HIGH_WARNING),
                        ctx.thresholds.describe(UPDATE_TARGET)],
            fix=fix))
    return findings


# -- update.ratio, late in the run: a learning rate that decayed away -----------------------------
def _median_ratio_over_weights(monitor, rows, window: slice) -> float:
    medians = [_finite_median(monitor.param(name, "update_ratio")[window]) for name, _, _ in rows]
    medians = [m for m in medians if np.isfinite(m)]
    return float(np.median(medians)) if medians else float("nan")


def lr_decayed_away(ctx) -> list:
    """The learning rate schedule shrank the updates below the band during the run.

    The run's median update ratio can sit inside the band while its last third is far
    below it: a scheduler meant per epoch but stepped per batch (StepLR, ExponentialLR)
    decays the learning rate 1000x in a hundred steps and training stops early, at a
    loss that looks like a floor. Reported when the first third's median ratio (over the
    weights) is within the band, the last third's is below it, and the recorded learning
    rate ended at least ``lr_decay_factor`` times below its start.
    """
    monitor = ctx.monitor
    if monitor is None or monitor.n_steps < 30 or "lr" not in monitor.scalar_names:
        return []
    rows = [row for row in weight_update_ratios(monitor, ctx.optimizer) if row[2] > 0]
    lrs = np.asarray(monitor.scalar("lr"), dtype=np.float64)
    lrs = lrs[np.isfinite(lrs)]
    if not rows or lrs.size < 30 or lrs[0] <= 0:
        return []
    n, low = monitor.n_steps, ctx.thresholds[UPDATE_LOW]
    early = _median_ratio_over_weights(monitor, rows, slice(0, n // 3))
    late = _median_ratio_over_weights(monitor, rows, slice(2 * n // 3, n))
    decay = float(lrs[0] / lrs[-1]) if lrs[-1] > 0 else math.inf
    if not (early >= low and late < low and decay >= ctx.thresholds[LR_DECAYED]):
        return []
    third = lrs[min(2 * lrs.size // 3, lrs.size - 1)]
    return [Finding(
        "update.ratio",
        f"The learning rate decayed away during the run: {lrs[0]:.3g} at the start, "
        f"{third:.3g} two thirds in and {lrs[-1]:.3g} at the end ({decay:.3g}x lower), so the "
        f"updates shrank from {early:.2g} of the weights (median over the weights, first third) "
        f"to {late:.2g} (last third), below the band's {low:g}: training stopped early, at "
        f"whatever loss it had reached. A scheduler meant to step once per epoch (StepLR, "
        f"MultiStepLR, ExponentialLR) but stepped every batch decays this fast.",
        evidence={"lr_start": float(lrs[0]), "lr_two_thirds": float(third),
                  "lr_end": float(lrs[-1]), "lr_decay": decay,
                  "median_update_ratio_first_third": early,
                  "median_update_ratio_last_third": late, "direction": "too_low",
                  "cause": "lr_schedule"},
        thresholds=[ctx.thresholds.describe(UPDATE_LOW), ctx.thresholds.describe(LR_DECAYED)],
        fix="Step an epoch-based scheduler once per epoch, after the batch loop "
            "(for epoch ...: for batch ...: optimizer.step(); then scheduler.step()); to "
            "schedule per batch, give step_size / milestones / gamma in batches.")]


# -- optim.clipping_always ---------------------------------------------------------------------------
# A clipped step leaves the gradient at max_norm * total / (total + 1e-6): within float rounding
# (~1e-6 relative, measured spreads 7e-7 .. 8e-7) of one constant. A step counts as clipped when
# step() saw a gradient norm more than CLIP_SHRINK below the end-of-backward norm; the clipped steps
# must sit within CAP_SPREAD of their median (a cap), else the loop rescales gradients some other
# way (e.g. divides by the accumulation count) and that is not clipping.
CLIP_SHRINK = 1e-3
CAP_SPREAD = 1e-2
CAP_SHARE = 0.9


def clipping_evidence(ctx):
    """How often gradients were clipped in the run, and at what norm; None if unknown.

    From ``ctx.run.grad_norms_before_clip`` (diagnose's step with ``clip_grad_norm=``), else
    from the Monitor: steps where ``grad_norm_at_step`` (seen by ``optimizer.step()``) is
    below ``grad_norm_total`` (end of backward) and capped at one constant, the estimated
    ``max_norm``. Returns ``{norms, clipped, max_norm, source}``, cached in ``ctx.cache``.
    """
    cache = getattr(ctx, "cache", None)
    if cache is not None and "clipping" in cache:
        return cache["clipping"]
    found = _clipping_from_run(ctx) or _clipping_from_monitor(getattr(ctx, "monitor", None))
    if cache is not None:
        cache["clipping"] = found
    return found


def clipped_most_steps(ctx):
    """``{"fraction", "max_norm", "median", "factor"}`` when clipping was active on more than
    ``clipping_active_fraction`` of the steps, else None."""
    clipping = clipping_evidence(ctx)
    if clipping is None:
        return None
    fraction = float(np.mean(clipping["clipped"]))
    if fraction <= ctx.thresholds[CLIP_FRACTION]:
        return None
    median = float(np.median(clipping["norms"]))
    return {"fraction": fraction, "max_norm": clipping["max_norm"], "median": median,
            "factor": median / clipping["max_norm"]}


def _clipping_from_run(ctx):
    run = getattr(ctx, "run", None)
    clip = getattr(ctx, "clip_grad_norm", None)
    if run is None or clip is None or run.grad_norms_before_clip is None:
        return None
    norms = np.asarray(run.grad_norms_before_clip, dtype=np.float64)
    norms = norms[np.isfinite(norms)]
    if norms.size == 0:  # a train_step of the user's: the step never reported its norms
        return None
    return {"norms": norms, "clipped": norms > float(clip), "max_norm": float(clip),
            "source": "diagnose's training step (clip_grad_norm=)"}


def _clipping_from_monitor(monitor):
    names = getattr(monitor, "scalar_names", ())
    if monitor is None or "grad_norm_at_step" not in names or "grad_norm_total" not in names:
        return None
    after_backward = np.asarray(monitor.scalar("grad_norm_total"), dtype=np.float64)
    at_step = np.asarray(monitor.scalar("grad_norm_at_step"), dtype=np.float64)
    n = min(len(after_backward), len(at_step))
    after_backward, at_step = after_backward[:n], at_step[:n]
    seen = np.isfinite(after_backward) & np.isfinite(at_step) & (after_backward > 0)
    if not seen.any():
        return None
    after_backward, at_step = after_backward[seen], at_step[seen]
    shrunk = (at_step < after_backward * (1 - CLIP_SHRINK)) & (at_step > 0)
    if not shrunk.any():
        return {"norms": after_backward, "clipped": shrunk, "max_norm": float("nan"),
                "source": "Monitor (gradient norm after backward vs at optimizer.step)"}
    cap = float(np.median(at_step[shrunk]))
    capped = shrunk & (np.abs(at_step / cap - 1) <= CAP_SPREAD)
    if capped.sum() < CAP_SHARE * shrunk.sum():
        return None  # rescaled, not capped at one norm: not norm clipping
    # a step below the cap was left alone; one above it would have been clipped
    return {"norms": after_backward, "clipped": capped, "max_norm": cap,
            "source": "Monitor (gradient norm after backward vs at optimizer.step)"}


def _loss_drop(monitor) -> float:
    """(first tenth - last tenth) / first tenth of the logged loss; NaN if none was logged."""
    if monitor is None or "loss" not in getattr(monitor, "scalar_names", ()):
        return float("nan")
    tenths = first_and_last_tenth(np.asarray(monitor.scalar("loss"), dtype=np.float64))
    if tenths is None:
        return float("nan")
    first, last = (float(window.mean()) for window in tenths)
    return (first - last) / abs(first) if first != 0 else float("nan")


def clip_verdict(ctx, clipping) -> tuple:
    """``(verdict, median update ratio, loss drop)`` for a run clipped on most steps.

    "too_tight": the updates are below the band, or the loss stayed flat without the
    updates being large -- the clip keeps the steps small; "hides_lr": the updates are above
    the band or the loss rose -- the clip caps steps a too-high learning rate makes;
    "always_on": neither (training progresses; the clip merely rescales every step).
    """
    monitor = getattr(ctx, "monitor", None)
    ratios = weight_update_ratios(monitor, ctx.optimizer) if monitor is not None else []
    ratios = [r for _, _, r in ratios if r > 0]
    ratio = float(np.median(ratios)) if ratios else float("nan")
    drop = _loss_drop(monitor)
    low, high = ctx.thresholds[UPDATE_LOW], ctx.thresholds[UPDATE_HIGH]
    flat = ctx.thresholds[CLIP_FLAT_LOSS]
    if ratio < low or (abs(drop) < flat and not ratio > high):
        return "too_tight", ratio, drop
    if ratio > high or drop < -flat:
        return "hides_lr", ratio, drop
    return "always_on", ratio, drop


def clipping_always(ctx) -> list:
    """Gradient clipping active on most steps (whoever clips: diagnose's step, a user's
    train_step or loop); the finding says whether the clip is too tight or hides a high lr."""
    clipping = clipping_evidence(ctx)
    if clipping is None:
        return []
    norms, clipped = clipping["norms"], clipping["clipped"]
    limit = ctx.thresholds[CLIP_FRACTION]
    fraction = float(np.mean(clipped))
    if fraction <= limit:
        return []
    clip = clipping["max_norm"]
    median = float(np.median(norms))
    factor = median / clip
    verdict, ratio, drop = clip_verdict(ctx, clipping)
    said = (f"Gradient clipping (max norm {clip:.3g}"
            + ("" if clipping["source"].startswith("diagnose") else ", estimated from the "
               "gradient norm optimizer.step() saw")
            + f") was active on {fraction:.0%} of the steps; the median gradient norm before "
              f"clipping was {median:.3g}, {factor:.3g}x the clip norm, so every gradient was "
              f"scaled down about {factor:.3g}x.")
    ratio_text = f"median update/weight ratio {ratio:.2g}" if np.isfinite(ratio) else ""
    drop_text = f"loss changed {-drop:+.1%} over the run" if np.isfinite(drop) else ""
    measured = ", ".join(t for t in (ratio_text, drop_text) if t)
    if verdict == "too_tight":
        message = (f"{said} The clip is too tight: it, not the learning rate, keeps the updates "
                   f"small ({measured}). Clipping should only catch rare spikes.")
        fix = (f"Raise max_norm to about the median gradient norm, {median:.3g} (e.g. "
               f"clip_grad_norm_(model.parameters(), max_norm={median:.2g})), so that clipping "
               f"is active on < {limit:.0%} of the steps; keep the learning rate.")
    elif verdict == "hides_lr":
        message = (f"{said} Clipping caps every update, which hides a learning rate that is too "
                   f"high ({measured}): every step has the same length whatever the gradient "
                   f"says.")
        fix = (f"Lower the learning rate (about {max(2.0, factor):.3g}x to start with) until "
               f"clipping only catches rare spikes (active on < {limit:.0%} of the steps); keep "
               f"the clip as a guard.")
    else:
        message = (f"{said} Training progresses ({measured}), but the clip is no longer a guard "
                   f"against rare spikes: it sets the length of every step.")
        fix = (f"Raise max_norm to about the median gradient norm, {median:.3g}, so that it only "
               f"catches spikes; if the loss then turns noisy or climbs, lower the learning rate "
               f"instead.")
    evidence = {"clipped_fraction": fraction, "clip_grad_norm": clip,
                "median_norm_before_clip": median, "max_norm_before_clip": float(norms.max()),
                "clip_scale_factor": factor, "verdict": verdict,
                "median_update_ratio": ratio, "loss_drop_fraction": drop,
                "measured_by": clipping["source"], "suggested_max_norm": median}
    return [Finding("optim.clipping_always", message, evidence=evidence,
                    thresholds=[ctx.thresholds.describe(CLIP_FRACTION),
                                ctx.thresholds.describe(CLIP_FLAT_LOSS),
                                ctx.thresholds.describe(UPDATE_LOW),
                                ctx.thresholds.describe(UPDATE_HIGH)], fix=fix)]


# -- reg.too_strong -------------------------------------------------------------------------------------
def weight_decay_penalty(optimizer) -> tuple:
    """``(penalty, largest wd)``: sum over groups of wd/2 * ||w||^2 for the group's params.

    For AdamW's decoupled decay this is the L2 penalty whose gradient is the same
    shrinkage direction (its size relative to the data loss is what matters here).
    """
    penalty, largest = 0.0, 0.0
    for group in optimizer.param_groups:
        decay = float(group.get("weight_decay", 0) or 0)
        largest = max(largest, decay)
        if decay:
            penalty += decay / 2 * sum(float(np.sum(np.square(p._data, dtype=np.float64)))
                                       for p in group["params"])
    return penalty, largest


def _dropouts(model) -> list:
    return [(name, m) for name, m in model.named_modules()
            if "dropout" in type(m).__name__.lower() and getattr(m, "p", 0) > 0]


def _train_loss(ctx, model) -> float:
    """The loss on (up to 512) training samples in eval mode (no dropout noise)."""
    X, y = ctx.sample(512)
    return ctx.loss_value(ctx.forward(model, X), y)


def _without_regularisation(ctx) -> tuple:
    """Train a fresh copy for the run's steps with weight decay 0 and dropout p=0; (model, run)."""
    model = ctx.fresh_model()
    for _, module in _dropouts(model):
        module.p = 0.0
    optimizer = ctx.make_optimizer(model)
    for group in optimizer.param_groups:
        if "weight_decay" in group:
            group["weight_decay"] = 0.0
    run = ctx.train(model, steps=ctx.run.steps or ctx.steps, optimizer=optimizer)
    return model, run


def regularisation_too_strong(ctx) -> list:
    """Weight decay dominating the data loss, or the loss far above the unregularised copy's."""
    if ctx.run is None or ctx.optimizer is None or ctx.model is None or ctx.loss_fn is None:
        return []
    # the penalty at the initial weights: a strong decay has shrunk the trained ones to ~0
    initial_penalty, decay = weight_decay_penalty(ctx.make_optimizer(ctx.fresh_model()))
    penalty = max(initial_penalty, weight_decay_penalty(ctx.optimizer)[0])
    dropouts = _dropouts(ctx.model)
    heavy_dropout = [(n, m.p) for n, m in dropouts if m.p >= 0.3]
    if decay == 0 and not heavy_dropout:
        return []
    if ctx.run.stopped_at is not None or ctx.run.steps < 10:
        return []  # a run that blew up has other problems to report first
    data_loss = _train_loss(ctx, ctx.model)
    dominance = penalty / data_loss if data_loss > 0 else float("inf")
    free_model, free_run = _without_regularisation(ctx)
    if free_run.error is not None:
        return []
    free_loss = _train_loss(ctx, free_model)
    ratio = data_loss / free_loss if free_loss > 0 else float("inf")
    dominance_limit = ctx.thresholds[DECAY_DOMINANCE]
    ratio_limit = ctx.thresholds[REG_LOSS_RATIO]
    dominates = decay > 0 and dominance > dominance_limit
    # ratio alone is noisy when both losses are tiny: require a gap of 10% of the start loss too
    finite = ctx.run.losses[np.isfinite(ctx.run.losses)]
    gap_needed = 0.1 * float(finite[0]) if finite.size else 0.0
    far_above = ratio > ratio_limit and data_loss - free_loss > gap_needed
    # progress from the loss of guessing, as a share of the unregularised copy's progress;
    # judged only when that copy got at least 10% of the way below guessing
    from .loss import chance_loss
    chance = chance_loss(ctx)
    progress = None
    if chance is not None and math.isfinite(chance) and chance - free_loss > 0.1 * chance:
        progress = float((chance - data_loss) / (chance - free_loss))
    far_behind = progress is not None and progress < ctx.thresholds[REG_PROGRESS]
    if not (far_above or far_behind or (dominates and ratio > 1.2)):
        return []
    what = []
    if decay > 0:
        what.append(f"weight decay {decay:g} (penalty wd/2*||w||^2 = {penalty:.3g}, "
                    f"{dominance:.3g}x the data loss {data_loss:.3g})")
    if heavy_dropout:
        what.append("dropout " + ", ".join(f"p={p:g} in {n}" for n, p in heavy_dropout))
    message = (f"Regularisation too strong: with {' and '.join(what)} the training loss after "
               f"{ctx.run.steps} steps is {data_loss:.3g}; the same model trained the same way "
               f"without it reaches {free_loss:.3g} ({ratio:.3g}x lower).")
    severity = None
    if progress is not None:
        message += (f" Measured from the {chance:.3g} of guessing, it covered {progress:.0%} "
                    f"of the way the unregularised model covers.")
        if progress <= ctx.thresholds[REG_NOTHING]:
            severity = "error"
            message += " It learnt nothing: training fails as set up."
    message += " First make the model fit, then regularise."
    fix = ("Reduce the regularisation: "
           + (f"weight_decay={decay / 100:g} to {decay / 10:g} instead of {decay:g}" if decay > 0
              else "")
           + (" and " if decay > 0 and heavy_dropout else "")
           + ("dropout p=0.1-0.2" if heavy_dropout else "")
           + "; raise it again only if validation loss shows overfitting.")
    return [Finding("reg.too_strong", message,
                    evidence={"weight_decay": decay, "decay_penalty": penalty,
                              "data_loss": data_loss, "penalty_to_data_loss": dominance,
                              "loss_without_regularisation": free_loss,
                              "loss_ratio": ratio, "chance_loss": chance,
                              "progress_fraction": progress,
                              "dropout_p": {n: float(p) for n, p in heavy_dropout}},
                    severity=severity,
                    thresholds=[ctx.thresholds.describe(DECAY_DOMINANCE),
                                ctx.thresholds.describe(REG_LOSS_RATIO),
                                ctx.thresholds.describe(REG_PROGRESS),
                                ctx.thresholds.describe(REG_NOTHING)], fix=fix)]


# -- mechanical fixes -------------------------------------------------------------------------------------
from .gradients import repaired_copy  # noqa: E402


def scale_learning_rate(setup, finding):
    if finding.evidence.get("limited_by_clipping"):
        return loosen_clip(setup, finding)
    factor = float(finding.evidence.get("suggested_lr_factor") or 0.1)
    model, optimizer = repaired_copy(setup)
    for group in optimizer.param_groups:
        group["lr"] = float(group["lr"]) * factor
    return setup.replace(model=model, optimizer=optimizer)


def loosen_clip(setup, finding):
    """``setup`` with clip_grad_norm raised to the finding's suggested max norm."""
    if setup.train_step is not None or setup.clip_grad_norm is None:
        raise ValueError("the clip is inside your own train_step: raise its max_norm to "
                         f"{finding.evidence.get('suggested_max_norm', float('nan')):.3g} there")
    model, optimizer = repaired_copy(setup)
    return setup.replace(model=model, optimizer=optimizer,
                         clip_grad_norm=float(finding.evidence["suggested_max_norm"]))


def lower_lr_under_clipping(setup, finding):
    if finding.evidence.get("verdict") == "too_tight":
        return loosen_clip(setup, finding)
    model, optimizer = repaired_copy(setup)
    for group in optimizer.param_groups:
        group["lr"] = float(group["lr"]) * 0.1
    return setup.replace(model=model, optimizer=optimizer)


def drop_regularisation(setup, finding):
    model, optimizer = repaired_copy(setup, weight_decay=0.0)
    for _, module in _dropouts(model):
        module.p = 0.0
    return setup.replace(model=model, optimizer=optimizer)
