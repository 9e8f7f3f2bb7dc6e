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


# -- NaN/inf, damaged folders, dead runs, the CLI's arguments (issue 12) -------------------------
def test_nan_and_inf_are_strict_json_and_come_back_as_floats(tmp_path, capsys):
    with RunLog.start("diverged", root=str(tmp_path)) as run:
        for step, loss in enumerate([float("nan"), 2.0, float("inf"), float("-inf")]):
            run.log_step(step, loss=loss)
        run.finish(summary={"first_loss": float("nan"), "best": float("inf")})
    for name in ("run.json", "metrics.json"):   # strict JSON: no NaN/Infinity tokens
        text = (tmp_path / run.id / name).read_text()
        json.loads(text, parse_constant=lambda token: pytest.fail(f"{token} in {name}"))
        assert '"nan"' not in text or "nonfinite" in text
    loaded = load_run(run.id, str(tmp_path))
    values = loaded["metrics"]["loss"]["values"]
    assert np.isnan(values[0]) and values[1:] == [2.0, float("inf"), float("-inf")]
    assert np.isnan(loaded["summary"]["first_loss"]) and loaded["summary"]["best"] == np.inf
    assert main(["runs", "show", run.id, "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "first nan, last -inf (3 not finite)" in out and "first_loss=nan, best=inf" in out
    assert main(["runs", "--root", str(tmp_path)]) == 0
    assert "first_loss nan" in capsys.readouterr().out
    assert main(["runs", "show", run.id, "--root", str(tmp_path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out, parse_constant=lambda t: pytest.fail(t))
    assert shown["metrics"]["loss"]["values"][0] is None
    assert shown["nonfinite"]["/metrics/loss/values/0"] == "nan"
    assert main(["runs", "compare", run.id, run.id, "--root", str(tmp_path)]) == 0
    assert "-inf" in capsys.readouterr().out


def test_runs_written_by_an_older_minnet_with_nan_strings_still_show(tmp_path, capsys):
    folder = tmp_path / "20250101-000000-old"
    folder.mkdir()
    (folder / "run.json").write_text(json.dumps({"id": folder.name, "status": "completed",
                                                 "summary": {"seconds": 6.406887976999997}}))
    (folder / "metrics.json").write_text(json.dumps(
        {"loss": {"steps": [0, 1], "values": ["nan", "inf"]}}))
    assert main(["runs", "show", "old", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "first nan, last inf" in out and "seconds=6.407" in out


def test_a_diagnosis_that_stopped_logs_only_the_steps_that_ran(tmp_path):
    from minnet.runlog import record_diagnosis

    class Stopped:
        findings, errors, context = [], [], None
        run = {"steps": 3, "losses": np.array([2.0, 1.0, np.nan] + [np.nan] * 97),
               "first_loss": 2.0}

    from minnet.scenarios.healthy import moons_mlp
    run_id = record_diagnosis(Stopped(), moons_mlp(), "stopped", str(tmp_path))
    values = load_run(run_id, str(tmp_path))["metrics"]["loss"]["values"]
    assert values[:2] == [2.0, 1.0] and np.isnan(values[2]) and len(values) == 3


def damaged_root(tmp_path):
    good = record(tmp_path, "good", 0.1, [1.0, 0.5])
    for name, content in {"list": "[]", "null": "null", "cut": '{"id": "x", "sta',
                          "empty": ""}.items():
        (tmp_path / f"20250101-00000{len(name)}-{name}").mkdir()
        (tmp_path / f"20250101-00000{len(name)}-{name}" / "run.json").write_text(content)
    noid = tmp_path / "20250101-000009-noid"
    noid.mkdir()
    (noid / "run.json").write_text(json.dumps({"status": "completed", "summary": {}}))
    return good


def test_damaged_run_folders_are_listed_with_the_file_and_hide_no_other_run(tmp_path, capsys):
    good = damaged_root(tmp_path)
    runs = {run["id"]: run for run in list_runs(str(tmp_path))}
    assert runs[good.id]["status"] == "completed"
    assert runs["20250101-000009-noid"]["status"] == "completed"   # the folder names it
    for name in ("list", "null", "cut", "empty"):
        (damaged,) = [run for run_id, run in runs.items() if run_id.endswith(name)]
        assert damaged["status"] == "damaged" and "run.json" in damaged["problem"]
    assert main(["runs", "--root", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert good.id in captured.out and captured.out.count(" damaged    ") == 4
    assert "4 damaged run folders" in captured.err
    assert main(["runs", "show", "cut", "--root", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert "run.json is not valid JSON" in err and "20250101-000003-cut" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert main(["runs", "--root", str(tmp_path), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 6


def test_truncated_metrics_and_a_renamed_folder(tmp_path, capsys):
    run = record(tmp_path, "renamed", 0.1, [1.0, 0.5])
    os.rename(tmp_path / run.id, tmp_path / "my-best-run")
    loaded = load_run("my-best-run", str(tmp_path))      # no RecursionError: the folder wins
    assert loaded["id"] == "my-best-run" and loaded["recorded_id"] == run.id
    assert main(["runs", "show", "best", "--root", str(tmp_path)]) == 0
    assert "folder was renamed" in capsys.readouterr().out
    path = tmp_path / "my-best-run" / "metrics.json"
    path.write_text(path.read_text()[:20])
    from minnet.runlog import DamagedRun
    with pytest.raises(DamagedRun, match="metrics.json is not valid JSON"):
        load_run("my-best-run", str(tmp_path))
    assert main(["runs", "show", "best", "--root", str(tmp_path)]) == 3
    assert "metrics.json" in capsys.readouterr().err


def test_a_prefix_of_several_runs_lists_them(tmp_path, capsys):
    a = record(tmp_path, "lr_too_high-broken", 0.1, [1.0])
    b = record(tmp_path, "lr_too_high-fixed", 0.1, [1.0])
    assert main(["runs", "show", "lr_too", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "matches 2 runs" in err and a.id in err and b.id in err
    assert main(["runs", "show", "fixed", "--root", str(tmp_path)]) == 0


def test_a_run_whose_process_died_is_not_running_forever(tmp_path, capsys):
    import subprocess
    import sys
    script = ("import os, signal, sys\n"
              "from minnet.runlog import RunLog\n"
              f"run = RunLog.start('killed', root={str(tmp_path)!r})\n"
              "run.log_step(0, loss=1.0); run.flush()\n"
              "os.kill(os.getpid(), signal.SIGKILL)\n")
    subprocess.run([sys.executable, "-c", script], check=False)
    (run,) = list_runs(str(tmp_path))
    assert run["status"] == "died" and "ended without finishing" in run["status_note"]
    alive = RunLog.start("alive", root=str(tmp_path))   # this process: still running
    assert {r["id"]: r["status"] for r in list_runs(str(tmp_path))}[alive.id] == "running"


def test_a_full_disk_at_finish_is_recorded_or_seen_as_died(tmp_path, monkeypatch):
    from minnet import runlog
    run = RunLog.start("full", root=str(tmp_path))
    run.log_step(0, loss=1.0)
    real = runlog.atomic_write

    def full(path, content):
        if path.endswith("metrics.json"):
            raise OSError(28, "No space left on device")
        return real(path, content)

    monkeypatch.setattr(runlog, "atomic_write", full)
    with pytest.raises(OSError, match="No space"):
        with run:
            pass
    loaded = load_run(run.id, str(tmp_path))
    assert loaded["status"] == "failed" and "No space left" in loaded["error"]


def test_runs_arguments_are_checked(tmp_path, capsys):
    record(tmp_path, "a", 0.1, [1.0])
    assert main(["runs", "list", "extra", "--root", str(tmp_path)]) == 2
    assert "takes no run ids" in capsys.readouterr().err
    assert main(["runs", "show", "a", "b", "--root", str(tmp_path)]) == 2
    assert main(["runs", "compare", "a", "--root", str(tmp_path)]) == 2
    (tmp_path / "file").write_text("x")
    assert main(["runs", "--root", str(tmp_path / "file")]) == 2
    assert "is a file" in capsys.readouterr().err
    assert main(["runs", "show", "../etc", "--root", str(tmp_path)]) == 2
    assert main(["runs", "--root", str(tmp_path / "nowhere")]) == 0
    assert "no runs" in capsys.readouterr().out


def test_log_step_and_start_reject_what_they_cannot_record(tmp_path):
    with pytest.raises(TypeError, match="config must be a dict"):
        RunLog.start("x", config=[1], root=str(tmp_path))
    run = RunLog.start("x", root=str(tmp_path))
    with pytest.raises(TypeError, match="metric 'loss' must be a number"):
        run.log_step(0, loss="high")
    with pytest.raises(TypeError, match="step must be an integer"):
        run.log_step(1.5, loss=1.0)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        RunLog.start("x", root=str(tmp_path / "afile"))


@pytest.mark.slow  # minnet train in a subprocess, interrupted
def test_ctrl_c_during_minnet_train_is_recorded_as_interrupted(tmp_path):
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    import minnet
    env = dict(os.environ, PYTHONPATH=str(Path(minnet.__file__).resolve().parents[1]))
    root = tmp_path / "runs"
    process = subprocess.Popen([sys.executable, "-m", "minnet", "train", "--epochs", "500",
                                "--hidden", "16", "--record", str(root)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(root.glob("*/run.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    (run,) = list_runs(str(root))
    assert run["status"] == "interrupted" and "KeyboardInterrupt" in run["error"]
    assert not [name for name in os.listdir(root / run["id"]) if name.startswith(".tmp-")]


def test_a_long_run_is_not_rewritten_every_100_steps(tmp_path, monkeypatch):
    """metrics.json is rewritten whole: flushing every 100 steps made 40,000 steps take 38 s
    (quadratic); the interval now grows with the run, so the total written is O(steps)."""
    from minnet import runlog
    written = []
    real = runlog.atomic_write

    def counting(path, content):
        if path.endswith("metrics.json"):
            written.append(len(content))
        return real(path, content)

    monkeypatch.setattr(runlog, "atomic_write", counting)
    run = RunLog.start("long", root=str(tmp_path))
    for step in range(40000):
        run.log_step(step, loss=1.0)
    run.finish()
    assert len(written) < 120                          # was 400 metrics writes
    assert sum(written) < 40 * written[-1]            # ~O(final size), not O(steps x size)
    assert len(load_run(run.id, str(tmp_path))["metrics"]["loss"]["values"]) == 40000
