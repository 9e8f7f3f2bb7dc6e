"""The ``minnet`` command line: ``minnet info``, ``minnet train``, ...

Each subcommand is two small functions and one line in `COMMANDS`:

* ``add_<name>_arguments(parser)`` declares its options (argparse);
* ``run_<name>(args) -> int`` does the work and returns the exit code.

Heavy imports (NumPy, Numba, the training code) happen inside the ``run_``
functions, so ``minnet --help`` answers at once.
"""
from __future__ import annotations

import argparse
import math
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
    """MINNET_BLAS_THREADS as ``minnet info`` shows it (see kernels.blas_threads_report).

    ``kernels.info()`` gives a sentence ("1 inside conv2d (MINNET_BLAS_THREADS)"); an older
    one gave the bare setting. Either way the line says it once, and which limiter acts."""
    if setting is None or str(setting).strip() in ("", "unlimited"):
        return "not limited"
    text = str(setting).strip()
    if text.isdigit():
        if int(text) == 0:
            return "not limited (MINNET_BLAS_THREADS=0)"
        text = f"{int(text)} inside conv2d (MINNET_BLAS_THREADS)"
    if text[0].isdigit() and "not installed" not in text and "threadpoolctl" not in text:
        text += f", via threadpoolctl {optional_version('threadpoolctl')}"
    return text


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
def positive_int(text: str) -> int:
    """argparse type: a whole number > 0 (argparse turns the ValueError into exit code 2)."""
    value = _whole_number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a whole number > 0, got {text!r}")
    return value


def seed_int(text: str) -> int:
    """argparse type: a seed NumPy accepts, a whole number >= 0."""
    value = _whole_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0 (NumPy's seeds are), "
                                         f"got {text!r}")
    return value


def _whole_number(text: str) -> int:
    try:
        return int(text.strip().replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0 (no 0, negatives, nan or inf)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--epochs", type=positive_int, default=25,
                        help="passes over the training set (default: %(default)s)")
    parser.add_argument("--seed", type=seed_int, default=0, help="seed (>= 0) for the split, "
                        "the initial weights and the batch order (default: %(default)s)")
    parser.add_argument("--lr", type=positive_float, default=1e-3,
                        help="Adam's learning rate (default: %(default)s)")
    parser.add_argument("--hidden", type=positive_int, default=256,
                        help="units in the hidden layer (default: %(default)s)")
    parser.add_argument("--batch-size", type=positive_int, default=32,
                        help="(default: %(default)s)")
    parser.add_argument("--record", nargs="?", const="runs", default=None, metavar="FOLDER",
                        help="record the run in the run log (default folder: runs)")
    parser.add_argument("--save", metavar="FILE", default=None,
                        help="save the trained model's state_dict to FILE (.npz; load it with "
                        "model.load_state_dict(minnet.load(FILE)))")
    parser.add_argument("--plot", metavar="FILE", default=None,
                        help="draw the loss curves (every step's training loss, each epoch's "
                        "test loss) to FILE: .png, .svg or .pdf (needs matplotlib)")
    parser.add_argument("--overwrite", action="store_true",
                        help="let --save and --plot replace files that exist")
    parser.epilog = ("exit codes: 0 trained; 1 the loss became nan/inf (the run stops and "
                     "says why); 2 a bad option")


def usage_error(args: argparse.Namespace, message: str) -> int:
    """Print ``message`` as argparse does for its own errors (usage line first); return 2."""
    parser = getattr(args, "parser", None)
    if parser is not None:
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: error: {message}", file=sys.stderr)
    else:
        print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


def output_folder_problem(path: str, option: str) -> Optional[str]:
    """Why files cannot be written into folder ``path`` (None when they can), checked
    before any work is done."""
    if not path:
        return f"{option} needs a folder name, got an empty one"
    if os.path.exists(path):
        if not os.path.isdir(path):
            return f"{option} {path!r} is a file, not a folder"
        if not os.access(path, os.W_OK | os.X_OK):
            return f"{option} {path!r}: no permission to write into it"
        return None
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent) and os.path.dirname(parent) != parent:
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        return f"{option} {path!r}: {parent!r} is a file, not a folder"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{option} {path!r}: no permission to create it in {parent!r}"
    return None


def output_file_problem(path: str, option: str, overwrite: bool,
                        suffixes: Optional[tuple] = None) -> Optional[str]:
    """Why ``path`` cannot be written as an output file (None when it can)."""
    if not path:
        return f"{option} needs a file name, got an empty one"
    if os.path.isdir(path):
        return f"{option} {path!r} is a folder; give a file name"
    if suffixes and os.path.splitext(path)[1].lower() not in suffixes:
        return f"{option} {path!r}: the name must end in {', '.join(suffixes)}"
    if os.path.exists(path) and not overwrite:
        return f"{option} {path!r} exists; add --overwrite to replace it"
    return output_folder_problem(os.path.dirname(os.path.abspath(path)), option)


def run_train(args: argparse.Namespace) -> int:
    problems = []
    if args.record is not None:
        problems.append(output_folder_problem(args.record, "--record"))
    if args.save is not None:
        problems.append(output_file_problem(args.save, "--save", args.overwrite))
    if args.plot is not None:
        problems.append(output_file_problem(args.plot, "--plot", args.overwrite,
                                            (".png", ".svg", ".pdf")))
        if not problems[-1]:
            try:
                import matplotlib  # noqa: F401
            except ImportError:
                problems.append("--plot needs matplotlib: pip install matplotlib")
    if args.save and args.plot and os.path.abspath(args.save) == os.path.abspath(args.plot):
        problems.append("--save and --plot name the same file")
    problems = [problem for problem in problems if problem]
    if problems:
        return usage_error(args, "; ".join(problems))
    from .train import TrainingDiverged, digits_experiment, print_digits_summary

    try:
        result = digits_experiment(epochs=args.epochs, seed=args.seed, lr=args.lr,
                                   hidden=args.hidden, batch_size=args.batch_size, log=print,
                                   record=args.record)
    except TrainingDiverged as error:
        print(f"{PROG} train: {error}", file=sys.stderr)
        return 1
    print_digits_summary(result, log=print)
    if args.save is not None:
        from .serialization import save
        save(result.model.state_dict(), args.save)
        print(f"saved the model to {args.save} (load: model.load_state_dict(minnet.load("
              f"{args.save!r})) on a 64-{args.hidden}-10 Sequential)")
    if args.plot is not None:
        from .train import plot_digits_losses
        plot_digits_losses(result, args.plot)
        print(f"saved the loss curves to {args.plot}")
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
# minnet runs (the run log: minnet/runlog.py)
# --------------------------------------------------------------------------
RUNS_EXIT_CODES = "exit codes: 0 done; 2 a bad option, or no/several runs match an id; " \
    "3 a run's file is damaged (the message names it)"


def add_runs_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", default="list", choices=("list", "show", "compare"),
                        help="list (default), show ID, compare ID ID ...")
    parser.add_argument("ids", nargs="*", help="run ids (a unique part of an id is enough)")
    parser.add_argument("--root", default="runs", help="run log folder (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print JSON (strict: nan and inf "
                        "are null, named in a \"nonfinite\" map)")
    parser.epilog = RUNS_EXIT_CODES


def run_runs(args: argparse.Namespace) -> int:
    from . import runlog

    if os.path.exists(args.root) and not os.path.isdir(args.root):
        return usage_error(args, f"--root {args.root!r} is a file, not a run log folder")
    if args.action == "list" and args.ids:
        return usage_error(args, f"'runs list' takes no run ids, got {' '.join(args.ids)!r}. "
                           "To see one run: minnet runs show ID")
    if args.action == "show" and len(args.ids) != 1:
        return usage_error(args, "'runs show' takes one run id" +
                           (f", got {len(args.ids)}; to put runs side by side: minnet runs "
                            "compare ID ID ..." if args.ids else "; 'minnet runs' lists them"))
    if args.action == "compare" and len(args.ids) < 2:
        return usage_error(args, "'runs compare' takes two or more run ids; 'minnet runs' "
                           "lists them")
    try:
        if args.action == "list":
            runs = runlog.list_runs(args.root)
            if args.json:
                print("[" + ",\n".join(runlog.to_json(run) for run in runs) + "]")
                return 0
            if not runs:
                print(f"no runs in {args.root!r} yet (minnet train --record, minnet doctor "
                      "--record, or minnet.runlog.RunLog in your own loop)")
            for line in runlog.format_listing(runs):
                print(line)
            damaged = sum(run.get("status") == "damaged" for run in runs)
            if damaged:
                print(f"({damaged} damaged run folder{'s' if damaged > 1 else ''}: see above; "
                      "the other runs are listed as usual)", file=sys.stderr)
            return 0
        if args.action == "show":
            record = runlog.load_run(args.ids[0], args.root)
            print(runlog.to_json(record) if args.json else runlog.format_run(record))
            return 0
        comparison = runlog.compare_runs(args.ids, args.root)
        print(runlog.to_json(comparison) if args.json else runlog.format_comparison(comparison))
        return 0
    except runlog.RunNotFound as error:
        print(f"{PROG} runs: {error}", file=sys.stderr)
        return 2
    except runlog.DamagedRun as error:
        print(f"{PROG} runs: {error}", file=sys.stderr)
        return 3


# --------------------------------------------------------------------------
# minnet doctor and minnet tour: cli_debug.py does the work; these check the arguments
# first and load the user's setup script with clear errors.
# --------------------------------------------------------------------------
DOCTOR_EXIT_CODES = ("exit codes: 0 the report has no error findings; 1 it has some; 2 a bad "
                     "option or not a setup script (unknown scenario, missing file, not a .py "
                     "file, no setup() function, --out not a folder); 3 the setup script "
                     "failed (a syntax error, it raised, setup() returned something else, "
                     "or its data were refused)")


class SetupScriptError(Exception):
    """The user's setup script could not be loaded or its setup() failed.

    ``exit_code``: 2 when the file is not a setup script at all (a usage error), 3 when
    it is one that fails."""

    def __init__(self, message: str, exit_code: int = 3):
        super().__init__(message)
        self.exit_code = exit_code


def _user_frames(error: BaseException, path: str) -> str:
    """The traceback lines from the user's own file (minnet's frames are not theirs)."""
    import traceback

    path = os.path.realpath(path)
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if os.path.realpath(frame.filename) == path]
    return "".join(traceback.format_list(frames)).rstrip()


def load_setup_script(path: str):
    """Import ``path`` and call its ``setup()``; returns a ``minnet.debug.Setup``.

    Raises FileNotFoundError for a missing file, `SetupScriptError` (one clear message,
    with the lines of the user's file the error came from) for everything else."""
    import importlib.util

    from .debug.setup import Setup

    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file {path!r}")
    if os.path.isdir(path):
        raise SetupScriptError(f"{path!r} is a folder; give the Python file whose setup() "
                               "returns a minnet.debug.Setup", exit_code=2)
    if not path.endswith(".py"):
        raise SetupScriptError(f"{path!r} is not a Python file (.py). Hint: write a script "
                               "with def setup(): return minnet.debug.Setup(model, loss_fn, "
                               "optimizer, (X, y)) -- or try 'minnet doctor --scenario "
                               "dying_relu'", exit_code=2)
    spec = importlib.util.spec_from_file_location("minnet_user_setup", path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        raise SetupScriptError(f"{path}, line {error.lineno}: {error.msg}"
                               + (f"\n    {error.text.rstrip()}" if error.text else "")) from None
    except (Exception, SystemExit) as error:
        where = _user_frames(error, path)
        raise SetupScriptError(f"running {path} raised {type(error).__name__}: {error}"
                               + (f"\n{where}" if where else "")) from None
    finally:
        sys.path.pop(0)
    make = getattr(module, "setup", None)
    if not callable(make):
        raise SetupScriptError(f"{path} defines no setup() function. Hint: def setup(): return "
                               "minnet.debug.Setup(model, loss_fn, optimizer, (X, y))",
                               exit_code=2)
    try:
        made = make()
    except (Exception, SystemExit) as error:
        where = _user_frames(error, path)
        raise SetupScriptError(f"setup() in {path} raised {type(error).__name__}: {error}"
                               + (f"\n{where}" if where else "")) from None
    try:
        if isinstance(made, Setup):
            return made
        if isinstance(made, dict):
            return Setup(**made)
        if isinstance(made, (tuple, list)) and len(made) in (4, 5):
            return Setup(*made)
    except (TypeError, ValueError) as error:
        raise SetupScriptError(f"{path}'s setup() returned what is not a valid Setup: "
                               f"{error}") from None
    raise SetupScriptError(f"{path}'s setup() returned {type(made).__name__}; expected a "
                           "Setup, a dict of its fields, or (model, loss_fn, optimizer, "
                           "train_data[, val_data])")


def add_doctor_arguments(parser: argparse.ArgumentParser) -> None:
    cli_debug.add_doctor_arguments(parser)
    parser.epilog = DOCTOR_EXIT_CODES


def run_doctor(args: argparse.Namespace) -> int:
    if args.steps is not None and args.steps < 1:
        return usage_error(args, f"--steps must be a whole number > 0, got {args.steps}")
    if not args.scenario and not args.script:
        return usage_error(args, "give a script (its setup() returns a Setup) or --scenario "
                           "NAME; 'minnet scenarios' lists the scenarios")
    if not args.no_save:
        problem = output_folder_problem(args.out, "--out")
        if problem:
            return usage_error(args, problem)
    if args.record:
        problem = output_folder_problem("runs", "the run log folder")
        if problem:
            return usage_error(args, problem)
    if args.scenario:
        return cli_debug.run_doctor(args)
    try:
        setup = load_setup_script(args.script)
    except FileNotFoundError as error:
        return usage_error(args, str(error))
    except SetupScriptError as error:
        if error.exit_code == 2:
            return usage_error(args, str(error))
        print(f"{PROG} doctor: {error}", file=sys.stderr)
        return 3
    from .debug.diagnosis import diagnose_setup

    try:
        report = diagnose_setup(setup, steps=args.steps, verify_fixes=args.verify,
                                progress=None if args.json else cli_debug.progress)
    except (ValueError, TypeError) as error:  # the setup's data or settings were refused
        where = _user_frames(error, args.script)
        print(f"{PROG} doctor: {args.script}'s setup cannot be diagnosed: {error}"
              + (f"\n{where}" if where else ""), file=sys.stderr)
        return 3
    stem = os.path.splitext(os.path.basename(args.script))[0]
    saved = [] if args.no_save else cli_debug.save_report(report, args.out, stem)
    if args.record:
        from .runlog import record_diagnosis
        record_diagnosis(report, setup, stem)
    if args.json:
        print(report.to_json())
    else:
        print(report)
        for path in saved:
            print(f"saved {path}")
    return 1 if report.errors else 0


def add_tour_arguments(parser: argparse.ArgumentParser) -> None:
    cli_debug.add_tour_arguments(parser)


def run_tour(args: argparse.Namespace) -> int:
    if not args.scenarios:
        return usage_error(args, "--scenarios needs at least one name (leave it out for the "
                           f"tour's {len(cli_debug.TOUR_SCENARIOS)}); 'minnet scenarios' "
                           "lists them")
    if not args.json:
        problem = output_folder_problem(args.out, "--out")
        if problem:
            return usage_error(args, problem)
    return cli_debug.run_tour(args)


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
            add_tour_arguments, run_tour),
    Command("scenarios", "list the failure scenarios (or show one)",
            cli_debug.add_scenarios_arguments, cli_debug.run_scenarios),
    Command("doctor", "diagnose a scenario (broken vs fixed) or your script's setup()",
            add_doctor_arguments, run_doctor),
    Command("runs", "list, show and compare recorded runs (the run log)",
            add_runs_arguments, run_runs),
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
        sub.set_defaults(run=command.run, parser=sub)
    return parser


def main(argv: Optional[list] = None) -> int:
    """Run the command line; returns the exit code (argparse's usage errors: 2)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, --version (0) or a usage error (2)
        return done.code if isinstance(done.code, int) else 2
    if getattr(args, "run", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except MemoryError:  # e.g. --hidden 1000000000 or doctor --steps 10**12
        print(f"{PROG} {args.command}: out of memory. Hint: a smaller model, batch or step "
              "count (the options given: " + " ".join(sys.argv[1:] if argv is None else argv)
              + ")", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `minnet scenarios | head`: the reader left, not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so Python's exit flush doesn't raise again
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
