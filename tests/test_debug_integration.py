"""The debugger end to end: healthy baselines stay clean, the caller's objects stay
untouched, every scenario is registered and documented, and the CLI drives it all."""
import json

import numpy as np
import pytest

import minnet
from minnet import nn, optim, scenarios
from minnet.cli import main
from minnet.debug import codes, diagnose, diagnose_setup
from minnet.scenarios.healthy import HEALTHY


@pytest.fixture(scope="module")
def healthy_reports():
    return {name: diagnose_setup(make()) for name, make in HEALTHY.items()}


@pytest.mark.parametrize("name", sorted(HEALTHY))
def test_healthy_baselines_get_no_error(healthy_reports, name):
    report = healthy_reports[name]
    assert report.errors == [], str(report)
    # the short run trained: the loss fell clearly
    assert report.run["last_loss"] < 0.7 * report.run["first_loss"]


def test_every_catalogue_scenario_exists_and_names_its_codes():
    names = set(scenarios.list())
    for entry in codes.CODES.values():
        for name in entry.scenarios:
            assert name in names, f"{entry.code}: scenario {name!r} missing"
    for scenario in scenarios.all():
        assert scenario.codes and scenario.summary and scenario.wrong and scenario.fix
        text = scenario.describe()
        assert scenario.name in text and all(code in text for code in scenario.codes)


def test_unknown_scenario_suggests_a_name():
    with pytest.raises(KeyError, match="dying_relu"):
        scenarios.get("dying")


def test_diagnose_leaves_the_callers_model_and_optimizer_untouched():
    setup = HEALTHY["moons_mlp"]()
    before = {k: v.numpy().copy() for k, v in setup.model.state_dict().items()}
    report = diagnose(setup.model, setup.loss_fn, setup.train_data, setup.optimizer, steps=50)
    assert report.run["steps"] == 50
    for key, value in setup.model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[key])
    assert not setup.optimizer.state          # never stepped: no momentum buffers
    assert all(p.grad is None for p in setup.model.parameters())
    assert setup.model.training   # mode restored too


def test_diagnose_accepts_a_dataloader_and_its_settings():
    X, y = minnet.data.make_blobs(n_samples=200, centers=3, seed=1)
    loader = minnet.data.DataLoader(minnet.data.TensorDataset(X, y), batch_size=200,
                                    shuffle=False)
    minnet.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))
    report = diagnose(model, nn.CrossEntropyLoss(), loader,
                      optim.SGD(model.parameters(), lr=0.1), steps=20)
    assert report.has("batch.too_large")        # the loader's batch size was used
    finding = report.get("batch.too_large")[0]
    assert finding.severity == "info" and finding.evidence


def test_monitor_findings_in_a_users_own_loop():
    setup = scenarios.get("no_zero_grad").broken()
    model, loss_fn, optimizer = setup.model, setup.loss_fn, setup.optimizer
    X, y = setup.train_data
    with minnet.debug.Monitor(model, optimizer) as monitor:
        for step in range(30):
            index = np.arange(step * 16, step * 16 + 16) % len(X)
            loss = loss_fn(model(minnet.tensor(X[index])), minnet.tensor(y[index]))
            loss.backward()             # the bug: no optimizer.zero_grad()
            optimizer.step()
            monitor.log(loss=loss.item())
    found = [f.code for f in monitor.findings()]
    assert "grad.accumulating" in found


def test_verify_fixes_shows_the_repair_without_applying_it():
    scenario = scenarios.get("lr_too_high")
    setup = scenario.broken()
    before = {k: v.numpy().copy() for k, v in setup.model.state_dict().items()}
    report = diagnose_setup(setup)
    results = report.verify_fixes(codes=["update.ratio"])
    assert results, "a mechanical fix for update.ratio exists"
    result = results[0]
    assert result["finding_gone"] and result["loss_improved"]
    assert "verified:" in str(report)
    for key, value in setup.model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[key])


def test_cli_scenarios_lists_every_scenario(capsys):
    assert main(["scenarios"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in scenarios.list())
    assert main(["scenarios", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {entry["name"] for entry in listed} == set(scenarios.list())
    assert main(["scenarios", "nope"]) == 2


def test_cli_doctor_scenario_side_by_side_and_saved(tmp_path, capsys):
    assert main(["doctor", "--scenario", "capacity_too_small", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "BROKEN" in out and "FIXED" in out and "model.cannot_overfit" in out
    assert "broken: reports model.cannot_overfit" in out
    saved = sorted(p.name for p in tmp_path.iterdir())
    assert "capacity_too_small-broken.json" in saved and "capacity_too_small-fixed.html" in saved
    data = json.loads((tmp_path / "capacity_too_small-broken.json").read_text())
    assert "model.cannot_overfit" in {f["code"] for f in data["findings"]}


def test_cli_doctor_json_and_record(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["doctor", "--scenario", "sum_reduction", "--json", "--no-save",
                 "--record"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert "loss.reduction_scale" in {f["code"] for f in data["broken"]["findings"]}
    assert "loss.reduction_scale" not in {f["code"] for f in data["fixed"]["findings"]}
    assert main(["runs"]) == 0
    out = capsys.readouterr().out
    assert "sum_reduction-broken" in out and "loss.reduction_scale" in out


def test_cli_doctor_errors_are_clear(tmp_path, capsys):
    assert main(["doctor", "--scenario", "nope"]) == 2
    assert "no scenario" in capsys.readouterr().err
    assert main(["doctor", str(tmp_path / "missing.py")]) == 2
    assert "no such file" in capsys.readouterr().err
    script = tmp_path / "nosetup.py"
    script.write_text("x = 1\n")
    assert main(["doctor", str(script)]) == 2
    assert "setup()" in capsys.readouterr().err


@pytest.mark.slow  # the tour end to end: two scenarios diagnosed, HTML and PNG reports
def test_cli_tour_on_two_scenarios(tmp_path, capsys):
    assert main(["tour", "--out", str(tmp_path), "--scenarios", "sum_reduction",
                 "capacity_too_small"]) == 0
    out = capsys.readouterr().out
    assert "2/2 failures named on the broken setups, 2/2 fixed setups without errors" in out
    assert (tmp_path / "sum_reduction-broken.html").exists()


def test_cli_tour_json(capsys):
    assert main(["tour", "--json", "--scenarios", "sum_reduction"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["scenario"] == "sum_reduction"
    assert "loss.reduction_scale" in {f["code"] for f in entry["broken"]["findings"]}


def test_a_loss_closing_over_the_callers_model_leaves_its_grads_alone():
    setup = HEALTHY["moons_mlp"]()
    model = setup.model
    data_loss = nn.CrossEntropyLoss()

    def loss_with_l2(output, target):   # refers to the caller's model, not diagnose's copy
        penalty = sum((p * p).sum() for p in model.parameters())
        return {"data": data_loss(output, target), "l2": 1e-3 * penalty}

    report = diagnose(model, loss_with_l2, setup.train_data, setup.optimizer, steps=20)
    assert report.run["steps"] == 20
    assert all(p.grad is None for p in model.parameters())


def test_a_crashing_run_is_an_error_not_a_clean_report():
    report = scenarios.get("shape_mismatch").diagnose("broken")
    (crash,) = report.get("run.crashed")
    assert crash.severity == "error" and crash.evidence["exception"] == "ValueError"
    assert "in_features=63" in crash.message and crash.evidence["step"] == 0
    assert "No findings" not in str(report)


@pytest.mark.parametrize("name", ["shape_mismatch", "float_labels", "labels_out_of_range"])
def test_no_check_crashes_on_a_setup_whose_forward_or_loss_raises(name):
    """12 preflight checks used to raise one after the other (the check runner kept each
    exception in run['check_failures']) when the model or the loss raises on the data: now
    one probe finds that, they are skipped, and the report says why."""
    report = diagnose_setup(scenarios.get(name).broken())
    assert report.run["check_failures"] == []
    assert "model.cannot_overfit" in " ".join(report.run["checks_skipped"])
    assert report.run["checks_skipped_because"].split(":")[0] in ("ValueError", "TypeError",
                                                                 "IndexError")
    assert "preflight check(s) skipped" in str(report)
    assert report.has("run.crashed")


def test_a_setup_that_runs_skips_no_check():
    report = diagnose_setup(HEALTHY["moons_mlp"]())
    assert report.run["checks_skipped"] == [] and report.run["checks_skipped_because"] is None
    assert "skipped" not in str(report)
