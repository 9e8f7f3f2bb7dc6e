"""Findings and the report that orders, links and prints them.

A ``Finding`` is one diagnosed problem: its stable code (codes.py), severity, layer,
evidence against a threshold, source and fix. A ``Report`` holds one diagnosis's findings,
linked along known cause -> effect edges (``CAUSES``: unnormalised inputs -> saturated tanh
-> vanishing gradients -> plateau), and leads with the earliest cause present, not the
loudest symptom.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np

from . import codes as _codes

_SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}


@dataclass
class Finding:
    code: str                        # e.g. "activation.dead_relu"
    message: str                     # one or two sentences a student can follow
    severity: Optional[str] = None   # default: the code's severity in codes.py
    layer: Optional[str] = None      # e.g. "net.2 (ReLU)"; None for data/loss-level findings
    evidence: dict = field(default_factory=dict)    # statistic name -> number(s)
    thresholds: list = field(default_factory=list)  # Threshold.describe() records compared with
    fix: Optional[str] = None        # default: the code's usual fix
    step: Optional[int] = None       # training step where it was seen, if any
    onset: Optional[str] = None      # "init": present before any update; "training": appeared later
    source: str = ""                 # filled from codes.py: the checklist source
    caused_by: list = field(default_factory=list)   # codes of findings that explain this one
    verification: Optional[dict] = None             # filled by Report.verify_fixes()

    def __post_init__(self):
        entry = _codes.get(self.code)
        if self.severity is None:
            self.severity = entry.severity
        if self.severity not in _codes.SEVERITIES:
            raise ValueError(f"Finding({self.code}): severity must be one of "
                             f"{_codes.SEVERITIES}, got {self.severity!r}")
        if self.onset not in (None, "init", "training"):
            raise ValueError(f"Finding({self.code}): onset must be 'init', 'training' or None, "
                             f"got {self.onset!r}")
        if not self.source:
            self.source = entry.source
        if self.fix is None:
            self.fix = entry.fix
        self.evidence = {key: _plain(value) for key, value in self.evidence.items()}

    @property
    def title(self) -> str:
        return _codes.get(self.code).title

    def to_dict(self) -> dict:
        return asdict(self)

    def evidence_text(self) -> str:
        """``"dead_fraction = 0.91, step = 3"``: the evidence as a report shows it."""
        return ", ".join(f"{key} = {format_value(value)}" for key, value in self.evidence.items())

    def threshold_texts(self) -> list:
        """One line per threshold compared with: name, value in force, source and reason."""
        texts = []
        for record in self.thresholds or []:
            value, default = record.get("value"), record.get("default")
            changed = "" if value == default else f" (default {format_value(default)})"
            texts.append(f"{record.get('name')} = {format_value(value)}{changed} "
                         f"[{record.get('source', '')}: {record.get('why', '')}]")
        return texts

    def __str__(self) -> str:
        where = f" in {self.layer}" if self.layer else ""
        return f"[{self.severity}] {self.code}{where}: {self.message}"


def _plain(value):
    """Evidence as JSON-friendly Python numbers/lists (NumPy scalars and arrays converted)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# Known cause -> effect links: when both ends are found, the effect is explained by the
# cause, and the report leads with the cause. Read as "X can make Y happen".
CAUSES = [
    ("data.nonfinite", "loss.nonfinite"), ("data.nonfinite", "grad.nonfinite"),
    ("data.not_normalized", "activation.saturated"), ("data.not_normalized", "activation.dead_relu"),
    ("data.not_normalized", "activation.scale"), ("data.not_normalized", "grad.exploding"),
    ("data.not_normalized", "grad.vanishing"), ("data.not_normalized", "loss.initial_unexpected"),
    ("data.not_normalized", "loss.diverging"), ("data.not_normalized", "loss.plateau"),
    ("data.not_normalized", "update.ratio"),
    ("data.constant_feature", "data.nonfinite"), ("data.constant_feature", "loss.nonfinite"),
    ("data.target_scale", "loss.initial_unexpected"), ("data.target_scale", "grad.exploding"),
    ("data.target_scale", "loss.diverging"), ("data.target_scale", "update.ratio"),
    ("data.target_scale", "init.output_bias"),
    ("data.not_shuffled", "loss.oscillating"), ("data.not_shuffled", "loss.plateau"),
    ("data.class_imbalance", "init.output_bias"), ("data.class_imbalance", "loss.initial_unexpected"),
    ("data.labels_invalid", "loss.nonfinite"), ("data.labels_invalid", "model.cannot_overfit"),
    ("data.input_independent", "loss.plateau"),
    ("loss.wrong_input", "loss.initial_unexpected"), ("loss.wrong_input", "grad.vanishing"),
    ("loss.wrong_input", "loss.plateau"), ("loss.wrong_input", "model.cannot_overfit"),
    ("loss.broadcast_shape", "model.cannot_overfit"), ("loss.broadcast_shape", "loss.plateau"),
    ("loss.reduction_scale", "update.ratio"), ("loss.reduction_scale", "grad.exploding"),
    ("loss.reduction_scale", "loss.diverging"),
    ("loss.terms_unbalanced", "loss.plateau"),
    ("init.symmetric", "loss.plateau"), ("init.symmetric", "model.cannot_overfit"),
    ("init.symmetric", "grad.vanishing"), ("init.symmetric", "activation.dead_relu"),
    ("init.bad_scale", "activation.scale"), ("init.bad_scale", "activation.saturated"),
    ("init.bad_scale", "activation.dead_relu"), ("init.bad_scale", "grad.exploding"),
    ("init.bad_scale", "grad.vanishing"), ("init.bad_scale", "loss.initial_unexpected"),
    ("init.output_bias", "loss.initial_unexpected"),
    ("output.wrong_activation", "activation.dead_relu"), ("output.wrong_activation", "loss.plateau"),
    ("output.wrong_activation", "model.cannot_overfit"),
    ("activation.scale", "grad.vanishing"), ("activation.scale", "grad.exploding"),
    ("activation.saturated", "grad.vanishing"), ("activation.saturated", "loss.plateau"),
    ("activation.dead_relu", "grad.vanishing"), ("activation.dead_relu", "loss.plateau"),
    ("grad.incorrect", "model.cannot_overfit"), ("grad.incorrect", "loss.plateau"),
    ("grad.incorrect", "loss.diverging"),
    ("grad.missing", "loss.plateau"), ("grad.missing", "model.cannot_overfit"),
    ("grad.accumulating", "grad.exploding"), ("grad.accumulating", "update.ratio"),
    ("grad.accumulating", "loss.diverging"), ("grad.accumulating", "loss.oscillating"),
    ("grad.exploding", "grad.nonfinite"), ("grad.exploding", "loss.diverging"),
    ("grad.exploding", "loss.nonfinite"),
    ("grad.vanishing", "loss.plateau"),
    ("grad.nonfinite", "loss.nonfinite"),
    ("update.ratio", "activation.dead_relu"), ("update.ratio", "loss.diverging"),
    ("update.ratio", "loss.oscillating"), ("update.ratio", "loss.plateau"),
    ("update.ratio", "loss.nonfinite"), ("update.ratio", "grad.exploding"),
    ("loss.diverging", "loss.nonfinite"), ("loss.diverging", "activation.dead_relu"),
    ("grad.exploding", "activation.dead_relu"),
    # a model that cannot even memorise one batch is usually a symptom of one of these
    ("activation.dead_relu", "model.cannot_overfit"), ("activation.saturated", "model.cannot_overfit"),
    ("activation.scale", "model.cannot_overfit"), ("grad.vanishing", "model.cannot_overfit"),
    ("init.bad_scale", "model.cannot_overfit"), ("data.nonfinite", "model.cannot_overfit"),
    ("grad.nonfinite", "model.cannot_overfit"), ("data.target_scale", "model.cannot_overfit"),
    ("reg.too_strong", "loss.plateau"), ("reg.too_strong", "model.cannot_overfit"),
    ("batch.too_large", "loss.plateau"),
    # sorted batches pull the weights one class at a time
    ("data.not_shuffled", "loss.diverging"), ("data.not_shuffled", "update.ratio"),
    # a weight scale far off makes the first updates far off too
    ("init.bad_scale", "update.ratio"),
    # units that saturate only after the weights blew up are a symptom of the blow-up
    ("loss.reduction_scale", "activation.saturated"), ("grad.exploding", "activation.saturated"),
    ("loss.diverging", "activation.saturated"),
    # a clip far below the gradient norm keeps every update small
    ("optim.clipping_always", "update.ratio"),
    # a crash is usually one of these, caught before the run
    ("data.labels_invalid", "run.crashed"), ("loss.wrong_input", "run.crashed"),
    ("loss.broadcast_shape", "run.crashed"), ("data.nonfinite", "run.crashed"),
]
_CAUSE_SET = set(CAUSES)


# Causes that act through the updates: they cannot explain a condition that was already
# there before the first update (a finding with onset "init").
TRAINING_CAUSES = {"update.ratio", "loss.diverging", "loss.oscillating", "grad.accumulating",
                   "optim.clipping_always", "reg.too_strong", "grad.exploding", "grad.nonfinite",
                   "loss.reduction_scale"}


def can_explain(cause, effect) -> bool:
    """Whether finding ``cause`` may explain finding ``effect``: a known CAUSES edge, the
    cause not merely informational, and no training-time cause for an at-init condition."""
    if (cause.code, effect.code) not in _CAUSE_SET or cause.severity == "info":
        return False
    return not (effect.onset == "init" and cause.code in TRAINING_CAUSES)


class Report:
    """The findings of one diagnosis, root causes first.

    ``print(report)`` shows a table (root causes first, then by severity) and
    for each finding its evidence, threshold, source and fix.
    ``report.to_json()`` / ``report.save("report.json")`` for machines;
    ``report.render("report.html")`` for people (plots next to findings);
    ``report.verify_fixes()`` retrains with each mechanical fix applied.
    """

    def __init__(self, findings, predictions: Optional[dict] = None, run: Optional[dict] = None,
                 thresholds: Optional[list] = None, context=None, verifier=None):
        self.findings = _link_and_order(list(findings))
        self.predictions = predictions or {}   # predicted vs measured at initialisation
        self.run = run or {}                   # summary of the short training run
        self.thresholds = thresholds or []     # every threshold in force
        self.context = context                 # what verify_fixes() needs to rerun (not saved)
        self.monitor = getattr(context, "monitor", None)
        # verifier(report, steps=, codes=): the what-if reruns, given by diagnose (None for a
        # report loaded from JSON); the debugger's upper layers run them, not this module
        self.verifier = verifier

    # -- queries ---------------------------------------------------------------------------
    @property
    def codes(self) -> list:
        return [finding.code for finding in self.findings]

    def has(self, code: str) -> bool:
        return any(finding.code == code for finding in self.findings)

    def get(self, code: str) -> list:
        return [finding for finding in self.findings if finding.code == code]

    @property
    def errors(self) -> list:
        return [finding for finding in self.findings if finding.severity == "error"]

    @property
    def root_causes(self) -> list:
        return [finding for finding in self.findings if not finding.caused_by]

    def chains(self) -> list:
        """Cause -> effect paths among the present codes, from each root, e.g.
        ``["data.not_normalized", "activation.saturated", "grad.vanishing", "loss.plateau"]``."""
        effects = {}
        for finding in self.findings:
            for cause in finding.caused_by:
                effects.setdefault(cause, [])
                if finding.code not in effects[cause]:
                    effects[cause].append(finding.code)
        roots = [code for code in dict.fromkeys(f.code for f in self.root_causes) if code in effects]
        paths = []

        def walk(path):
            nexts = [code for code in effects.get(path[-1], []) if code not in path]
            if not nexts:
                paths.append(path)
            for code in nexts:
                walk(path + [code])

        for root in roots:
            walk([root])
        # keep only maximal paths (drop shortcuts of a longer one)
        return [p for p in paths if not any(p != q and _is_subpath(p, q) for q in paths)]

    def __len__(self):
        return len(self.findings)

    def _repr_html_(self) -> str:
        """How Jupyter shows a report: its title, the summary and the findings table (no
        plots: ``report.render("report.html")`` writes the page with them)."""
        import html
        from ..viz.report import findings_table_html, report_title, summary_line
        chains = self.chains()
        chains_html = ("<p>Cause &rarr; effect: " + "; ".join(
            " &rarr; ".join(f"<code>{html.escape(c)}</code>" for c in chain)
            for chain in chains) + "</p>") if chains else ""
        return (f"<div class='minnet-report'><h3>{html.escape(report_title(self))}</h3>"
                f"<p>{html.escape(summary_line(self))}</p>{chains_html}"
                f"{findings_table_html(self)}</div>")

    def __iter__(self):
        return iter(self.findings)

    def source_legend(self) -> list:
        """``["37R = ...", ...]``: the short source names the findings cite, explained."""
        return _codes.source_legend([f.source for f in self.findings])

    def prediction_table(self) -> tuple:
        """``(loss_line or None, header, rows)``: predicted vs measured at initialisation,
        as text cells (what ``minnet.viz.render_report`` draws)."""
        predictions = self.predictions or {}
        loss = predictions.get("loss") or {}
        loss_line = None
        if loss:
            loss_line = (f"initial loss: expected {format_value(loss.get('expected'))}, "
                         f"measured {format_value(loss.get('measured'))}"
                         + (f" ({loss['why']})" if loss.get("why") else ""))
        header = ("layer", "act std predicted", "measured", "grad rms predicted", "measured")
        rows = [(str(row.get("layer", "?")), _cell(row.get("predicted_std")),
                 _cell(row.get("measured_std")), _cell(row.get("predicted_grad_rms")),
                 _cell(row.get("measured_grad_rms")))
                for row in predictions.get("layers") or []]
        return loss_line, header, rows

    # -- output -------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"findings": [f.to_dict() for f in self.findings], "chains": self.chains(),
                "predictions": _plain_tree(self.predictions), "run": _plain_tree(self.run),
                "thresholds": self.thresholds}

    def to_json(self, indent: int = 2) -> str:
        """Strict JSON (any parser reads it): a NaN or infinite number in the evidence is
        written as null and named in a top-level "nonfinite" map, as the run log does."""
        from ..runlog import to_json as strict_json

        return strict_json(json.loads(json.dumps(self.to_dict(), default=_json_default)),
                           indent)

    def save(self, path) -> str:
        """Write the report as JSON (atomically); returns the path."""
        from ..fileio import atomic_write
        return atomic_write(path, self.to_json())

    def render(self, path=None, **options):
        """The one-page report (findings next to the plots that prove them): PNG or HTML by suffix."""
        from ..viz.report import render_report
        return render_report(self, path, **options)

    def verify_fixes(self, steps: Optional[int] = None, codes=None):
        """Rerun a short training with each mechanical fix applied next to an untouched control.

        Returns a list of verification records and stores each on its finding. The
        caller's model is never changed: fixes are applied to copies.
        """
        if self.verifier is None:
            raise ValueError("verify_fixes(): this report has no setup to rerun (it was loaded "
                             "from JSON, or built by hand). Run diagnose(...) again.")
        return self.verifier(self, steps=steps, codes=codes)

    def __str__(self) -> str:
        return format_report(self)

    def __repr__(self) -> str:
        counts = {s: sum(f.severity == s for f in self.findings) for s in _codes.SEVERITIES}
        return (f"Report({len(self.findings)} findings: {counts['error']} errors, "
                f"{counts['warning']} warnings, {counts['info']} info)")


def _is_subpath(short: list, long: list) -> bool:
    """``short``'s codes appear in ``long`` in the same order (a shortcut of a longer chain)."""
    remaining = iter(long)
    return all(code in remaining for code in short)


def _link_and_order(findings: list) -> list:
    """Fill ``caused_by`` from CAUSES and order: root causes first, then by severity, then depth."""
    # An info finding (e.g. "these columns are always 0, harmless as fed") explains nothing;
    # an update-driven cause does not explain what was there before the first update.
    causes_of = {}
    for effect in findings:
        for cause in findings:
            if cause is not effect and cause.code != effect.code and can_explain(cause, effect):
                causes_of.setdefault(effect.code, set()).add(cause.code)
    for finding in findings:
        linked = {c for c in causes_of.get(finding.code, ())
                  if any(can_explain(f, finding) for f in findings if f.code == c)}
        finding.caused_by = sorted(set(finding.caused_by) | linked)

    _escalate_sole_causes(findings)
    depth_cache = {}

    def depth(code, seen=()):
        if code not in depth_cache:
            parents = [c for c in causes_of.get(code, []) if c not in seen]
            depth_cache[code] = 1 + max((depth(c, seen + (code,)) for c in parents), default=-1)
        return depth_cache[code]

    return sorted(findings, key=lambda f: (depth(f.code), _SEVERITY_RANK[f.severity], f.code,
                                           f.layer or ""))


def link_confidence(cause, effect) -> str:
    """How sure the link cause -> effect is: "likely" or "possible".

    A condition of the initial weights or the data (``init.*``, ``data.*``, ``output.*``)
    credited with an effect that appeared only *during training* (onset "training", e.g.
    ReLUs alive at step 0 and dead after a loss spike) is only "possible": the size of the
    updates (the learning rate) explains such an effect as well, and only a rerun with each
    fix (``report.verify_fixes()``) tells them apart.
    """
    if effect.onset == "training" and cause.code.split(".")[0] in ("init", "data", "output"):
        return "possible"
    return "likely"


def _escalate_sole_causes(findings: list) -> None:
    """A warning that is the only explanation found for an error, and a likely one, is itself
    an error: the report must not call the root cause of a NaN loss 'likely harmful'. A merely
    possible explanation stays a warning and says what else could have caused the error."""
    by_code = {}
    for finding in findings:
        by_code.setdefault(finding.code, []).append(finding)
    for effect in findings:
        if effect.severity != "error" or len(effect.caused_by) != 1:
            continue
        for cause in by_code.get(effect.caused_by[0], []):
            if cause.severity != "warning":
                continue
            if link_confidence(cause, effect) == "likely":
                cause.severity = "error"
                cause.message += (f" (An error here: it is the only explanation found for "
                                  f"{effect.code}.)")
                continue
            others = [c for c, e in CAUSES if e == effect.code and c != cause.code
                      and c in TRAINING_CAUSES][:3]
            cause.evidence.setdefault("possible_cause_of", []).append(effect.code)
            cause.message += (f" (A possible cause of {effect.code}, not a sure one: it "
                              f"appeared during training, which the size of the updates "
                              f"explains as well ({', '.join(others) or 'the learning rate'}). "
                              f"report.verify_fixes() reruns with each fix to tell them apart.)")


def _plain_tree(value):
    if isinstance(value, dict):
        return {str(k): _plain_tree(v) for k, v in value.items()}
    return _plain(value)


def _json_default(value):
    if isinstance(value, (np.generic, np.ndarray)):
        return _plain(value)
    return str(value)


def _cell(value) -> str:
    """A predictions-table cell: '-' where there is no prediction (None), else the number."""
    return "-" if value is None else format_value(value)


def format_value(value) -> str:
    """A number (or list/dict of numbers) as a report shows it: 4 significant digits,
    scientific notation outside [1e-3, 1e4), lists cut after 6 items."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if value != value:
            return "nan"
        if value == 0 or 1e-3 <= abs(value) < 1e4:
            return f"{value:.4g}"
        return f"{value:.3e}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {format_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple, np.ndarray)):
        items = list(value)
        shown = ", ".join(format_value(v) for v in items[:6])
        return f"[{shown}{', ...' if len(items) > 6 else ''}]"
    return str(value)


def format_report(report: Report, width: int = 100) -> str:
    """The report as text: a table of findings (root causes first), then each finding in full."""
    findings = report.findings
    lines = []
    failures = report.run.get("check_failures") or []
    if not findings and failures:
        lines.append(f"No findings, but {len(failures)} check(s) could not run (listed at the "
                     "end): this is not a clean bill of health.")
    elif not findings:
        lines.append("No findings: nothing in the checks' reach looks wrong.")
    else:
        counts = {s: sum(f.severity == s for f in findings) for s in _codes.SEVERITIES}
        lines.append(f"{len(findings)} finding(s): {counts['error']} error, "
                     f"{counts['warning']} warning, {counts['info']} info. Root causes first.")
        lines.append("")
        header = f"{'#':>2}  {'severity':<8}  {'code':<26}  {'layer':<20}  what"
        lines.append(header)
        lines.append("-" * min(width, len(header) + 40))
        for number, finding in enumerate(findings, 1):
            layer = (finding.layer or "-")[:20]
            title = finding.title + (" (caused by " + ", ".join(finding.caused_by) + ")"
                                     if finding.caused_by else "")
            lines.append(f"{number:>2}  {finding.severity:<8}  {finding.code:<26}  {layer:<20}  "
                         f"{title}")
        chains = report.chains()
        if chains:
            lines.append("")
            lines.append("Cause -> effect chains:")
            for chain in chains:
                lines.append("  " + " -> ".join(chain))
        for number, finding in enumerate(findings, 1):
            lines.append("")
            where = f" in {finding.layer}" if finding.layer else ""
            step = f" (step {finding.step})" if finding.step is not None else ""
            lines.append(f"{number}. [{finding.severity}] {finding.code}{where}{step}")
            lines.append(f"   {finding.message}")
            if finding.evidence:
                evidence = ", ".join(f"{k} = {format_value(v)}" for k, v in finding.evidence.items())
                lines.append(f"   evidence: {evidence}")
            for threshold in finding.thresholds:
                default = ("" if threshold["value"] == threshold["default"]
                           else f", default {threshold['default']:g}")
                lines.append(f"   threshold: {threshold['name']} = {threshold['value']:g}"
                             f"{default} ({threshold['source']}: {threshold['why']})")
            lines.append(f"   source: {finding.source} ({_codes.doc_link(finding.code)})")
            lines.append(f"   fix: {finding.fix}")
            if finding.verification:
                lines.append(f"   verified: {finding.verification.get('summary', finding.verification)}")
    if findings:
        sources = [f.source for f in findings] + [t["source"] for f in findings
                                                 for t in f.thresholds]
        legend = _codes.source_legend(sources)
        if legend:
            lines.append("")
            lines.append("Sources: " + "; ".join(legend) + ".")
    if report.predictions:
        lines.append("")
        lines.extend(format_predictions(report.predictions))
    skipped = report.run.get("checks_skipped") or []
    if skipped:
        lines.append("")
        lines.append(f"{len(skipped)} preflight check(s) skipped: the model or the loss raised "
                     f"on a training batch ({str(report.run.get('checks_skipped_because'))[:120]})"
                     f"; fix that first.")
    if failures:
        lines.append("")
        lines.append(f"{len(failures)} check(s) could not run (often because of a problem "
                     "reported above):")
        shown = 5
        lines.extend(f"  {failure[:160]}" for failure in failures[:shown])
        if len(failures) > shown:
            lines.append(f"  ... and {len(failures) - shown} more (report.run['check_failures'])")
    return "\n".join(lines)


def format_predictions(predictions: dict) -> list:
    """Predicted vs measured at initialisation, as text lines.

    ``predictions`` = {"loss": {"expected": .., "measured": .., "why": ..},
                       "layers": [{"layer": .., "predicted_std": .., "measured_std": ..,
                                   "predicted_grad_rms": .., "measured_grad_rms": ..}, ...]}
    """
    lines = ["At initialisation, predicted vs measured:"]
    loss = predictions.get("loss")
    if loss:
        lines.append(f"  initial loss: expected {format_value(loss.get('expected'))}, "
                     f"measured {format_value(loss.get('measured'))}"
                     + (f"  ({loss['why']})" if loss.get("why") else ""))
    layers = predictions.get("layers") or []
    if layers:
        lines.append(f"  {'layer':<22} {'act std pred':>12} {'measured':>10} "
                     f"{'grad rms pred':>14} {'measured':>10}")
        for row in layers:
            lines.append(f"  {row.get('layer', '?')[:22]:<22} "
                         f"{_cell(row.get('predicted_std')):>12} "
                         f"{_cell(row.get('measured_std')):>10} "
                         f"{_cell(row.get('predicted_grad_rms')):>14} "
                         f"{_cell(row.get('measured_grad_rms')):>10}")
    return lines
