"""The one-page report of a diagnosis: the findings next to the plots that prove them.

``render_report(report, "report.png")`` draws one tall PNG: a header with the
cause -> effect chains, the findings table (severity colours, code, layer,
evidence, fix), the evidence plots (each titled with the codes it proves) and
the predicted-vs-measured table. ``render_report(report, "report.html")``
writes ONE self-contained HTML file: the same content as HTML text (escaped),
with every plot embedded as a base64 PNG, so it can be mailed or attached.
"""
from __future__ import annotations

import base64
import html
import io
import os
import textwrap
from typing import Optional

from ..fileio import atomic_write
from ._common import SEVERITY_COLORS, new_figure, save_figure
from ._evidence import evidence_panels

_FIGURE_FORMATS = ("png", "pdf", "svg")
_HTML_FORMATS = ("html", "htm")
WIDTH = 11.0          # inches, the PNG page
LINE = 0.15           # inches per text line (8 pt monospace, spacing 1.25)
WRAP = 115            # characters per line of the findings' text column


def render_report(report, path=None, format: Optional[str] = None, dpi: int = 100,
                  max_histograms: int = 4):
    """Render ``report`` (a minnet.debug Report) as one PNG page or one HTML file.

    The format is ``format`` or else ``path``'s suffix: ``.png`` (also ``.pdf``,
    ``.svg``) gives a Figure, saved if ``path`` is given, and returns it;
    ``.html`` returns the HTML text (and writes it if ``path`` is given).
    Files are written atomically. Plots come from ``report.monitor`` (the
    short run's Monitor; may be None: then only the loss curve from
    ``report.run["losses"]`` is drawn).
    """
    where = "render_report()"
    if not hasattr(report, "findings"):
        raise TypeError(f"{where}: expected a minnet.debug Report, got {type(report).__name__}")
    chosen = _choose_format(path, format, where)
    panels = evidence_panels(report, max_histograms=max_histograms)
    if chosen in _HTML_FORMATS:
        page = report_html(report, panels, dpi=dpi)
        if path is not None:
            atomic_write(path, page)
        return page
    figure = report_figure(report, panels)
    save_figure(figure, path, where, format=chosen, dpi=dpi)
    return figure


def _choose_format(path, format, where) -> str:
    if format is None and path is not None:
        format = os.path.splitext(os.fspath(path))[1].lstrip(".")
    format = (format or "png").lower()
    if format not in _FIGURE_FORMATS + _HTML_FORMATS:
        raise ValueError(f"{where}: unknown report format {format!r}; use .png or .html (also "
                         f"{', '.join(_FIGURE_FORMATS[1:])}). Hint: report.render('report.html').")
    return format


# -- text shared by both renderings ---------------------------------------------------------------
# The report hands over its text: ``finding.evidence_text()``, ``finding.threshold_texts()``,
# ``report.prediction_table()``, ``report.source_legend()`` (this drawing layer knows no
# debugger module; it reads the records it is given).
def summary_line(report) -> str:
    findings = list(report.findings)
    if not findings:
        return "No findings: nothing in the checks' reach looks wrong."
    counts = {s: sum(f.severity == s for f in findings) for s in SEVERITY_COLORS}
    return (f"{len(findings)} finding(s): {counts['error']} error, {counts['warning']} warning, "
            f"{counts['info']} info. Root causes first.")


def _chains(report) -> list:
    chains = getattr(report, "chains", None)
    return chains() if callable(chains) else []


# -- PNG: one tall figure -------------------------------------------------------------------------
def _finding_lines(number: int, finding) -> list:
    """The text column of one table row, wrapped."""
    where = f" in {finding.layer}" if finding.layer else ""
    step = f" (step {finding.step})" if finding.step is not None else ""
    caused = f" (caused by {', '.join(finding.caused_by)})" if finding.caused_by else ""
    paragraphs = [f"{number}. {finding.code}{where}{step}{caused}", finding.message]
    if finding.evidence:
        paragraphs.append("evidence: " + finding.evidence_text())
    paragraphs += ["threshold: " + text for text in finding.threshold_texts()]
    paragraphs.append("fix: " + str(finding.fix))
    verification = getattr(finding, "verification", None)
    if verification:
        paragraphs.append("verified: " + str(verification.get("summary", verification)))
    lines = []
    for paragraph in paragraphs:
        lines += textwrap.wrap(paragraph, WRAP, break_on_hyphens=False) or [""]
    return lines


def report_figure(report, panels: list):
    """The whole report as one tall Figure (laid out in inches, top to bottom)."""
    chains = _chains(report)
    rows = [_finding_lines(i, f) for i, f in enumerate(report.findings, 1)]
    loss_line, header, prediction_table = report.prediction_table()
    has_predictions = bool(loss_line or prediction_table)
    panel_rows = -(-len(panels) // 2)

    heights = {"header": 0.95 + LINE * (len(chains) + bool(chains)),
               "table": 0.35 + sum(LINE * len(lines) + 0.12 for lines in rows),
               "panels": 3.6 * panel_rows + (0.35 if panels else 0),
               "predictions": (0.45 + LINE * (len(prediction_table) + 1 + bool(loss_line)))
               if has_predictions else 0}
    total = sum(heights.values()) + 0.3
    figure = new_figure(WIDTH, total)
    figure.set_layout_engine("none")  # placed by hand, in inches from the top

    def text(x_in, y_in, content, **style):
        figure.text(x_in / WIDTH, 1 - y_in / total, content, va="top", parse_math=False,
                    **style)

    y = 0.25
    text(0.3, y, report_title(report), fontsize=16, weight="bold")
    text(0.3, y + 0.32, summary_line(report), fontsize=10)
    y += 0.7
    if chains:
        text(0.3, y, "cause -> effect chains:", fontsize=9, weight="bold")
        for chain in chains:
            y += LINE
            text(0.5, y, " -> ".join(chain), fontsize=9, family="monospace")
        y += LINE
    y = heights["header"] + 0.25
    text(0.3, y, "Findings (root causes first)", fontsize=12, weight="bold")
    y += 0.3
    for finding, lines in zip(report.findings, rows):
        color = SEVERITY_COLORS.get(finding.severity, "0.5")
        text(0.3, y, f" {finding.severity.upper():^7} ", fontsize=8, family="monospace",
             color="white", weight="bold",
             bbox=dict(facecolor=color, edgecolor="none", boxstyle="square,pad=0.25"))
        text(1.25, y, "\n".join(lines), fontsize=8, family="monospace", linespacing=1.25)
        y += LINE * len(lines) + 0.12

    y = heights["header"] + heights["table"] + 0.25
    if panels:
        text(0.3, y, "Evidence: the plots behind the findings", fontsize=12, weight="bold")
        y += 0.35
    for index, panel in enumerate(panels):
        row, column = divmod(index, 2)
        left_in, top_in = 0.75 + column * WIDTH / 2, y + row * 3.6 + 0.45
        # 2.6 in to the right of each plot: room for a legend placed outside it
        axis = figure.add_axes([left_in / WIDTH, 1 - (top_in + 2.6) / total,
                                (WIDTH / 2 - 2.6) / WIDTH, 2.6 / total])
        _draw_panel(panel, axis)
    y += 3.6 * panel_rows
    if has_predictions:
        text(0.3, y, "At initialisation: predicted vs measured", fontsize=12, weight="bold")
        y += 0.35
        lines = [loss_line] if loss_line else []
        if prediction_table:
            widths = [max(len(r[c]) for r in [header] + prediction_table) + 2
                      for c in range(len(header))]
            lines += ["".join(cell.ljust(w) for cell, w in zip(r, widths))
                      for r in [header] + prediction_table]
        text(0.5, y, "\n".join(lines), fontsize=8.5, family="monospace", linespacing=1.25)
    return figure


def _draw_panel(panel, axis) -> None:
    """Draw one panel; a panel that fails says why instead of sinking the whole report."""
    try:
        panel.draw(axis)
    except Exception as error:  # noqa: BLE001  (a report must still come out)
        axis.clear()
        axis.set_axis_off()
        axis.text(0.5, 0.5, f"could not draw {panel.title}:\n{type(error).__name__}: {error}",
                  ha="center", va="center", wrap=True, fontsize=8, transform=axis.transAxes,
                  parse_math=False)
    proves = f"\nevidence for: {', '.join(panel.codes)}" if panel.codes else ""
    axis.set_title(panel.title + proves, fontsize=9)


# -- HTML: one self-contained file ----------------------------------------------------------------
_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { margin-bottom: 0.2em; }
.page { display: grid; grid-template-columns: minmax(0, 1.5fr) minmax(0, 1fr); gap: 1.5em; }
table { border-collapse: collapse; width: 100%; font-size: 0.9em; table-layout: fixed; }
th, td { border: 1px solid #ccc; padding: 0.35em 0.5em; text-align: left; vertical-align: top;
         overflow-wrap: anywhere; }
table.findings th:nth-child(1) { width: 2em; } table.findings th:nth-child(2) { width: 5.5em; }
table.findings th:nth-child(4) { width: 7em; }
th { background: #f2f2f2; }
td.severity { color: white; font-weight: bold; text-transform: uppercase; }
.small { font-size: 0.85em; color: #555; }
code { font-size: 0.95em; }
figure { margin: 0 0 1.2em 0; }
figure img { max-width: 100%; border: 1px solid #ddd; }
@media (max-width: 1500px) { .page { grid-template-columns: 1fr; } }
"""


def _png_base64(panel, dpi: int) -> str:
    figure = new_figure(6.0, 3.6)
    _draw_panel(panel, figure.add_subplot())
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def report_title(report) -> str:
    """What this report is about: the setup's name (a scenario's says broken or fixed)."""
    name = (report.run or {}).get("setup") or ""
    return f"minnet diagnosis: {name}" if name else "minnet diagnosis report"


def findings_table_html(report, plot_of=None) -> str:
    """The findings as an HTML table (severity, code and message, layer, evidence and
    thresholds, fix and source); ``plot_of`` maps id(finding) -> the key of its plot."""
    e = html.escape
    plot_of = plot_of or {}
    rows = []
    for number, finding in enumerate(report.findings, 1):
        color = SEVERITY_COLORS.get(finding.severity, "#777")
        caused = (f"<div class='small'>caused by {e(', '.join(finding.caused_by))}</div>"
                  if finding.caused_by else "")
        thresholds = "".join(f"<div class='small'>threshold: {e(t)}</div>"
                             for t in finding.threshold_texts())
        link = (f" <a href='#plot-{plot_of[id(finding)]}'>plot</a>"
                if id(finding) in plot_of else "")
        verification = getattr(finding, "verification", None)
        verified = (f"<div class='small'>verified: "
                    f"{e(str(verification.get('summary', verification)))}</div>"
                    if verification else "")
        step = f"<div class='small'>step {finding.step}</div>" if finding.step is not None else ""
        rows.append(
            f"<tr><td>{number}</td><td class='severity' style='background:{color};color:white;"
            f"font-weight:bold'>{e(finding.severity)}</td><td><code>{e(finding.code)}</code>{link}"
            f"<div>{e(finding.message)}</div>{caused}{step}</td>"
            f"<td>{e(finding.layer or '-')}</td>"
            f"<td>{e(finding.evidence_text())}{thresholds}</td>"
            f"<td>{e(str(finding.fix))}{verified}"
            f"<div class='small'>source: {e(finding.source)}</div></td></tr>")
    if not rows:
        return f"<p>{e(summary_line(report))}</p>"
    legend = report.source_legend()
    legend_html = (f"<p class='small'>Sources: {e('; '.join(legend))}.</p>" if legend else "")
    return ("<table class='findings'><tr><th>#</th><th>severity</th><th>code and message</th>"
            "<th>layer</th><th>evidence and threshold</th><th>fix</th></tr>"
            + "".join(rows) + "</table>" + legend_html)


def report_html(report, panels: list, dpi: int = 100) -> str:
    """The report as one HTML document; every plot inline as ``data:image/png;base64``."""
    e = html.escape
    plot_of = {}
    for panel in panels:
        for finding in panel.findings:
            plot_of.setdefault(id(finding), panel.key)
    findings_html = findings_table_html(report, plot_of)
    chains = _chains(report)
    chains_html = ("<h2>Cause &rarr; effect chains</h2><ul>" + "".join(
        "<li>" + " &rarr; ".join(f"<code>{e(code)}</code>" for code in chain) + "</li>"
        for chain in chains) + "</ul>") if chains else ""
    figures = "".join(
        f"<figure id='plot-{e(panel.key)}'><img alt='{e(panel.title)}' "
        f"src='data:image/png;base64,{_png_base64(panel, dpi)}'>"
        f"<figcaption>{e(panel.title)}"
        + (f" &mdash; evidence for {e(', '.join(panel.codes))}" if panel.codes else "")
        + "</figcaption></figure>" for panel in panels)
    if not panels:
        figures = "<p class='small'>No training run was recorded, so there is nothing to plot.</p>"
    title = e(report_title(report))
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{title}</title>"
            f"<style>{_CSS}</style></head><body>"
            f"<h1>{title}</h1><p>{e(summary_line(report))}</p>{chains_html}"
            f"<div class='page'><div><h2>Findings (root causes first)</h2>{findings_html}"
            f"{_predictions_html(report)}</div>"
            f"<div><h2>Evidence</h2>{figures}</div></div></body></html>\n")


def _predictions_html(report) -> str:
    e = html.escape
    loss_line, header, rows = report.prediction_table()
    if not (loss_line or rows):
        return ""
    parts = ["<h2>At initialisation: predicted vs measured</h2>"]
    if loss_line:
        parts.append(f"<p>{e(loss_line)}</p>")
    if rows:
        parts.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>"
                     + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>"
                               for row in rows) + "</table>")
    return "".join(parts)
