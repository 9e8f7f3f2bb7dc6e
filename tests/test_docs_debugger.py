"""docs/debugger.md's examples run, and say what the guide says they say.

The guide's ```python blocks form one session (later blocks reuse earlier
names), so they are joined into one script and run in a fresh interpreter in a
temporary folder, as a reader would run them. After the last block, the checks
below (``CLAIMS``) test what the prose claims about the results. The example
script for ``minnet doctor`` is run through ``minnet.cli.main``.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from minnet import cli
from minnet.debug.codes import CODES

REPO_ROOT = Path(__file__).resolve().parents[1]
GUIDE = REPO_ROOT / "docs" / "debugger.md"
EXAMPLE = REPO_ROOT / "docs" / "examples" / "doctor_setup.py"

# What the guide's prose says about the examples' results, checked after the last block.
CLAIMS = '''
import os as _os
import numpy as _np
from minnet.debug.thresholds import DEFINED as _DEFINED
assert report.findings[0].code == "data.not_normalized", report.codes
assert any(chain[:2] == ["data.not_normalized", "activation.saturated"]
           for chain in report.chains()), report.chains()
# the inputs are an error because their scale is past input_scale_extreme times a threshold
_inputs = report.get("data.not_normalized")[0]
assert _inputs.severity == "error", _inputs.severity
assert _inputs.evidence["scale_beyond_threshold"] >= _DEFINED["input_scale_extreme"].value
_saturated = report.get("activation.saturated")[0]
assert _saturated.severity == "error" and _saturated.onset == "init", _saturated
assert report.get("update.ratio")[0].severity == "warning"
# the override changes the verdict: warning -> info (still reported, above the band)
assert relaxed.get("update.ratio")[0].severity == "info", relaxed.get("update.ratio")
# 'The measured ratio here was 0.038: above 0.03' (and below the 0.05 of the override)
_ratio = report.get("update.ratio")[0].evidence["median_update_ratio"]
assert _DEFINED["update_ratio_high"].value < _DEFINED["update_ratio_high_warning"].value < _ratio
assert _ratio < 0.05, _ratio
# '... and raising update_ratio_high to 0.05 as well would remove the finding'
_both = minnet.debug.diagnose(model, loss_fn, (X_train, y_train), optimizer, steps=150,
                              thresholds={"update_ratio_high_warning": 0.05,
                                          "update_ratio_high": 0.05})
assert not _both.has("update.ratio"), _both.codes
assert report.get("data.not_normalized")[0].verification["finding_gone"] is True
minnet.manual_seed(0)
_fresh = nn.Sequential(nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 10))
assert _np.array_equal(_fresh[0].weight.numpy(), model[0].weight.numpy()), "model changed"
assert X_train.max() == 256
for _name in ("report.json", "report.html", "report.png", "loss.png", "dead.png",
              "update_ratio.png"):
    assert _os.path.getsize(_name) > 1000, _name
assert "data:image/png;base64" in open("report.html", encoding="utf-8").read()
_monitor_findings = {f.code: f for f in monitor.findings()}
assert {"activation.dead_relu", "loss.diverging", "update.ratio"} <= set(_monitor_findings), \
    _monitor_findings
# recovered by the end: a warning by the severity policy, not an error
assert _monitor_findings["loss.diverging"].severity == "warning"
# 'the loss settles afterwards': the spike is early, the end is below the start
_losses = monitor.scalar("loss")
assert _losses.argmax() < 10 and _losses[-1] < _losses[0], _losses
assert monitor.activation("1 (ReLU)", "dead_fraction")[-1] > 0.5
assert "activation.dead_relu" in dying.diagnose("broken").codes
assert not baseline.diagnose(steps=100).errors
assert [r["status"] for r in list_runs("runs")] == ["completed", "completed"]
print("DOC-CLAIMS-OK")
'''


def python_blocks(markdown: str) -> list:
    """``(line_number, code)`` of every ```python block, in order."""
    blocks = []
    for match in re.finditer(r"^```python\n(.*?)^```", markdown, flags=re.S | re.M):
        line = markdown.count("\n", 0, match.start()) + 2
        blocks.append((line, match.group(1)))
    return blocks


def guide_script() -> str:
    parts = [f"# --- docs/debugger.md line {line} ---\n{code}"
             for line, code in python_blocks(GUIDE.read_text(encoding="utf-8"))]
    return "\n".join(parts) + "\n# --- claims ---\n" + CLAIMS


def output_blocks(markdown: str) -> list:
    """The text of every plain ``` block (outputs and commands, not ```python)."""
    blocks, fence, lines = [], None, []
    for line in markdown.splitlines():
        if fence is None and line.startswith("```"):
            fence, lines = line[3:].strip(), []     # an opening fence and its language
        elif fence is not None and line == "```":
            if fence == "":
                blocks.append("\n".join(lines) + "\n")
            fence = None
        elif fence is not None:
            lines.append(line)
    return blocks


# lines of a printed report that carry no measured numbers: the headline, the table's
# rows, the chains and each finding's first line, e.g. "1. [error] data.not_normalized"
STABLE_LINE = re.compile(r"^(\d+ finding\(s\): .*|\s*\d+\s+(error|warning|info)\s+\S.*"
                         r"|  \S+ -> \S+.*|\d+\. \[(error|warning|info)\] .*)$")
# a Finding printed on one line: "[warning] update.ratio in 0 (Linear): ..." -> its prefix
FINDING_PREFIX = re.compile(r"^(\[(error|warning|info)\] [^:]+):")


def shown_stable_lines(block: str) -> list:
    """What a shown output block states that a rerun must print verbatim."""
    lines = [line.rstrip() for line in block.splitlines() if STABLE_LINE.match(line)]
    lines += [m.group(1) for m in map(FINDING_PREFIX.match, block.splitlines()) if m]
    return lines


def test_shown_output_lines_are_found_by_the_patterns():
    blocks = output_blocks(GUIDE.read_text(encoding="utf-8"))
    first_report = next(b for b in blocks if "Root causes first." in b)
    lines = shown_stable_lines(first_report)
    assert lines[0].endswith("Root causes first.") and len(lines) >= 7, lines
    monitor_block = next(b for b in blocks if b.startswith("Monitor("))
    assert any(line.startswith("[warning] loss.diverging") for line in
               shown_stable_lines(monitor_block)), monitor_block


# "threshold: input_std_max = 10 (" as a report prints a threshold at its default value
SHOWN_THRESHOLD = re.compile(r"^\s*threshold: (\w+) = ([^,(]+) \(")
# "above the band [0.0001, 0.01]" as update.ratio prints the band it compared with
SHOWN_BAND = re.compile(r"the band \[([0-9.e+-]+), ([0-9.e+-]+)\]")


def all_thresholds() -> dict:
    """Every declared threshold: the table fills as the check modules are imported."""
    from minnet._submodules import import_all
    from minnet.debug import checks
    from minnet.debug.thresholds import DEFINED
    import_all(checks.__name__, checks.__path__)
    return DEFINED


def test_shown_thresholds_and_bands_are_the_current_defaults():
    """A shown report line "threshold: NAME = VALUE (" or "the band [LOW, HIGH]" states a
    default; when a default changes, the guide's copies of it must change with it."""
    defined = all_thresholds()

    def same(shown: str, value: float) -> bool:     # printed with 4 significant digits
        return abs(float(shown) - value) <= 1e-3 * abs(value)

    text = GUIDE.read_text(encoding="utf-8")
    shown_thresholds = shown_bands = 0
    for block in output_blocks(text):
        for line in block.splitlines():
            match = SHOWN_THRESHOLD.match(line)
            if match:
                name, value = match.group(1), match.group(2).strip()
                assert name in defined, f"docs/debugger.md shows unknown threshold {name!r}"
                assert same(value, defined[name].value), (
                    f"docs/debugger.md shows {name} = {value}; the default is "
                    f"{defined[name].value}")
                shown_thresholds += 1
            for low, high in SHOWN_BAND.findall(line):
                assert (same(low, defined["update_ratio_low"].value)
                        and same(high, defined["update_ratio_high"].value)), line
                shown_bands += 1
    assert shown_thresholds >= 5 and shown_bands >= 3, (shown_thresholds, shown_bands)


def subprocess_env() -> dict:
    import minnet
    env = dict(os.environ)
    package_parent = str(Path(minnet.__file__).resolve().parents[1])
    env["PYTHONPATH"] = package_parent + os.pathsep + env.get("PYTHONPATH", "")
    env["MPLBACKEND"] = "Agg"
    return env


def test_guide_has_examples_for_every_part():
    text = GUIDE.read_text(encoding="utf-8")
    blocks = python_blocks(text)
    assert len(blocks) >= 8
    code = "\n".join(block for _, block in blocks)
    for needed in ("minnet.debug.diagnose(", "report.verify_fixes(", "report.to_json()",
                   "report.save(", "report.render(", "thresholds={", "Monitor(",
                   "monitor.log(", "monitor.findings()", "scenarios.get(", ".broken()",
                   ".fixed()", ".describe()", "RunLog.start(", "detect_anomaly()"):
        assert needed in code, f"no example uses {needed}"
    for link in ("checklist.md", "checklist_contract.md", "anomaly.md", "viz.md",
                 "examples/doctor_setup.py"):
        assert f"]({link}" in text, f"no link to {link}"


@pytest.mark.slow  # the whole guide, run in a fresh interpreter
def test_guide_examples_run_and_their_claims_hold(tmp_path):
    script = tmp_path / "guide.py"
    script.write_text(guide_script(), encoding="utf-8")
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                            text=True, env=subprocess_env(), timeout=300)
    assert result.returncode == 0, (
        f"docs/debugger.md examples failed (see the '# --- docs/debugger.md line N' markers "
        f"in the traceback):\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    assert "DOC-CLAIMS-OK" in result.stdout
    # the outputs the guide prints next to the first example
    assert "Root causes first." in result.stdout
    assert "data.not_normalized -> activation.saturated" in result.stdout
    assert "loss.nonfinite log model.2 (LogProbs) forward" in result.stdout  # anomaly example
    # every headline, table row, chain and finding header the guide shows for the session's
    # examples is printed by the rerun (the doctor's output is checked in its own test)
    for block in output_blocks(GUIDE.read_text(encoding="utf-8")):
        if block.startswith("$ "):
            continue
        for line in shown_stable_lines(block):
            assert line in result.stdout, f"docs/debugger.md shows {line!r}; the rerun did not print it"


def _doctor(capsys, path, *options):
    code = cli.main(["doctor", str(path), "--no-save", *options])
    return code, capsys.readouterr().out


def test_doctor_on_the_example_script_names_its_finding(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # --no-save: nothing may be written, not even here
    code, out = _doctor(capsys, EXAMPLE)
    named = [c for c in CODES if c in out]
    assert named or "No findings" in out, out
    assert "grad.accumulating" in out  # the mistake the example makes on purpose
    assert code == 1                   # the report has an error: exit status 1
    shown = next(b for b in output_blocks(GUIDE.read_text(encoding="utf-8"))
                 if b.startswith(f"$ minnet doctor {EXAMPLE.relative_to(REPO_ROOT).as_posix()}"))
    for line in shown_stable_lines(shown):
        assert line in out, f"docs/debugger.md shows {line!r}; minnet doctor did not print it"
    assert os.listdir(tmp_path) == []


def test_doctor_on_the_repaired_example_finds_nothing_worse_than_info(capsys, tmp_path):
    """The guide says: add optimizer.zero_grad() and the errors and warnings go (one info
    on the update ratio stays), exit status 0."""
    source = EXAMPLE.read_text(encoding="utf-8")
    broken_step = "    loss = loss_fn(model(X), y)\n    loss.backward()\n"
    assert source.count(broken_step) == 1
    repaired = tmp_path / "repaired_setup.py"
    repaired.write_text(source.replace(broken_step, "    optimizer.zero_grad()\n" + broken_step),
                        encoding="utf-8")
    code, out = _doctor(capsys, repaired)
    assert "0 error, 0 warning" in out and "update.ratio" in out, out
    assert code == 0


def test_doctor_accepts_a_tuple_from_setup(capsys, tmp_path):
    """The documented short form: setup() returns (model, loss_fn, optimizer, train_data)."""
    script = tmp_path / "tuple_setup.py"
    script.write_text(
        "import minnet\n"
        "from minnet import nn, optim\n"
        "from minnet.data import make_moons, Standardizer\n"
        "def setup():\n"
        "    X, y = make_moons(n_samples=200, noise=0.1, seed=1)\n"
        "    X = Standardizer().fit_transform(X)\n"
        "    minnet.manual_seed(1)\n"
        "    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))\n"
        "    return model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-2), (X, y)\n",
        encoding="utf-8")
    code, out = _doctor(capsys, script, "--steps", "60")
    assert [c for c in CODES if c in out] or "No findings" in out, out
    assert code in (0, 1)


@pytest.mark.slow  # the example script, run in a fresh interpreter
def test_example_script_trains_when_run_directly(tmp_path):
    result = subprocess.run([sys.executable, str(EXAMPLE)], cwd=tmp_path, capture_output=True,
                            text=True, env=subprocess_env(), timeout=120)
    assert result.returncode == 0, result.stderr
    assert re.search(r"loss: first [0-9.]+, last [0-9.]+", result.stdout)


@pytest.mark.parametrize("link", ["checklist.md", "anomaly.md", "viz.md", "debugger.md"])
def test_index_links_the_debugger_docs(link):
    index = (REPO_ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    assert f"]({link}" in index


def test_the_examples_own_fix_improves_its_short_run():
    """A user following docs/examples/doctor_setup.py must see its fix help, not hurt."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("doctor_setup_example", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    report = example.setup().diagnose()
    results = {r["code"]: r for r in report.verify_fixes(codes=["grad.accumulating"])}
    result = results["grad.accumulating"]
    assert result["finding_gone"] and result["loss_improved"], result["summary"]
    assert result["fixed_loss"] < 0.5 * result["control_loss"], result["summary"]
