"""Checks of the updates: update/parameter ratio, clipping always on, regularisation too strong.

* ``update.ratio``          median over the run of ||p_after - p_before|| / ||p_before|| per
                            weight the optimizer holds (the Monitor's ``update_ratio``);
                            CS231n's rule of thumb is ~1e-3, and outside [1e-4, 3e-2] the
                            learning rate is off; exactly 0 on every step for every weight
                            means nothing ever moved (an error);
* ``optim.clipping_always`` the gradient norm before clipping (``ctx.run``) exceeds the clip
                            norm on most steps: clipping hides a learning rate that is too high;
* ``reg.too_strong``        the weight-decay penalty wd/2 * ||w||^2 dominates the data loss, or
                            a copy trained without weight decay / dropout reaches a far lower
                            training loss.
"""
from __future__ import annotations

import math

import numpy as np

from ..report import Finding
from ..thresholds import define
from . import check

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
CLIP_FRACTION = define(
    "clipping_active_fraction", 0.5, source="HOLDEN 6",
    why="clipping active on more than this share of the steps is no longer catching rare "
        "spikes: it is capping every update")
DECAY_DOMINANCE = define(
    "weight_decay_dominance", 1.0, source="37R 13, 30",
    why="weight-decay penalty wd/2 * ||w||^2 larger than this multiple of the data loss: the "
        "optimizer mostly shrinks weights instead of fitting the data")
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
        if param is not None and (param.data.ndim < 2 or (held is not None and
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


def steps_before_divergence(monitor) -> np.ndarray:
    """Boolean mask over the recorded steps: those before the logged loss first rose above
    1.5x its first value or turned non-finite (all True when no loss was logged or it never
    did). Update ratios after a blow-up describe a broken net, not the learning rate."""
    steps = np.asarray(monitor.steps, dtype=int)
    keep = np.ones(len(steps), dtype=bool)
    if "loss" not in getattr(monitor, "scalar_names", ()):
        return keep
    loss = np.asarray(monitor.scalar("loss"), dtype=np.float64)
    logged = np.flatnonzero(np.isfinite(loss))
    if logged.size == 0:
        return keep
    first = loss[logged[0]]
    bad = np.flatnonzero(~np.isfinite(loss[logged[0]:]) |
                         (loss[logged[0]:] > 1.5 * abs(first)))
    if bad.size == 0:
        return keep
    return steps < logged[0] + bad[0]


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
        thresholds=[ctx.thresholds.describe("update_ratio_low")],
        fix="Order the step as optimizer.zero_grad(); loss.backward(); optimizer.step() -- "
            "zero_grad() before backward(), never between backward() and step(); check that "
            "the learning rate is not 0.")]


@check(phase="run", codes=("update.ratio",), needs=("monitor",))
def update_ratio(ctx) -> list:
    """Median update/weight ratio outside [low, high]: one finding per direction, naming the
    layer furthest off and listing every weight's ratio; an error when no weight ever moved."""
    monitor = ctx.monitor
    if monitor is None or monitor.n_steps == 0:
        return []
    low, high = ctx.thresholds["update_ratio_low"], ctx.thresholds["update_ratio_high"]
    target = ctx.thresholds["update_ratio_target"]
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
    findings = []
    for too_low, off in ((True, [r for r in rows if r[2] < low]),
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
            aim = max(high, ctx.thresholds["update_ratio_high_warning"])
            factor = min(lr_factor(basis, aim), 0.1)
        suggested = lr * factor if np.isfinite(lr) else float("nan")
        how_far = target / ratio if too_low else ratio / target
        names = ", ".join(f"{n} {r:.2g}" for n, _, r in off)
        message = (f"Update/weight ratio {'below' if too_low else 'above'} the band "
                   f"[{low:g}, {high:g}] for {len(off)} of {len(rows)} weights ({names}; median "
                   f"over the run). Worst: {name}, {how_far:.3g}x "
                   f"{'below' if too_low else 'above'} the ~{target:g} a good learning rate "
                   f"gives. The learning rate looks too {'low' if too_low else 'high'}.")
        lr_text = f" from {lr:.3g} to ~{suggested:.3g}" if np.isfinite(lr) else ""
        fix = (f"{'Raise' if too_low else 'Lower'} the learning rate about "
               f"{max(factor, 1 / factor):g}x{lr_text} (or run minnet.optim.lr_find to pick "
               f"one), then check that the ratio lands in [{low:g}, {high:g}], ideally near "
               f"{target:g}.")
        severity = None
        if not too_low and ratio <= max(high, ctx.thresholds["update_ratio_high_warning"]):
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
                      "update_ratio_per_weight": all_ratios},
            thresholds=[ctx.thresholds.describe("update_ratio_low"),
                        ctx.thresholds.describe("update_ratio_high"),
                        ctx.thresholds.describe("update_ratio_high_warning"),
                        ctx.thresholds.describe("update_ratio_target")],
            fix=fix))
    return findings


# -- optim.clipping_always ---------------------------------------------------------------------------
@check(phase="run", codes=("optim.clipping_always",), needs=("run",))
def clipping_always(ctx) -> list:
    """The gradient norm before clipping exceeds the clip norm on most steps."""
    run = ctx.run
    if run is None or ctx.clip_grad_norm is None or run.grad_norms_before_clip is None:
        return []
    norms = np.asarray(run.grad_norms_before_clip, dtype=np.float64)
    norms = norms[np.isfinite(norms)]
    if norms.size == 0:
        return []
    limit = ctx.thresholds["clipping_active_fraction"]
    clip = float(ctx.clip_grad_norm)
    fraction = float(np.mean(norms > clip))
    if fraction <= limit:
        return []
    median = float(np.median(norms))
    factor = median / clip
    message = (f"Gradient clipping (max norm {clip:g}) was active on {fraction:.0%} of the steps; "
               f"the median gradient norm before clipping was {median:.3g}, {factor:.3g}x the "
               f"clip norm. Clipping caps every update, which hides a learning rate that is too "
               f"high (every step has the same length whatever the gradient says).")
    fix = (f"Lower the learning rate (about {max(2.0, factor):.3g}x to start with) until clipping "
           f"only catches rare spikes (active on < {limit:.0%} of the steps); keep the clip as a "
           f"guard.")
    return [Finding("optim.clipping_always", message,
                    evidence={"clipped_fraction": fraction, "clip_grad_norm": clip,
                              "median_norm_before_clip": median,
                              "max_norm_before_clip": float(norms.max())},
                    thresholds=[ctx.thresholds.describe("clipping_active_fraction")], fix=fix)]


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
            penalty += decay / 2 * sum(float(np.sum(np.square(p.data, dtype=np.float64)))
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


@check(phase="run", codes=("reg.too_strong",), needs=("run",))
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
    dominance_limit = ctx.thresholds["weight_decay_dominance"]
    ratio_limit = ctx.thresholds["regularised_loss_ratio"]
    dominates = decay > 0 and dominance > dominance_limit
    # ratio alone is noisy when both losses are tiny: require a gap of 10% of the start loss too
    finite = ctx.run.losses[np.isfinite(ctx.run.losses)]
    gap_needed = 0.1 * float(finite[0]) if finite.size else 0.0
    far_above = ratio > ratio_limit and data_loss - free_loss > gap_needed
    if not (far_above or (dominates and ratio > 1.2)):
        return []
    what = []
    if decay > 0:
        what.append(f"weight decay {decay:g} (penalty wd/2*||w||^2 = {penalty:.3g}, "
                    f"{dominance:.3g}x the data loss {data_loss:.3g})")
    if heavy_dropout:
        what.append("dropout " + ", ".join(f"p={p:g} in {n}" for n, p in heavy_dropout))
    message = (f"Regularisation too strong: with {' and '.join(what)} the training loss after "
               f"{ctx.run.steps} steps is {data_loss:.3g}; the same model trained the same way "
               f"without it reaches {free_loss:.3g} ({ratio:.3g}x lower). First make the model "
               f"fit, then regularise.")
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
                              "loss_ratio": ratio,
                              "dropout_p": {n: float(p) for n, p in heavy_dropout}},
                    thresholds=[ctx.thresholds.describe("weight_decay_dominance"),
                                ctx.thresholds.describe("regularised_loss_ratio")], fix=fix)]


# -- mechanical fixes -------------------------------------------------------------------------------------
from ..whatif import mechanical_fix  # noqa: E402
from .gradients import repaired_copy  # noqa: E402


@mechanical_fix("update.ratio", "scale the learning rate by the factor the update ratio suggests")
def scale_learning_rate(setup, finding):
    factor = float(finding.evidence.get("suggested_lr_factor") or 0.1)
    model, optimizer = repaired_copy(setup)
    for group in optimizer.param_groups:
        group["lr"] = float(group["lr"]) * factor
    return setup.replace(model=model, optimizer=optimizer)


@mechanical_fix("optim.clipping_always", "lower the learning rate 10x (keep the clip)")
def lower_lr_under_clipping(setup, finding):
    model, optimizer = repaired_copy(setup)
    for group in optimizer.param_groups:
        group["lr"] = float(group["lr"]) * 0.1
    return setup.replace(model=model, optimizer=optimizer)


@mechanical_fix("reg.too_strong", "drop weight decay (weight_decay=0) and dropout")
def drop_regularisation(setup, finding):
    model, optimizer = repaired_copy(setup, weight_decay=0.0)
    for _, module in _dropouts(model):
        module.p = 0.0
    return setup.replace(model=model, optimizer=optimizer)
