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
    assert "--epochs must be positive" in result.stderr


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
