"""The run log: runs recorded atomically, listed, shown and compared (also via the CLI)."""
import json
import os

import numpy as np
import pytest

from minnet.cli import main
from minnet.debug.report import Finding, Report
from minnet.runlog import RunLog, compare_runs, list_runs, load_run


def record(root, name, lr, losses, findings=()):
    with RunLog.start(name, config={"lr": lr, "hidden": 16}, seed=3, root=str(root)) as run:
        for step, loss in enumerate(losses):
            run.log_step(step, loss=loss, lr=np.float32(lr))
        run.add_findings(Report(list(findings)))
        run.finish(summary={"last_loss": losses[-1]})
    return run


def test_a_run_is_recorded_with_config_seed_versions_metrics_and_findings(tmp_path):
    run = record(tmp_path, "digits mlp", 0.1, [2.3, 1.0, 0.5],
                 [Finding("update.ratio", "too big", layer="0 (Linear)")])
    assert sorted(os.listdir(run.directory)) == ["metrics.json", "run.json"]  # no temp files left
    loaded = load_run(run.id, str(tmp_path))
    assert loaded["status"] == "completed" and loaded["seed"] == 3
    assert loaded["config"] == {"lr": 0.1, "hidden": 16}
    assert loaded["versions"]["numpy"] == np.__version__
    assert loaded["metrics"]["loss"] == {"steps": [0, 1, 2], "values": [2.3, 1.0, 0.5]}
    assert loaded["findings"][0]["code"] == "update.ratio"
    assert run.id.endswith("digits-mlp")   # a safe folder name


def test_a_crash_is_recorded_as_failed_and_a_started_run_is_listed(tmp_path):
    with pytest.raises(ZeroDivisionError):
        with RunLog.start("crash", root=str(tmp_path)) as run:
            run.log_step(0, loss=1.0)
            1 / 0
    assert load_run(run.id, str(tmp_path))["status"] == "failed"
    assert "ZeroDivisionError" in load_run(run.id, str(tmp_path))["error"]
    started = RunLog.start("still running", root=str(tmp_path))
    assert [r["status"] for r in list_runs(str(tmp_path))].count("running") == 1
    assert started.id != run.id


def test_two_runs_in_the_same_second_get_different_ids(tmp_path):
    ids = {RunLog.start("same", root=str(tmp_path)).id for _ in range(3)}
    assert len(ids) == 3


def test_compare_shows_what_differs(tmp_path):
    a = record(tmp_path, "a", 0.1, [2.0, 1.0])
    b = record(tmp_path, "b", 1.0, [2.0, 5.0], [Finding("loss.diverging", "up")])
    comparison = compare_runs([a.id, b.id], str(tmp_path))
    assert comparison["config_differs"] == {"lr": [0.1, 1.0]}
    assert comparison["config_same"] == {"hidden": 16}
    assert comparison["last_metrics"]["loss"] == [1.0, 5.0]
    assert comparison["findings"] == [[], ["loss.diverging"]]


def test_unknown_run_lists_the_known_ones(tmp_path):
    a = record(tmp_path, "known", 0.1, [1.0])
    with pytest.raises(KeyError, match="known"):
        load_run("nothing-like-it", str(tmp_path))
    assert load_run("known", str(tmp_path))["id"] == a.id   # a unique part of an id works


def test_cli_runs_list_show_compare(tmp_path, capsys):
    a = record(tmp_path, "a", 0.1, [2.0, 1.0])
    b = record(tmp_path, "b", 1.0, [2.0, 5.0])
    assert main(["runs", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert a.id in out and b.id in out
    assert main(["runs", "show", a.id, "--root", str(tmp_path)]) == 0
    assert "loss: 2 steps, first 2, last 1" in capsys.readouterr().out
    assert main(["runs", "compare", a.id, b.id, "--root", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["config_differs"] == {"lr": [0.1, 1.0]}
    assert main(["runs", "show", "zzz", "--root", str(tmp_path)]) == 2
    assert "no run" in capsys.readouterr().err


def test_training_and_diagnosis_runs_can_be_recorded(tmp_path, capsys):
    root = str(tmp_path / "runs")
    assert main(["train", "--epochs", "2", "--hidden", "32", "--record", root]) == 0
    assert "recorded as run" in capsys.readouterr().out
    (run,) = list_runs(root)
    loaded = load_run(run["id"], root)
    assert loaded["status"] == "completed" and loaded["config"]["hidden"] == 32
    assert len(loaded["metrics"]["loss"]["values"]) == loaded["metrics"]["epoch"]["steps"][-1] + 1
    assert loaded["metrics"]["epoch"]["values"] == [1.0, 2.0]
    assert 0.5 < loaded["summary"]["test_accuracy"] <= 1.0

    from minnet.scenarios.healthy import moons_mlp
    from minnet.debug import diagnose_setup
    report = diagnose_setup(moons_mlp(), steps=30, record=root)
    recorded = load_run(report.run["run_id"], root)
    assert recorded["kind"] == "diagnosis" and recorded["config"]["optimizer"] == "SGD"
    assert recorded["config"]["lr"] == 0.05 and recorded["config"]["steps"] == 30
    assert len(recorded["metrics"]["loss"]["values"]) == 30
