"""The debugger's checks, listed by hand in the order ``diagnose`` runs them.

A check is ``check(ctx) -> list[Finding]`` in its family's module (data.py, loss.py,
model.py, ...); ``CHECKS`` says in which phase it runs and which codes it may emit,
``FIXES`` which mechanical fix ``Report.verify_fixes()`` tries for a code. Phases:
``"data"`` reads the arrays, ``"preflight"`` experiments on ``ctx.fresh_model()``
copies, ``"run"`` reads the short run (``ctx.monitor``, ``ctx.run``); run checks with
``needs=("monitor",)`` also serve ``Monitor.findings()`` in a user's own loop.
"""
from __future__ import annotations

import traceback
import warnings
from dataclasses import dataclass
from typing import Callable

from ..codes import get as catalogue_entry
from . import activations, data, dynamics, gradients, loss, model, run, updates

PHASES = ("data", "preflight", "run")


@dataclass(frozen=True)
class Check:
    phase: str
    codes: tuple     # the finding codes it may emit
    function: Callable
    needs: tuple = ()  # "monitor" and/or "run": what of the training run it reads;
                       # "forward": runs the model on training samples; "loss": trains on
                       # the loss (checks that explain a loss which raises do not need it)

    @property
    def name(self) -> str:
        """``"data.leakage"``: the check's module and function, for warnings."""
        return f"{self.function.__module__.rsplit('.', 1)[-1]}.{self.function.__name__}"


@dataclass(frozen=True)
class MechanicalFix:
    code: str
    description: str
    apply: Callable  # apply(setup, finding) -> a repaired copy of the setup (never mutates it)


CHECKS = (
    Check("run", ("activation.dead_relu",), activations.dead_relu, needs=("monitor",)),
    Check("run", ("activation.saturated",), activations.saturated, needs=("monitor",)),
    Check("run", ("activation.scale",), activations.activation_scale, needs=("monitor",)),
    Check("data", ("data.nonfinite",), data.nonfinite_data),
    Check("data", ("data.not_normalized",), data.inputs_not_normalized),
    Check("data", ("data.constant_feature",), data.constant_features),
    Check("data", ("data.target_scale",), data.target_scale),
    Check("data", ("data.not_shuffled",), data.not_shuffled),
    Check("data", ("data.not_shuffled",), data.split_not_shuffled),
    Check("data", ("data.class_imbalance",), data.class_imbalance),
    Check("data", ("data.labels_invalid",), data.labels_invalid),
    Check("preflight", ("data.labels_invalid",), data.labels_beyond_output),
    Check("preflight", ("data.labels_invalid",), data.class_indices_to_a_regression_loss),
    Check("data", ("data.leakage",), data.leakage),
    Check("data", ("data.leakage",), data.val_standardised_on_its_own),
    Check("data", ("data.not_normalized",), data.val_inputs_unlike_train),
    Check("data", ("data.too_few_samples",), data.too_few_samples),
    Check("data", ("batch.too_large",), data.batch_too_large),
    Check("preflight", ("data.input_independent",), data.input_independent),
    Check("run", ("loss.nonfinite",), dynamics.nonfinite_loss, needs=("monitor",)),
    Check("run", ("loss.diverging",), dynamics.diverging_loss, needs=("monitor",)),
    Check("run", ("loss.plateau",), dynamics.plateau_loss, needs=("monitor",)),
    Check("run", ("loss.oscillating",), dynamics.oscillating_loss, needs=("monitor",)),
    Check("run", ("grad.nonfinite",), gradients.nonfinite_gradients, needs=("monitor",)),
    Check("run", ("grad.exploding",), gradients.exploding_gradients, needs=("monitor",)),
    Check("run", ("grad.vanishing",), gradients.vanishing_gradients, needs=("monitor",)),
    Check("run", ("grad.missing",), gradients.missing_gradients, needs=("monitor",)),
    Check("run", ("grad.accumulating",), gradients.accumulating_gradients, needs=("monitor",)),
    Check("preflight", ("grad.incorrect",), gradients.incorrect_gradients),
    Check("preflight", ("loss.initial_unexpected",), loss.initial_loss, needs=("forward",)),
    Check("preflight", ("loss.wrong_input",), loss.loss_input, needs=("forward",)),
    Check("preflight", ("loss.broadcast_shape",), loss.prediction_shape, needs=("forward",)),
    Check("preflight", ("loss.reduction_scale",), loss.reduction, needs=("forward",)),
    Check("preflight", ("loss.terms_unbalanced",), loss.term_balance),
    Check("preflight", ("init.bad_scale",), model.predicted_vs_measured, needs=("forward",)),
    Check("preflight", ("init.symmetric",), model.symmetric_init, needs=("forward",)),
    Check("preflight", ("init.bad_scale",), model.bad_init_scale, needs=("forward",)),
    Check("preflight", ("init.output_bias",), model.output_bias, needs=("forward",)),
    Check("preflight", ("output.wrong_activation",), model.wrong_output_activation, needs=("forward",)),
    Check("preflight", ("output.wrong_activation",), model.softmax_output_mismatch, needs=("forward",)),
    Check("preflight", ("model.train_mode_at_eval",), model.random_in_eval_mode, needs=("forward",)),
    Check("preflight", ("model.cannot_overfit",), model.cannot_overfit,
          needs=("forward", "loss")),
    Check("preflight", ("model.train_mode_at_eval",), model.train_mode_at_eval),
    Check("run", ("run.crashed",), run.run_crashed, needs=("run",)),
    Check("run", ("update.ratio",), updates.update_ratio, needs=("monitor",)),
    Check("run", ("update.ratio",), updates.lr_decayed_away, needs=("monitor",)),
    Check("run", ("optim.clipping_always",), updates.clipping_always, needs=("monitor",)),
    Check("run", ("reg.too_strong",), updates.regularisation_too_strong, needs=("run",)),
)

FIXES = {fix.code: fix for fix in (
    MechanicalFix("activation.dead_relu",
        "replace every ReLU with LeakyReLU(0.01)",
        activations.fix_dead_relu),
    MechanicalFix("activation.scale",
        "re-initialise weights with He (ReLU) / Glorot (tanh, sigmoid, linear output), biases "
        "zero",
        activations.fix_activation_scale),
    MechanicalFix("activation.saturated",
        "re-initialise weights with Glorot (tanh, sigmoid) / He (ReLU), biases zero",
        activations.fix_saturated),
    MechanicalFix("data.not_normalized",
        "standardise the inputs with training-set statistics",
        data.standardise_inputs),
    MechanicalFix("data.constant_feature",
        "drop the constant features (and their first-layer weights)",
        data.drop_constant_features),
    MechanicalFix("data.target_scale",
        "standardise the targets with training-set statistics",
        data.standardise_targets),
    MechanicalFix("data.not_shuffled",
        "shuffle the training data every epoch",
        data.shuffle_every_epoch),
    MechanicalFix("data.leakage",
        "refit the standardisation on the training split only; drop validation samples that are "
        "in the training set",
        data.refit_on_train),
    MechanicalFix("batch.too_large",
        "use mini-batches (an eighth of the data, at most 32)",
        data.smaller_batch),
    MechanicalFix("loss.diverging",
        "lower the learning rate 10x",
        dynamics.lower_lr_for_divergence),
    MechanicalFix("loss.oscillating",
        "lower the learning rate 10x",
        dynamics.lower_lr_for_oscillation),
    MechanicalFix("loss.plateau",
        "raise the learning rate 10x (lower it 10x when the updates are already too large)",
        dynamics.raise_lr_for_plateau),
    MechanicalFix("grad.exploding",
        "clip gradients to norm 1.0 every step",
        gradients.clip_gradients),
    MechanicalFix("grad.accumulating",
        "restore the standard step (zero_grad before backward)",
        gradients.restore_zero_grad),
    MechanicalFix("grad.missing",
        "unfreeze: requires_grad_(True) on every parameter",
        gradients.unfreeze),
    MechanicalFix("loss.wrong_input",
        "remove the final Softmax/LogSoftmax/Sigmoid layer (add a Sigmoid when the loss needs "
        "probabilities)",
        loss.repair_loss_input),
    MechanicalFix("loss.broadcast_shape",
        "reshape the targets to the prediction's shape",
        loss.reshape_targets),
    MechanicalFix("loss.reduction_scale",
        "average the loss over the batch instead of summing",
        loss.mean_reduction),
    MechanicalFix("loss.terms_unbalanced",
        "reweight the loss terms to a common scale at init",
        loss.reweight_terms),
    MechanicalFix("loss.initial_unexpected",
        "scale the output layer's weights down 10x and set its bias to the prior",
        loss.calm_output_layer),
    MechanicalFix("init.bad_scale",
        "re-initialise weights with He (ReLU) / Glorot (tanh, sigmoid, linear output), biases "
        "zero",
        model.fix_init_scale),
    MechanicalFix("init.symmetric",
        "re-initialise weights randomly with He (ReLU) / Glorot (tanh, sigmoid, linear output)",
        model.fix_symmetric),
    MechanicalFix("init.output_bias",
        "set the last layer's bias to the target mean / log class frequencies",
        model.fix_output_bias),
    MechanicalFix("output.wrong_activation",
        "remove the final activation (linear output)",
        model.fix_output_activation),
    MechanicalFix("model.train_mode_at_eval",
        "call model.eval() inside evaluate()",
        model.fix_eval_mode),
    MechanicalFix("update.ratio",
        "scale the learning rate by the factor the update ratio suggests (or, when a clip keeps "
        "the updates small, raise clip_grad_norm to the median gradient norm)",
        updates.scale_learning_rate),
    MechanicalFix("optim.clipping_always",
        "lower the learning rate 10x (keep the clip), or when the clip is too tight raise "
        "clip_grad_norm to the median gradient norm",
        updates.lower_lr_under_clipping),
    MechanicalFix("reg.too_strong",
        "drop weight decay (weight_decay=0) and dropout",
        updates.drop_regularisation),
)}

# an unknown phase or code fails at import, not in a user's diagnosis
for _entry in CHECKS:
    if _entry.phase not in PHASES:
        raise ValueError(f"check {_entry.name}: phase must be one of {PHASES}")
    for _code in _entry.codes:
        catalogue_entry(_code)
for _code in FIXES:
    catalogue_entry(_code)


def load_all() -> list:
    """Every check, in order (kept for callers of the former registry)."""
    return list(CHECKS)


def run_checks(ctx, phase: str = "run", only=None, quiet: bool = False) -> list:
    """Run the checks of ``phase`` on the DiagnosisContext ``ctx``; returns their findings.

    A check that crashes does not end the diagnosis: its error is kept in
    ``ctx.cache["check_failures"]`` and, unless ``quiet``, warned about naming the
    check (``diagnose`` passes ``quiet=True`` once the data are known to be broken, when
    later checks are expected to trip over them). ``only``: restrict to checks emitting
    these codes.
    """
    if phase not in PHASES:
        raise ValueError(f"run_checks(): phase must be one of {PHASES}, got {phase!r}")
    findings = []
    failures = ctx.cache.setdefault("check_failures", [])
    fails = {"forward": ctx.cache.get("forward_fails"), "loss": ctx.cache.get("loss_fails")}
    for entry in CHECKS:
        if entry.phase != phase or (only is not None and not set(entry.codes) & set(only)):
            continue
        if any(fails.get(need) for need in entry.needs):
            # the model (a shape mismatch) or the loss (labels it refuses) raises on the
            # training samples: this experiment cannot run, it would only fail the same way
            ctx.cache.setdefault("checks_skipped", []).append(entry.name)
            continue
        try:
            findings.extend(entry.function(ctx) or [])
        except Exception as error:  # noqa: BLE001
            failures.append(f"{entry.name}: {type(error).__name__}: {error}")
            if not quiet:
                warnings.warn(f"minnet.debug: check {entry.name} failed with "
                              f"{type(error).__name__}: {error}\n"
                              f"{traceback.format_exc(limit=3)}", RuntimeWarning, stacklevel=2)
    return findings


def monitor_findings(monitor, thresholds=None) -> list:
    """The run checks that need only a Monitor, on ``monitor`` (``Monitor.findings()``)."""
    from ..context import DiagnosisContext
    from ..thresholds import Thresholds
    if not isinstance(thresholds, Thresholds):
        thresholds = Thresholds(thresholds)
    ctx = DiagnosisContext(model=getattr(monitor, "model", None), loss_fn=None, optimizer=None,
                           make_optimizer=None, X_train=None, y_train=None, X_val=None,
                           y_val=None, task=None, n_classes=None, batch_size=0, shuffle=True,
                           steps=getattr(monitor, "n_steps", 0), seed=0, thresholds=thresholds,
                           monitor=monitor)
    findings = []
    for entry in CHECKS:
        if entry.phase == "run" and set(entry.needs) <= {"monitor"}:
            try:
                findings.extend(entry.function(ctx) or [])
            except Exception as error:  # noqa: BLE001
                warnings.warn(f"minnet.debug: check {entry.name} failed: {error}", RuntimeWarning)
    return findings
