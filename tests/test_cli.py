"""The command line, run as a user would: ``python -m minnet ...`` in a subprocess."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from minnet import cli

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_minnet(*args, env_extra=None, timeout=300):
    """Run ``python -m minnet *args``; the package is found wherever pytest imported it."""
    import minnet

    env = dict(os.environ)
    package_parent = str(Path(minnet.__file__).resolve().parents[1])
    env["PYTHONPATH"] = package_parent + os.pathsep + env.get("PYTHONPATH", "")
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "minnet", *args], capture_output=True,
                          text=True, env=env, timeout=timeout)


def test_help_lists_the_subcommands():
    result = run_minnet("--help")
    assert result.returncode == 0, result.stderr
    assert "usage: minnet" in result.stdout
    for command in cli.COMMANDS:
        assert command.name in result.stdout


def test_version_matches_the_package():
    import minnet

    result = run_minnet("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"minnet {minnet.__version__}"


def test_no_command_prints_help_and_fails():
    result = run_minnet()
    assert result.returncode == 2
    assert "usage: minnet" in result.stdout


def test_unknown_command_is_an_argparse_error():
    result = run_minnet("fly")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_info_reports_versions_blas_threads_and_numba_cache():
    result = run_minnet("info")
    assert result.returncode == 0, result.stderr
    fields = dict(line.split(":", 1) for line in result.stdout.splitlines())
    for label in ("minnet", "Python", "NumPy", "NumPy BLAS", "Numba", "matplotlib", "threads",
                  "Numba JIT", "Numba cache"):
        assert label in fields, f"missing {label!r} in:\n{result.stdout}"
    import numpy

    assert fields["NumPy"].strip() == numpy.__version__
    assert fields["Numba JIT"].strip() == "on"
    assert f"{os.cpu_count()} CPUs" in fields["threads"]


def test_info_shows_jit_switched_off_and_blas_tuning_variables():
    result = run_minnet("info", env_extra={"MINNET_NO_JIT": "1", "OPENBLAS_CORETYPE": "Haswell"})
    assert result.returncode == 0, result.stderr
    assert "Numba JIT:" in result.stdout and "off" in result.stdout
    assert "OPENBLAS_CORETYPE: Haswell" in result.stdout


def test_train_runs_two_epochs_and_shows_what_it_learned():
    result = run_minnet("train", "--epochs", "2", "--hidden", "32", "--seed", "1")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "epoch   1" in out and "epoch   2" in out and "epoch   3" not in out
    assert "test accuracy:" in out
    assert "confusion matrix" in out
    accuracy = float(out.split("test accuracy:")[1].split()[0])
    assert 0.5 < accuracy <= 1.0  # two epochs already learn most digits


def test_train_rejects_nonsense_options():
    result = run_minnet("train", "--epochs", "0")
    assert result.returncode == 2
    assert "argument --epochs: must be a whole number > 0" in result.stderr


@pytest.mark.parametrize("option, value, message", [
    ("--seed", "-3", "argument --seed: must be a whole number >= 0"),
    ("--seed", "1.5", "argument --seed: must be a whole number"),
    ("--lr", "inf", "argument --lr: must be a finite number > 0"),
    ("--lr", "nan", "argument --lr: must be a finite number > 0"),
    ("--lr", "-1", "argument --lr: must be a finite number > 0"),
    ("--lr", "fast", "argument --lr: must be a number"),
    ("--hidden", "0", "argument --hidden: must be a whole number > 0"),
    ("--batch-size", "-2", "argument --batch-size: must be a whole number > 0"),
    ("--epochs", "1e3", "argument --epochs: must be a whole number"),
])
def test_train_options_are_checked_by_argparse_before_any_work(capsys, option, value, message):
    assert cli.main(["train", option, value]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "usage: minnet train" in captured.err
    assert "digits:" not in captured.out  # nothing was trained


def test_train_output_files_are_checked_before_any_work(tmp_path, capsys):
    (tmp_path / "old.npz").write_bytes(b"keep me")
    (tmp_path / "afile").write_text("x")
    for argv, message in [
            (["--save", str(tmp_path / "old.npz")], "exists; add --overwrite"),
            (["--save", str(tmp_path)], "is a folder"),
            (["--save", str(tmp_path / "afile" / "m.npz")], "is a file, not a folder"),
            (["--plot", str(tmp_path / "loss.txt")], "must end in .png, .svg, .pdf"),
            (["--record", str(tmp_path / "afile")], "--record"),
            (["--save", str(tmp_path / "a.png"), "--plot", str(tmp_path / "a.png")],
             "name the same file")]:
        assert cli.main(["train", *argv]) == 2, argv
        captured = capsys.readouterr()
        assert message in captured.err and "digits:" not in captured.out, argv
    assert (tmp_path / "old.npz").read_bytes() == b"keep me"


def test_train_saves_the_model_and_a_loss_curve_picture(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    import numpy as np

    import minnet
    from minnet import nn
    model_path, plot_path = tmp_path / "digits.npz", tmp_path / "loss.png"
    assert cli.main(["train", "--epochs", "1", "--hidden", "16", "--save", str(model_path),
                     "--plot", str(plot_path)]) == 0
    out = capsys.readouterr().out
    assert f"saved the model to {model_path}" in out and "saved the loss curves" in out
    assert plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model = nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10))
    model.load_state_dict(minnet.load(model_path))
    accuracy = float(out.split("test accuracy:")[1].split()[0])
    from minnet.data import load_digits
    X, _ = load_digits(return_X_y=True)
    assert model(minnet.Tensor(np.asarray(X[:3], dtype=np.float32))).shape == (3, 10)
    assert 0.3 < accuracy <= 1.0
    assert cli.main(["train", "--epochs", "1", "--hidden", "16", "--save", str(model_path),
                     "--overwrite"]) == 0


def test_train_says_why_when_the_loss_becomes_nan(tmp_path, capsys):
    root = tmp_path / "runs"
    assert cli.main(["train", "--epochs", "2", "--hidden", "16", "--lr", "1e300",
                     "--record", str(root)]) == 1
    captured = capsys.readouterr()
    assert "the training loss became nan at step" in captured.err
    assert "Try a smaller --lr" in captured.err and "RuntimeWarning" not in captured.err
    from minnet.runlog import list_runs
    (run,) = list_runs(str(root))
    assert run["status"] == "failed" and "TrainingDiverged" in run["error"]


def test_info_blas_threads_line_says_it_once():
    result = run_minnet("info", env_extra={"MINNET_BLAS_THREADS": "2"})
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("conv BLAS")]
    assert line.split(":", 1)[1].strip().startswith("2 inside conv2d (MINNET_BLAS_THREADS)")
    assert line.count("inside") == 1 and line.count("MINNET_BLAS_THREADS") == 1
    assert cli._blas_threads_text("0") == "not limited (MINNET_BLAS_THREADS=0)"
    assert cli._blas_threads_text("3").startswith("3 inside conv2d (MINNET_BLAS_THREADS)")


SETUP_OK = """
import numpy as np
from minnet import nn, optim
from minnet.debug import Setup

def setup():
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
    X = np.random.default_rng(0).standard_normal((64, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    return Setup(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y),
                 steps=20)
"""


@pytest.mark.parametrize("name, text, message", [
    ("notes.md", "# not python\n", "is not a Python file"),
    ("nosetup.py", "x = 1\n", "defines no setup() function"),
])
def test_doctor_on_a_file_that_is_not_a_setup_script_is_a_usage_error(tmp_path, capsys, name,
                                                                       text, message):
    script = tmp_path / name
    script.write_text(text)
    assert cli.main(["doctor", str(script), "--no-save"]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "usage: minnet doctor" in captured.err
    assert "Traceback" not in captured.err and "NoneType" not in captured.err


@pytest.mark.parametrize("name, text, message", [
    ("syntax.py", "def setup(:\n    pass\n", "syntax.py, line 1"),
    ("raises_on_import.py", "import nothing_such_module_xyz\n",
     "raised ModuleNotFoundError"),
    ("raises.py", "def setup():\n    raise ValueError('no data here')\n",
     "setup() in"),
    ("returns_int.py", "def setup():\n    return 3\n", "returned int"),
    ("exits.py", "import sys\nsys.exit(4)\n", "raised SystemExit"),
])
def test_doctor_on_a_script_it_cannot_use_says_why_with_exit_code_3(tmp_path, capsys, name,
                                                                    text, message):
    script = tmp_path / name
    script.write_text(text)
    assert cli.main(["doctor", str(script), "--no-save"]) == 3
    captured = capsys.readouterr()
    assert message in captured.err and "minnet doctor:" in captured.err
    assert "Traceback" not in captured.err and "NoneType" not in captured.err
    if name == "raises.py":  # the user's own line is shown, minnet's frames are not
        assert "raise ValueError('no data here')" in captured.err
        assert "minnet/cli.py" not in captured.err


def test_doctor_and_tour_check_their_arguments_before_any_work(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    script = tmp_path / "ok.py"
    script.write_text(SETUP_OK)
    for argv, message in [
            (["doctor", str(script), "--out", str(tmp_path / "afile")], "is a file, not a folder"),
            (["doctor", "--scenario", "dying_relu", "--out", str(tmp_path / "afile")],
             "is a file, not a folder"),
            (["doctor", str(tmp_path / "missing.py")], "no such file"),
            (["doctor", str(script), "--steps", "0"], "--steps must be"),
            (["doctor"], "give a script"),
            (["tour", "--scenarios"], "--scenarios needs at least one name"),
            (["tour", "--out", str(tmp_path / "afile")], "is a file, not a folder")]:
        assert cli.main(argv) == 2, argv
        captured = capsys.readouterr()
        assert message in captured.err, (argv, captured.err)
        assert "diagnosing" not in captured.err
    assert cli.main(["doctor", str(script), "--out", str(tmp_path / "reports")]) in (0, 1)
    assert (tmp_path / "reports" / "ok.json").exists()


def test_main_can_be_called_in_process(capsys):
    assert cli.main(["info"]) == 0
    assert "NumPy BLAS:" in capsys.readouterr().out


def test_import_minnet_loads_neither_numba_nor_matplotlib_and_compiles_nothing():
    probe = (
        "import json, sys\n"
        "import minnet, minnet.cli, minnet.train\n"
        "import minnet.kernels as k\n"
        "print(json.dumps({'numba': 'numba' in sys.modules,\n"
        "                  'matplotlib': any(m.split('.')[0] == 'matplotlib' for m in sys.modules),\n"
        "                  'kernel_modules': sorted(m for m in sys.modules\n"
        "                                           if m.startswith('minnet.kernels.')),\n"
        "                  'resolved_kernels': len(k._resolved)}))\n"
    )
    import minnet

    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(minnet.__file__).resolve().parents[1])
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded == {"numba": False, "matplotlib": False, "kernel_modules": [],
                      "resolved_kernels": 0}


def test_every_command_has_a_help_text_and_a_runner():
    parser = cli.build_parser()
    for command in cli.COMMANDS:
        assert command.help
        args = parser.parse_args([command.name])
        assert args.run is command.run


def test_pyproject_console_script_points_at_main():
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    assert 'minnet = "minnet.cli:main"' in pyproject
    assert callable(cli.main)
