"""The ``minnet`` command line: ``minnet info``, ``minnet train``, ...

Each subcommand is two small functions and one line in `COMMANDS`:

* ``add_<name>_arguments(parser)`` declares its options (argparse);
* ``run_<name>(args) -> int`` does the work and returns the exit code.

Heavy imports (NumPy, Numba, the training code) happen inside the ``run_``
functions, so ``minnet --help`` answers at once.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
from dataclasses import dataclass
from typing import Callable, Optional

from . import cli_debug

PROG = "minnet"


def package_version() -> str:
    from . import __version__  # minnet/__init__.py is already imported to reach this module
    return __version__


# --------------------------------------------------------------------------
# minnet info
# --------------------------------------------------------------------------
def add_info_arguments(parser: argparse.ArgumentParser) -> None:
    pass  # no options: info just reports


def optional_version(module_name: str) -> str:
    """``module.__version__``, or 'not installed' / the import error (info must never crash)."""
    try:
        module = __import__(module_name)
    except ImportError:
        return "not installed"
    except Exception as error:  # a broken install still deserves a line of output
        return f"broken ({type(error).__name__}: {error})"
    return str(getattr(module, "__version__", "unknown"))


def numpy_blas() -> str:
    """Which BLAS NumPy calls for matrix products, e.g. 'scipy-openblas 0.3.31'.

    NumPy >= 1.26 answers ``show_config(mode="dicts")``; older versions only
    keep ``numpy.__config__.blas_opt_info`` (or similar) dictionaries.
    """
    import numpy as np

    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        name, version = blas.get("name", "unknown"), blas.get("version", "")
        return f"{name} {version}".strip()
    except Exception:
        pass
    legacy = getattr(np, "__config__", None)
    for attribute in ("blas_ilp64_opt_info", "blas_opt_info", "openblas_info", "blas_mkl_info"):
        info = getattr(legacy, attribute, None)
        if info:
            libraries = info.get("libraries", [])
            return ", ".join(libraries) if libraries else attribute
    return "unknown"


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMBA_NUM_THREADS")
BLAS_TUNING_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def thread_report() -> str:
    """CPU count and any thread-limiting environment variables that are set."""
    parts = [f"{os.cpu_count()} CPUs"]
    parts += [f"{name}={os.environ[name]}" for name in THREAD_VARIABLES if name in os.environ]
    return ", ".join(parts)


def numba_threads() -> str:
    """Numba's worker-thread count, if Numba has been imported (by `kernel_report`)."""
    numba = sys.modules.get("numba")
    config = getattr(numba, "config", None)
    count = getattr(config, "NUMBA_NUM_THREADS", None)
    return f", Numba threads {count}" if count else ""


def kernel_report() -> dict:
    """JIT state and Numba cache folder, from ``minnet.kernels.info()`` when available."""
    from . import kernels

    if hasattr(kernels, "info"):
        return kernels.info()
    return {"jit_enabled": os.environ.get("MINNET_NO_JIT", "") not in ("1", "true", "yes", "on"),
            "cache_dir": os.environ.get("NUMBA_CACHE_DIR") or
            os.path.join(os.path.dirname(kernels.__file__), "__pycache__")}


def _blas_threads_text(setting) -> str:
    """MINNET_BLAS_THREADS as ``minnet info`` shows it (see kernels.blas_threads_limit)."""
    if setting in (None, "", "0", "unlimited"):
        return "unlimited (MINNET_BLAS_THREADS=0)" if setting == "0" else "unlimited"
    limiter = "threadpoolctl " + optional_version("threadpoolctl")
    return f"{setting} inside convolutions (MINNET_BLAS_THREADS; via {limiter})"


def info_lines() -> list:
    """The ``(label, value)`` pairs that ``minnet info`` prints."""
    kernels = kernel_report()
    jit = "on" if kernels.get("jit_enabled") else "off (MINNET_NO_JIT=1: NumPy reference kernels)"
    if kernels.get("numba_disable_jit"):
        jit += " -- but NUMBA_DISABLE_JIT is set: kernels run as plain Python (slow)"
    cache_dir = kernels.get("cache_dir") or "unknown"
    if os.environ.get("NUMBA_CACHE_DIR"):
        cache_dir += " (from NUMBA_CACHE_DIR)"
    if "cache_files" in kernels:
        cache_dir += f" [{kernels['cache_files']} compiled kernel files]"
    lines = [
        ("minnet", package_version()),
        ("Python", f"{platform.python_version()} ({sys.executable})"),
        ("platform", platform.platform()),
        ("NumPy", optional_version("numpy")),
        ("NumPy BLAS", numpy_blas()),
        ("Numba", optional_version("numba")),
        ("matplotlib", optional_version("matplotlib")),
        ("threads", thread_report() + numba_threads()),
        ("Numba JIT", jit),
        ("Numba cache", cache_dir),
        ("conv BLAS threads", _blas_threads_text(kernels.get("blas_threads"))),
    ]
    lines += [(name, os.environ[name]) for name in BLAS_TUNING_VARIABLES if name in os.environ]
    if "error" in kernels:
        lines.append(("kernel info error", kernels["error"]))
    return lines


def run_info(args: argparse.Namespace) -> int:
    lines = info_lines()
    width = max(len(label) for label, _ in lines)
    for label, value in lines:
        print(f"{label + ':':<{width + 1}} {value}")
    return 0


# --------------------------------------------------------------------------
# minnet train
# --------------------------------------------------------------------------
def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--epochs", type=int, default=25, help="passes over the training set "
                        "(default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the split, the initial "
                        "weights and the batch order (default: %(default)s)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate "
                        "(default: %(default)s)")
    parser.add_argument("--hidden", type=int, default=256, help="units in the hidden layer "
                        "(default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=32, help="(default: %(default)s)")
    parser.add_argument("--record", nargs="?", const="runs", default=None, metavar="FOLDER",
                        help="record the run in the run log (default folder: runs)")


def check_positive(value, name: str) -> Optional[str]:
    return None if value > 0 else f"{PROG} train: {name} must be positive, got {value}"


def run_train(args: argparse.Namespace) -> int:
    problems = [message for message in (
        check_positive(args.epochs, "--epochs"), check_positive(args.lr, "--lr"),
        check_positive(args.hidden, "--hidden"), check_positive(args.batch_size, "--batch-size"))
        if message]
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    from .train import digits_experiment, print_digits_summary

    result = digits_experiment(epochs=args.epochs, seed=args.seed, lr=args.lr,
                               hidden=args.hidden, batch_size=args.batch_size, log=print,
                               record=args.record)
    print_digits_summary(result, log=print)
    return 0


# --------------------------------------------------------------------------
# minnet labs / minnet grade (the code lives in minnet/grading/cli.py)
# --------------------------------------------------------------------------
def add_labs_arguments(parser: argparse.ArgumentParser) -> None:
    from .grading.cli import add_labs_arguments as add_arguments
    add_arguments(parser)


def run_labs(args: argparse.Namespace) -> int:
    from .grading.cli import run_labs as run
    return run(args)


def add_grade_arguments(parser: argparse.ArgumentParser) -> None:
    from .grading.cli import add_grade_arguments as add_arguments
    add_arguments(parser)


def run_grade(args: argparse.Namespace) -> int:
    from .grading.cli import run_grade as run
    return run(args)


# --------------------------------------------------------------------------
# the parser
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Command:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS = [
    Command("info", "versions, BLAS, threads, Numba JIT and cache location",
            add_info_arguments, run_info),
    Command("train", "train a small MLP on the bundled 8x8 digits and show what it learned",
            add_train_arguments, run_train),
    Command("tour", "the debugging tour: classic failures reproduced, diagnosed and repaired",
            cli_debug.add_tour_arguments, cli_debug.run_tour),
    Command("scenarios", "list the failure scenarios (or show one)",
            cli_debug.add_scenarios_arguments, cli_debug.run_scenarios),
    Command("doctor", "diagnose a scenario (broken vs fixed) or your script's setup()",
            cli_debug.add_doctor_arguments, cli_debug.run_doctor),
    Command("runs", "list, show and compare recorded runs (the run log)",
            cli_debug.add_runs_arguments, cli_debug.run_runs),
    Command("labs", "instructors: release the labs from their sources, check them, run the "
            "mutant bank", add_labs_arguments, run_labs),
    Command("grade", "grade a student's submission in a clean copy of the labs",
            add_grade_arguments, run_grade),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="minnet: a small neural-network library with a PyTorch-like API, "
                    "written on NumPy for learning how networks train and fail.",
        epilog=f"Run '{PROG} <command> --help' for a command's options.")
    parser.add_argument("--version", action="version",
                        version=f"{PROG} {package_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="<command>")
    for command in COMMANDS:
        sub = subparsers.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(argv: Optional[list] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `minnet scenarios | head`: the reader left, not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so Python's exit flush doesn't raise again
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
