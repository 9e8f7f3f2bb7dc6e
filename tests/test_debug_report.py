"""The catalogue (codes.py) against CHECKLIST.md, and Finding/Report behaviour."""
import json
import re
from pathlib import Path

import pytest

from minnet.debug import codes
from minnet.debug.report import CAUSES, Finding, Report
from minnet.debug.thresholds import Thresholds, define

ROOT = Path(__file__).resolve().parents[1]


def checklist_rows(path: Path) -> dict:
    """code -> (source, scenarios) from the markdown tables of a CHECKLIST.md."""
    rows = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^\| `([a-z_]+\.[a-z_]+)` \| ([^|]+) \|.*\| (.+) \|$", line)
        if match:
            code, source, scenario_cell = match.groups()
            rows[code] = (source.strip(), tuple(re.findall(r"`([a-z_0-9]+)`", scenario_cell)))
    return rows


def test_every_checklist_row_is_in_the_registry_with_its_source_and_scenarios():
    rows = checklist_rows(ROOT / "docs" / "checklist_contract.md")
    assert len(rows) == 38
    assert set(rows) == set(codes.CODES) - set(codes.EXTRA_CODES)
    for code, (source, scenarios) in rows.items():
        entry = codes.CODES[code]
        assert entry.source == source, code
        assert entry.scenarios == scenarios, code
        assert entry.severity in codes.SEVERITIES
        assert entry.fix and entry.title


def test_vendored_checklist_matches_the_shared_contract_when_present():
    shared = ROOT.parent / "shared" / "CHECKLIST.md"
    vendored = ROOT / "docs" / "checklist_contract.md"
    if shared.exists():  # in a developer's checkout; CI's clean clone has only the copy
        assert shared.read_text() == vendored.read_text()
    assert checklist_rows(vendored)


def test_unknown_code_is_refused_with_the_known_ones():
    with pytest.raises(KeyError, match="known finding codes|known codes"):
        Finding("data.bogus", "x")


def test_finding_defaults_come_from_the_catalogue():
    finding = Finding("activation.dead_relu", "70% dead", layer="1 (ReLU)",
                      evidence={"dead_fraction": 0.7})
    assert finding.severity == "warning"
    assert finding.source == codes.CODES["activation.dead_relu"].source
    assert "LeakyReLU" in finding.fix
    with pytest.raises(ValueError, match="severity"):
        Finding("activation.dead_relu", "x", severity="fatal")


def test_causes_form_a_graph_without_cycles_over_known_codes():
    graph = {}
    for cause, effect in CAUSES:
        assert cause in codes.CODES and effect in codes.CODES
        graph.setdefault(cause, []).append(effect)

    def reaches(start, target, seen=()):
        return any(n == target or (n not in seen and reaches(n, target, seen + (n,)))
                   for n in graph.get(start, []))

    for code in codes.CODES:
        assert not reaches(code, code), f"cycle through {code}"


def test_report_leads_with_the_root_cause_and_links_the_chain():
    findings = [Finding("loss.plateau", "flat"),
                Finding("grad.vanishing", "first layer gets 1e-6 of the last", severity="error"),
                Finding("activation.saturated", "90% saturated", layer="1 (Tanh)"),
                Finding("data.not_normalized", "feature std 80"),
                Finding("batch.too_large", "batch is all the data")]
    report = Report(findings)
    assert report.codes[0] == "data.not_normalized"   # the root cause, though only a warning
    assert report.codes.index("activation.saturated") < report.codes.index("grad.vanishing")
    assert report.codes.index("grad.vanishing") < report.codes.index("loss.plateau")
    plateau = report.get("loss.plateau")[0]
    assert "grad.vanishing" in plateau.caused_by
    assert "batch.too_large" not in plateau.caused_by   # an info finding explains nothing
    assert ["data.not_normalized", "activation.saturated", "grad.vanishing",
            "loss.plateau"] in report.chains()
    # shortcuts of the long chain are not listed separately
    assert ["data.not_normalized", "loss.plateau"] not in report.chains()
    assert [f.code for f in report.errors] == ["grad.vanishing"]


def test_report_prints_and_serialises():
    finding = Finding("update.ratio", "updates are 3e-2 of the weights", layer="0 (Linear)",
                      evidence={"median_ratio": 0.03}, step=12,
                      thresholds=[{"name": "update_ratio_high", "value": 0.01, "default": 0.01,
                                   "source": "CS231N", "why": "updates above 1e-2 ..."}])
    report = Report([finding], predictions={"loss": {"expected": 2.3026, "measured": 9.1,
                                                     "why": "ln 10"}})
    text = str(report)
    for needle in ("update.ratio", "0 (Linear)", "median_ratio = 0.03", "update_ratio_high = 0.01",
                   "CS231N", "fix:", "expected 2.303", "measured 9.1", "step 12"):
        assert needle in text, needle
    data = json.loads(report.to_json())
    assert data["findings"][0]["code"] == "update.ratio"
    assert data["findings"][0]["evidence"] == {"median_ratio": 0.03}
    assert "No findings" in str(Report([]))


def test_report_save_is_atomic(tmp_path):
    report = Report([Finding("batch.too_large", "batch 512 of 600 samples")])
    path = report.save(tmp_path / "sub" / "report.json")
    assert json.loads(Path(path).read_text())["findings"][0]["code"] == "batch.too_large"
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["report.json"]


def test_thresholds_override_and_unknown_names():
    define("test_only_threshold", 0.5, source="tests", why="for this test")
    assert Thresholds()["test_only_threshold"] == 0.5
    assert Thresholds({"test_only_threshold": 0.8})["test_only_threshold"] == 0.8
    record = Thresholds({"test_only_threshold": 0.8}).describe("test_only_threshold")
    assert record == {"name": "test_only_threshold", "value": 0.8, "default": 0.5,
                      "source": "tests", "why": "for this test"}
    with pytest.raises(KeyError, match="unknown threshold"):
        Thresholds({"test_only_threshhold": 0.8})
    with pytest.raises(ValueError, match="defined twice"):
        define("test_only_threshold", 0.6, source="tests", why="x")


def test_overrides_and_diagnose_work_first_thing_in_a_fresh_process():
    """Thresholds are defined by the check modules: they must load before an override is checked;
    and minnet.debug.diagnose stays the function once the submodules are imported."""
    import subprocess
    import sys
    code = ("import minnet.debug.diagnosis, minnet\n"
            "from minnet.debug.thresholds import Thresholds\n"
            "assert Thresholds({'dead_relu_fraction': 0.7})['dead_relu_fraction'] == 0.7\n"
            "assert callable(minnet.debug.diagnose), minnet.debug.diagnose\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_a_training_time_cause_does_not_explain_an_init_condition():
    dead_at_init = Finding("activation.dead_relu", "dead from the start", layer="1 (ReLU)",
                           onset="init")
    report = Report([Finding("update.ratio", "lr too high"), dead_at_init])
    assert dead_at_init.caused_by == []
    dead_later = Finding("activation.dead_relu", "died during training", layer="1 (ReLU)",
                         onset="training")
    report = Report([Finding("update.ratio", "lr too high"), dead_later])
    assert dead_later.caused_by == ["update.ratio"]
    assert report.chains() == [["update.ratio", "activation.dead_relu"]]
    with pytest.raises(ValueError, match="onset"):
        Finding("activation.dead_relu", "x", onset="later")


def test_a_warning_that_alone_explains_an_error_becomes_an_error():
    cause = Finding("loss.reduction_scale", "the loss is summed")
    report = Report([cause, Finding("loss.diverging", "the loss grew 40x")])
    assert cause.severity == "error" and "only explanation" in cause.message
    # with two explanations neither is singled out
    other = Finding("loss.reduction_scale", "the loss is summed")
    Report([other, Finding("update.ratio", "too big"), Finding("loss.diverging", "up")])
    assert other.severity == "warning"


def test_a_report_with_failed_checks_is_not_called_clean():
    report = Report([], run={"check_failures": ["loss.x: ValueError: boom"]})
    assert "not a clean bill of health" in str(report)


# -- what a user sees: report titles, Jupyter display --------------------------------------------
def _scenario_report(name="double_softmax", variant="broken"):
    from minnet import scenarios
    from minnet.debug.diagnosis import diagnose_setup
    scenario = scenarios.get(name)
    return diagnose_setup(scenario.broken() if variant == "broken" else scenario.fixed())


def test_html_report_title_says_which_setup_and_whether_broken_or_fixed(tmp_path):
    broken = _scenario_report("double_softmax", "broken")
    page = broken.render(tmp_path / "broken.html")
    assert "<title>minnet diagnosis: double_softmax (broken)</title>" in page
    fixed = _scenario_report("double_softmax", "fixed")
    assert "double_softmax (fixed)</h1>" in fixed.render(tmp_path / "fixed.html")
    # the claim is drawn: the floor the loss cannot go below is on the loss plot
    assert broken.get("loss.wrong_input")[0].evidence["loss_floor"] > 1.0
    assert "Sources: 37R" in page   # the source tags are explained where they are shown


def test_report_and_monitor_display_in_jupyter():
    report = _scenario_report("double_softmax", "broken")
    shown = report._repr_html_()
    assert "double_softmax (broken)" in shown and "loss.wrong_input" in shown
    assert "<table" in shown
    monitor_html = report.monitor._repr_html_()
    assert "Monitor(" in monitor_html and "0 (Linear)" in monitor_html


@pytest.mark.slow  # starts a Jupyter kernel
def test_a_notebook_displays_a_report_and_a_monitor(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    cells = [
        "from minnet import scenarios\nfrom minnet.debug.diagnosis import diagnose_setup\n"
        "report = diagnose_setup(scenarios.get('no_zero_grad').broken(), steps=40)",
        "report",
        "report.monitor",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(notebook, timeout=240, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    shown = [output.get("data", {}).get("text/html", "") for cell in notebook.cells[1:]
             for output in cell.outputs]
    assert "grad.accumulating" in shown[0] and "no_zero_grad (broken)" in shown[0]
    assert "Monitor(" in shown[1]


def test_finding_links_match_the_generated_headings():
    from minnet.debug import codes
    text = (ROOT / "docs" / "checklist.md").read_text(encoding="utf-8")
    for code in codes.CODES:
        assert f"### `{code}`" in text and f'<a id="{code}"></a>' in text
        assert codes.doc_link(code) == f"docs/checklist.md#{code.replace('.', '')}"


def test_report_json_is_strict_with_nonfinite_evidence():
    from minnet.debug.report import Finding, Report

    finding = Finding(code="loss.nonfinite", severity="error", message="the loss became nan",
                      evidence={"loss": float("nan"), "grad_norm": float("inf")})
    text = Report(findings=[finding]).to_json()

    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    data = json.loads(text, parse_constant=refuse)
    evidence = data["findings"][0]["evidence"]
    assert evidence["loss"] is None and evidence["grad_norm"] is None
    assert sorted(data["nonfinite"].values()) == ["inf", "nan"]


def test_a_missing_prediction_shows_as_a_dash_not_none():
    from minnet.debug.report import Report
    report = Report([], predictions={"layers": [{"layer": "0 (Linear)", "predicted_std": 0.5,
                                                 "measured_std": 0.48,
                                                 "predicted_grad_rms": None,
                                                 "measured_grad_rms": 1e-3}]})
    _, _, rows = report.prediction_table()
    assert rows == [("0 (Linear)", "0.5", "0.48", "-", "0.001")]
    assert "None" not in str(report)
