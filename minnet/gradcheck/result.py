"""What a gradient check returns: per-input findings and a printable report.

``GradcheckResult`` is truthy iff every checked input passed, and its ``repr``
is the report, so tests can write ``res = gradcheck(fn, inputs); assert res, res``.
Each ``InputCheck`` keeps the full analytic and numeric arrays so that other
tools (e.g. a future "gradcheck error map" picture) can draw them.
"""
from __future__ import annotations

import html
import textwrap
from dataclasses import dataclass, field
from typing import Optional

import numpy as np


class GradcheckError(RuntimeError):
    """A gradient check that could not be run (bad setup) or failed with ``raise_exception=True``."""


class GradcheckWarning(UserWarning):
    """float32 inputs, kinks, or anything else that makes finite differences unreliable."""


@dataclass
class Diagnosis:
    """The likely bug behind a failed check: ``kind`` (stable, for code), a sentence and a hint."""

    kind: str
    message: str
    hint: str
    detail: str = ""  # optional extra lines (e.g. a neighbourhood window of values)

    def __str__(self):
        text = "\n".join(textwrap.wrap(self.message, 88, break_on_hyphens=False))
        text += "\n" + "\n".join(textwrap.wrap("hint: " + self.hint, 88, initial_indent="  ",
                                                subsequent_indent="        ",
                                                break_on_hyphens=False))
        if self.detail:
            text += "\n" + self.detail
        return text


@dataclass
class Entry:
    """One compared entry: where it is and what both methods said."""

    index: tuple
    analytic: float
    numeric: float
    rel_error: float
    kink: bool = False


@dataclass
class InputCheck:
    """The comparison for one input (or parameter).

    Arrays all have the input's shape. ``numeric`` and ``rel_error`` are NaN at
    entries that were not checked (see ``checked``, when ``n_samples`` is used);
    in fast mode ``numeric`` is None and ``directional`` holds
    ``(analytic v.grad, numeric (L(x+eps v) - L(x-eps v)) / 2eps)``.
    """

    name: str
    shape: tuple
    passed: bool
    max_rel_error: float
    analytic: np.ndarray
    numeric: Optional[np.ndarray] = None
    rel_error: Optional[np.ndarray] = None
    checked: Optional[np.ndarray] = None   # bool mask of entries compared
    mismatch: Optional[np.ndarray] = None  # bool mask of entries outside atol + rtol*|numeric|
    kink: Optional[np.ndarray] = None      # bool mask of entries sitting on a kink
    n_mismatch: int = 0
    n_checked: int = 0
    worst: list = field(default_factory=list)
    diagnosis: Optional[Diagnosis] = None
    original_dtype: Optional[np.dtype] = None
    directional: Optional[tuple] = None

    @property
    def n_kinks(self) -> int:
        return 0 if self.kink is None else int(self.kink.sum())


@dataclass
class GradcheckResult:
    """Truthy iff passed; printing it gives the report."""

    passed: bool
    inputs: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    def __bool__(self):
        return self.passed

    def __getitem__(self, name_or_index):
        """``result["x"]`` or ``result[0]``: one input's check."""
        if isinstance(name_or_index, int):
            return self.inputs[name_or_index]
        for check in self.inputs:
            if check.name == name_or_index:
                return check
        raise KeyError(f"no checked input named {name_or_index!r}; checked: "
                       f"{[c.name for c in self.inputs]}")

    @property
    def failed(self) -> list:
        return [c for c in self.inputs if not c.passed]

    def __repr__(self):
        return format_report(self)

    __str__ = __repr__

    def _repr_html_(self) -> str:
        """What Jupyter shows for a result: the report as an HTML table (no scripts, no
        pictures: it displays in any notebook viewer and in a saved .ipynb)."""
        return format_html(self)


# --------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------
def format_index(index: tuple) -> str:
    return "[" + ",".join(str(i) for i in index) + "]"  # no spaces: never split when wrapped


def _table(rows: list, indent: str = "  ") -> list:
    """Left-aligned columns, two spaces apart."""
    widths = [max(len(str(row[c])) for row in rows) for c in range(len(rows[0]))]
    return [indent + "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip()
            for row in rows]


def _summary_rows(result: GradcheckResult) -> list:
    rows = [("input", "shape", "checked", "max rel error", "mismatches", "kinks", "verdict")]
    for c in result.inputs:
        total = int(np.prod(c.shape)) if c.shape else 1
        checked = "1 direction" if c.directional is not None else f"{c.n_checked}/{total}"
        rows.append((c.name, str(c.shape), checked, f"{c.max_rel_error:.2e}", str(c.n_mismatch),
                     str(c.n_kinks), "ok" if c.passed else "FAILED"))
    return rows


def _worst_rows(check: InputCheck) -> list:
    rows = [("index", "analytic", "numeric", "rel error", "")]
    for e in check.worst:
        rows.append((format_index(e.index), f"{e.analytic: .6e}", f"{e.numeric: .6e}",
                     f"{e.rel_error:.1e}", "kink" if e.kink else ""))
    return rows


def format_report(result: GradcheckResult) -> str:
    s = result.settings
    mode = "fast mode (one random direction per input)" if s.get("fast_mode") else \
        "central differences"
    lines = [f"gradcheck: {'PASSED' if result.passed else 'FAILED'}  ({mode}, "
             f"eps={s.get('eps', 0):.0e}, atol={s.get('atol', 0):.0e}, "
             f"rtol={s.get('rtol', 0):.0e}, in float64)"]
    if result.inputs:
        lines += _table(_summary_rows(result))
    for check in result.inputs:
        if check.passed:
            continue
        lines.append("")
        if check.directional is not None:
            a, n = check.directional
            lines.append(f"  {check.name}: directional derivative v.grad: analytic {a:.6e}, "
                         f"numeric {n:.6e}")
        elif check.worst:
            lines.append(f"  {check.name}: worst entries")
            lines += _table(_worst_rows(check), indent="    ")
        if check.diagnosis is not None:
            lines.append(f"  {check.name}: likely bug:")
            lines += ["    " + line for line in str(check.diagnosis).split("\n")]
    if result.warnings:
        lines.append("")
        lines.append("  warnings:")
        for warning in result.warnings:
            lines += textwrap.wrap(warning, 96, initial_indent="    - ", subsequent_indent="      ",
                                   break_on_hyphens=False)
    return "\n".join(lines)


# --------------------------------------------------------------------------
# The report as HTML (Jupyter's _repr_html_)
# --------------------------------------------------------------------------
_PASS_COLOR, _FAIL_COLOR = "#1a7f37", "#cf222e"


def _html_table(rows: list, highlight_column: Optional[int] = None) -> str:
    head, *body = rows
    cells = "".join(f"<th style='text-align:left;padding:2px 8px'>{html.escape(str(c))}</th>"
                    for c in head)
    lines = [f"<table style='border-collapse:collapse;font-family:monospace'><thead><tr>{cells}"
             "</tr></thead><tbody>"]
    for row in body:
        tds = []
        for column, cell in enumerate(row):
            style = "padding:2px 8px"
            if column == highlight_column:
                color = _PASS_COLOR if cell == "ok" else _FAIL_COLOR
                style += f";color:{color};font-weight:bold"
            tds.append(f"<td style='{style}'>{html.escape(str(cell))}</td>")
        lines.append("<tr>" + "".join(tds) + "</tr>")
    lines.append("</tbody></table>")
    return "".join(lines)


def format_html(result: GradcheckResult) -> str:
    """The same content as `format_report`, as HTML: verdict, settings, the per-input
    table, and for each failed input its worst entries and the likely bug."""
    s = result.settings
    mode = "fast mode (one random direction per input)" if s.get("fast_mode") else \
        "central differences"
    color = _PASS_COLOR if result.passed else _FAIL_COLOR
    verdict = "PASSED" if result.passed else "FAILED"
    parts = [f"<div class='minnet-gradcheck'><p><b style='color:{color}'>gradcheck: {verdict}"
             f"</b> <span style='color:#57606a'>({html.escape(mode)}, eps={s.get('eps', 0):.0e},"
             f" atol={s.get('atol', 0):.0e}, rtol={s.get('rtol', 0):.0e}, in float64)</span>"
             "</p>"]
    if result.inputs:
        parts.append(_html_table(_summary_rows(result), highlight_column=6))
    for check in result.failed:
        parts.append(f"<p><b>{html.escape(check.name)}</b>")
        if check.directional is not None:
            a, n = check.directional
            parts.append(f": directional derivative v.grad: analytic {a:.6e}, numeric {n:.6e}")
        parts.append("</p>")
        if check.directional is None and check.worst:
            parts.append("<p style='margin:2px 0'>worst entries</p>")
            parts.append(_html_table(_worst_rows(check)))
        if check.diagnosis is not None:
            d = check.diagnosis
            parts.append(f"<p style='margin:4px 0'><b>likely bug</b> "
                         f"(<code>{html.escape(d.kind)}</code>): {html.escape(d.message)}<br>"
                         f"<i>hint:</i> {html.escape(d.hint)}</p>")
            if d.detail:
                parts.append(f"<pre>{html.escape(d.detail)}</pre>")
    if result.warnings:
        items = "".join(f"<li>{html.escape(w)}</li>" for w in result.warnings)
        parts.append(f"<p style='margin:4px 0'>warnings:</p><ul>{items}</ul>")
    parts.append("</div>")
    return "".join(parts)
