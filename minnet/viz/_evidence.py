"""Which plots prove which findings: the report's panels, chosen from the finding codes.

A ``Panel`` draws one picture into one Axes and lists the findings it is
evidence for. The loss curve is always shown when the run recorded losses
(it is the first thing anyone checks); layer pictures need the Monitor.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .activations import plot_activation_histograms, plot_dead_fraction
from .curves import plot_curves
from .gradients import plot_grad_norms
from .updates import plot_update_ratio


@dataclass
class Panel:
    key: str                      # stable id (HTML anchor), e.g. "loss", "histogram-1"
    title: str
    draw: Callable                # draw(ax) -> None
    findings: list = field(default_factory=list)

    @property
    def codes(self) -> list:
        return list(dict.fromkeys(finding.code for finding in self.findings))


def evidence_panels(report, max_histograms: int = 4) -> list:
    """The panels for ``report``, loss curve first, in the order the findings need them."""
    findings = list(report.findings)
    monitor = getattr(report, "monitor", None)
    panels = []
    losses = _losses(report)
    if losses is not None:
        curves = {"loss": losses}
        if monitor is not None and "val_loss" in list(getattr(monitor, "scalar_names", [])):
            curves["val_loss"] = np.asarray(monitor.scalar("val_loss"), float)
        floors = _loss_floors(findings)
        with_floor = [finding for finding, _ in floors]
        about_loss = [f for f in findings
                      if f.code.startswith("loss.") or any(f is g for g in with_floor)]

        def draw_loss(ax):
            plot_curves(curves, log=_wants_log(losses), ax=ax)
            for finding, floor in floors:   # the floor a finding says the loss stays above
                ax.axhline(floor, color="#d62728", linestyle="--", linewidth=1.2,
                           label=f"lowest reachable ({finding.code}): {floor:.3g}")
            if floors:
                ax.legend(fontsize="small", loc="upper right")
        panels.append(Panel("loss", "training loss per step", draw_loss, about_loss))
    if monitor is None or not len(getattr(monitor, "steps", [])):
        return panels

    known_layers = set(monitor.layers)

    def named_layers(chosen):
        return [f.layer for f in chosen if f.layer in known_layers]

    dead = [f for f in findings if f.code == "activation.dead_relu"]
    if dead:
        threshold = _threshold_value(dead, "dead")
        panels.append(Panel("dead", "dead-unit fraction per layer",
                            lambda ax: plot_dead_fraction(
                                monitor, layers=_dead_layers(monitor, named_layers(dead)), ax=ax,
                                threshold=threshold, highlight=named_layers(dead)), dead))
    for index, finding in enumerate(f for f in findings if _depth_profile(f)):
        profile, what = _depth_profile(finding)
        panels.append(Panel(f"depth-{index}", f"{what}, by depth (median over the run)",
                            lambda ax, profile=profile, what=what: _draw_depth_profile(
                                ax, profile, what), [finding]))
    grads = [f for f in findings if f.code.startswith("grad.")]
    if grads:
        panels.append(Panel("grad", "gradient norm per layer",
                            lambda ax: plot_grad_norms(monitor, ax=ax,
                                                       highlight=named_layers(grads)), grads))
    updates = [f for f in findings if f.code == "update.ratio"]
    if updates:
        panels.append(Panel("update", "update / parameter ratio",
                            lambda ax: plot_update_ratio(monitor, ax=ax,
                                                         highlight=named_layers(updates)),
                            updates))
    activations = [f for f in findings if f.code.startswith("activation.")]
    layers = list(dict.fromkeys(named_layers(activations)))
    if activations and not layers:  # findings about the activations in general: the first layers
        layers = list(monitor.layers)[:max_histograms]
    for index, layer in enumerate(layers[:max_histograms]):
        about = [f for f in activations if f.layer in (layer, None)]
        panels.append(Panel(f"histogram-{index}", f"activation histogram of {layer}",
                            lambda ax, layer=layer: plot_activation_histograms(
                                monitor, layers=[layer], ax=ax), about))
    return panels


def _loss_floors(findings) -> list:
    """``[(finding, floor)]``: the lowest loss each finding says the model can reach
    (evidence "loss_floor")."""
    floors = []
    for finding in findings:
        value = (finding.evidence or {}).get("loss_floor")
        if isinstance(value, (int, float)) and np.isfinite(value):
            floors.append((finding, float(value)))
    return floors


# per-layer gradient dicts in a finding's evidence, and what they measure
_PROFILES = (("output_grad_rms_per_layer", "gradient RMS at each layer's output"),
             ("grad_rms_per_weight", "gradient RMS of each weight"))


def _depth_profile(finding):
    """``({layer: value}, what)`` when the finding's evidence holds one, else None."""
    for key, what in _PROFILES:
        values = (finding.evidence or {}).get(key)
        if isinstance(values, dict) and len(values) >= 2:
            return values, what
    return None


def _draw_depth_profile(ax, profile: dict, what: str) -> None:
    """Bars from the input side (left) to the output side (right), log scale: the picture of
    a gradient that grows or shrinks as it flows back through the layers."""
    names = list(profile)
    values = np.asarray([profile[n] for n in names], dtype=np.float64)
    ax.bar(range(len(names)), np.where(values > 0, values, np.nan), color="#1f77b4")
    ax.set_yscale("log")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=45, ha="right", fontsize="x-small")
    ax.set_ylabel(what.split(" at ")[0].split(" of ")[0])
    ax.set_xlabel("layer, input side first")
    if len(values) >= 2 and values[-1] > 0 and values[0] > 0:
        ax.text(0.98, 0.92, f"first / last = {values[0] / values[-1]:.3g}x",
                transform=ax.transAxes, fontsize="small", ha="right")


def _losses(report):
    run = getattr(report, "run", None) or {}
    losses = run.get("losses")
    if losses is None:
        monitor = getattr(report, "monitor", None)
        if monitor is not None and "loss" in list(getattr(monitor, "scalar_names", [])):
            losses = monitor.scalar("loss")
    if losses is None:
        return None
    losses = np.asarray(losses, dtype=np.float64).reshape(-1)
    return losses if losses.size else None


def _wants_log(losses: np.ndarray) -> bool:
    """Log scale when the losses are positive and span more than two decades."""
    finite = losses[np.isfinite(losses)]
    return bool(finite.size and finite.min() > 0 and finite.max() / finite.min() > 100)


def _threshold_value(findings, word: str):
    for finding in findings:
        for record in finding.thresholds or []:
            if word in str(record.get("name", "")):
                return float(record["value"])
    return None


def _dead_layers(monitor, named):
    from .activations import relu_like_layers
    return list(dict.fromkeys(relu_like_layers(monitor) + list(named))) or None
