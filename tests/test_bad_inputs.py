"""The table of bad inputs tried on saving/loading, the run log, the training loop,
gradcheck and the command line, with the error each gives (issue 12).

Each row is (what was tried, how, the exception class or exit code expected, a fragment
of the message). The tests check that every row still gives exactly that: one clear
error naming what is wrong, never a traceback from inside minnet, a hang or a wrong
result.
"""
import io
import os

import numpy as np
import pytest

import minnet
from minnet import Tensor, cli, nn
from minnet.gradcheck import (GradcheckError, check_backward, gradcheck, numerical_gradient)
from minnet.runlog import DamagedRun, RunLog, RunNotFound, compare_runs, load_run
from minnet.serialization import load, save
from minnet.train import confusion_matrix, digits_experiment, evaluate, fit


@pytest.fixture
def place(tmp_path):
    """A folder with the files the rows need: good, damaged, a folder, a plain file."""
    save({"w": Tensor(np.arange(200.0))}, tmp_path / "good.npz")
    good = (tmp_path / "good.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(good[:len(good) // 2])
    (tmp_path / "empty.npz").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not an archive\n")
    np.save(tmp_path / "one.npy", np.zeros(3))
    buffer = io.BytesIO()
    np.savez(buffer, w=np.ones(2), __minnet_layout__=np.array("{bad json"))
    (tmp_path / "badlayout.npz").write_bytes(buffer.getvalue())
    (tmp_path / "afolder").mkdir()
    (tmp_path / "afile").write_text("x")
    runs = tmp_path / "runs"
    for name in ("lr_too_high-broken", "lr_too_high-fixed"):
        with RunLog.start(name, root=str(runs)) as run:
            run.log_step(0, loss=1.0)
    (runs / "20250101-000000-damaged").mkdir()
    (runs / "20250101-000000-damaged" / "run.json").write_text('{"id": "20250101-0000')
    (tmp_path / "syntax.py").write_text("def setup(:\n")
    (tmp_path / "raises.py").write_text("def setup():\n    raise ValueError('no data')\n")
    (tmp_path / "mismatch.py").write_text(
        "import numpy as np\nfrom minnet import nn, optim\nfrom minnet.debug import Setup\n"
        "def setup():\n    model = nn.Linear(2, 2)\n"
        "    return Setup(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),"
        " (np.zeros((64, 2), np.float32), np.zeros(10, np.int64)), steps=5)\n")
    return tmp_path


def self_containing():
    state = {"a": np.ones(1)}
    state["me"] = state
    return state


def square_forward(x):
    return x * x, x


# (what, call(place), exception, message fragment)
API_ROWS = [
    # -- loading ----------------------------------------------------------------------------
    ("load a missing file", lambda p: load(p / "missing.npz"), FileNotFoundError,
     "missing.npz"),
    ("load a folder", lambda p: load(p / "afolder"), IsADirectoryError, "is a folder"),
    ("load an empty file", lambda p: load(p / "empty.npz"), ValueError, "is empty"),
    ("load half a file (full disk, broken download)", lambda p: load(p / "cut.npz"),
     ValueError, "cut.npz' is damaged"),
    ("load a text file", lambda p: load(p / "notes.txt"), ValueError, "not a zip archive"),
    ("load a .npy (one array)", lambda p: load(p / "one.npy"), ValueError, "single array"),
    ("load a file whose layout entry is damaged", lambda p: load(p / "badlayout.npz"),
     ValueError, "layout entry is not valid JSON"),
    ("load(None)", lambda p: load(None), TypeError, "expected a file path"),
    ("load(map_location='cuda')", lambda p: load(p / "good.npz", map_location="cuda"),
     RuntimeError, "CPU only"),
    # -- saving -----------------------------------------------------------------------------
    ("load_state_dict('file.npz') (a path, not a state dict)",
     lambda p: nn.Linear(2, 2).load_state_dict(str(p / "good.npz")), TypeError,
     "minnet.load(path)"),
    ("save the model instead of its state_dict",
     lambda p: save(nn.Linear(2, 2), p / "m.npz"), TypeError, "save model.state_dict()"),
    ("save an object array", lambda p: save({"a": np.array([1, "x"], dtype=object)},
                                            p / "m.npz"), TypeError, "object array"),
    ("save a key with '/'", lambda p: save({"a/b": np.ones(1)}, p / "m.npz"), ValueError,
     "must not contain"),
    ("save a function", lambda p: save({"f": print}, p / "m.npz"), TypeError, "cannot save"),
    ("save a dict that contains itself", lambda p: save(self_containing(), p / "m.npz"),
     ValueError, "contains itself"),
    ("save to None", lambda p: save({"a": np.ones(1)}, None), TypeError,
     "expected a file path"),
    ("save to ''", lambda p: save({"a": np.ones(1)}, ""), ValueError, "path is empty"),
    ("save over a folder", lambda p: save({"a": np.ones(1)}, p / "afolder"),
     IsADirectoryError, "is a folder"),
    ("save below a file", lambda p: save({"a": np.ones(1)}, p / "afile" / "m.npz"),
     NotADirectoryError, "is a file, not a folder"),
    # -- the run log --------------------------------------------------------------------------
    ("RunLog.start(config=[...])", lambda p: RunLog.start("x", config=[1], root=str(p)),
     TypeError, "config must be a dict"),
    ("RunLog.start(root=<a file>)", lambda p: RunLog.start("x", root=str(p / "afile")),
     NotADirectoryError, "is a file"),
    ("RunLog.start(root=None)", lambda p: RunLog.start("x", root=None), TypeError,
     "root must be a folder path"),
    ("log_step(loss='high')", lambda p: RunLog.start("x", root=str(p / "r")).log_step(
        0, loss="high"), TypeError, "metric 'loss' must be a number"),
    ("log_step(1.5, ...)", lambda p: RunLog.start("x", root=str(p / "r")).log_step(
        1.5, loss=1.0), TypeError, "step must be an integer"),
    ("load_run of an unknown id", lambda p: load_run("nothing", str(p / "runs")),
     RunNotFound, "no run 'nothing'"),
    ("load_run of a prefix of two runs", lambda p: load_run("lr_too", str(p / "runs")),
     RunNotFound, "matches 2 runs"),
    ("load_run('../x')", lambda p: load_run("../x", str(p / "runs")), RunNotFound,
     "is not a run id"),
    ("load_run of a run with a cut run.json", lambda p: load_run("damaged", str(p / "runs")),
     DamagedRun, "run.json is not valid JSON"),
    ("list_runs(root=None)", lambda p: __import__("minnet.runlog").runlog.list_runs(None),
     TypeError, "root must be the run log's folder path"),
    ("compare_runs('one-id')", lambda p: compare_runs("abc", str(p / "runs")), TypeError,
     "give a list of run ids"),
    # -- the training loop -------------------------------------------------------------------
    ("fit(epochs=-1)", lambda p: fit(nn.Linear(2, 2), [], nn.MSELoss(), None, -1),
     ValueError, "epochs must be a non-negative integer"),
    ("fit(loader=None)", lambda p: fit(nn.Linear(2, 2), None, nn.MSELoss(), None, 1),
     TypeError, "loader must yield"),
    ("evaluate on 0 samples", lambda p: evaluate(nn.Linear(2, 2), np.zeros((0, 2)),
                                                 np.zeros(0, np.int64)), ValueError,
     "has no samples"),
    ("evaluate with X and y of different lengths",
     lambda p: evaluate(nn.Linear(2, 2), np.zeros((4, 2)), np.zeros(3, np.int64)),
     ValueError, "4 samples but y has 3"),
    ("evaluate(batch_size=-1)", lambda p: evaluate(nn.Linear(2, 2), np.zeros((4, 2)),
                                                   np.zeros(4, np.int64), batch_size=-1),
     ValueError, "batch_size must be a positive integer"),
    ("confusion_matrix with a label -1", lambda p: confusion_matrix([-1, 0], [0, 1]),
     ValueError, "labels must be >= 0"),
    ("confusion_matrix with a label >= num_classes",
     lambda p: confusion_matrix([5, 0], [0, 1], num_classes=2), ValueError,
     "does not fit num_classes=2"),
    ("digits_experiment(hidden=0)", lambda p: digits_experiment(hidden=0), ValueError,
     "hidden must be a positive integer"),
    ("digits_experiment(lr=inf)", lambda p: digits_experiment(lr=float("inf")), ValueError,
     "lr must be a finite number > 0"),
    ("digits_experiment(seed=-3)", lambda p: digits_experiment(seed=-3), ValueError,
     "seed must be an integer >= 0"),
    ("digits_experiment(test_size=1.5)", lambda p: digits_experiment(test_size=1.5),
     ValueError, "test_size must be a fraction"),
    # -- gradcheck ---------------------------------------------------------------------------
    ("gradcheck(3, ...)", lambda p: gradcheck(3, [minnet.randn(2, requires_grad=True)]),
     GradcheckError, "fn must be a function or a Module"),
    ("gradcheck(eps=0) (used to PASS)", lambda p: gradcheck(
        lambda t: t.sum(), [minnet.randn(2, dtype=np.float64, requires_grad=True)], eps=0),
     GradcheckError, "eps must be a finite number > 0"),
    ("gradcheck(eps=nan) (used to PASS)", lambda p: gradcheck(
        lambda t: t.sum(), [minnet.randn(2, dtype=np.float64, requires_grad=True)],
        eps=float("nan")), GradcheckError, "eps must be a finite number > 0"),
    ("gradcheck(rtol=-1)", lambda p: gradcheck(
        lambda t: t.sum(), [minnet.randn(2, dtype=np.float64, requires_grad=True)], rtol=-1),
     GradcheckError, "rtol must be a finite number >= 0"),
    ("gradcheck(n_samples=0)", lambda p: gradcheck(
        lambda t: t.sum(), [minnet.randn(2, dtype=np.float64, requires_grad=True)],
        n_samples=0), GradcheckError, "n_samples must be a positive integer"),
    ("gradcheck on a NumPy array", lambda p: gradcheck(lambda t: t.sum(), np.ones(2)),
     GradcheckError, "inputs must be Tensors"),
    ("gradcheck with nothing requiring grad", lambda p: gradcheck(
        lambda t: t.sum(), [Tensor(np.ones(2))]), GradcheckError, "nothing to check"),
    ("check_backward without inputs", lambda p: check_backward(square_forward, print),
     GradcheckError, "pass the forward's inputs"),
    ("check_backward(backward=None)", lambda p: check_backward(square_forward, None,
                                                               np.ones(2)),
     GradcheckError, "backward must be a function"),
    ("gradcheck(inputs=None)", lambda p: gradcheck(lambda t: t.sum(), None), GradcheckError,
     "inputs must be a Tensor or a tuple/list"),
    ("gradcheck where the function is NaN (log of -1; used to PASS)", lambda p: gradcheck(
        lambda t: t.log().sum(), [Tensor(np.array([-1.0, 2.0]), requires_grad=True)]),
     GradcheckError, "output at the given inputs holds NaN or inf"),
    ("gradcheck of an empty input (was an 'internal error')", lambda p: gradcheck(
        lambda t: t.sum(), [Tensor(np.zeros(0), requires_grad=True)]), GradcheckError,
     "is empty"),
    ("gradcheck(seed='a')", lambda p: gradcheck(
        lambda t: t.sum(), [minnet.randn(2, dtype=np.float64, requires_grad=True)], seed="a"),
     GradcheckError, "seed must be an integer >= 0"),
    ("numerical_gradient of an int array", lambda p: numerical_gradient(
        lambda x: x.sum(), np.array([1, 2])), TypeError, "floating-point"),
    ("numerical_gradient(eps=0)", lambda p: numerical_gradient(
        lambda x: x.sum(), np.ones(2), eps=0), ValueError, "eps must be a finite number > 0"),
]

@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's own word on log(-1) etc.
@pytest.mark.parametrize("what, call, error, fragment", API_ROWS, ids=[r[0] for r in API_ROWS])
def test_bad_api_input_gives_one_clear_error(place, what, call, error, fragment):
    with pytest.raises(error) as caught:
        call(place)
    assert type(caught.value).__module__.split(".")[0] in ("builtins", "minnet"), what
    assert fragment in str(caught.value), (what, str(caught.value))
    chained = caught.value.__cause__ or (None if caught.value.__suppress_context__
                                         else caught.value.__context__)
    assert chained is None, f"{what}: a chained traceback ({chained!r})"


# (what, argv (with {p} for the test's folder), exit code, stderr fragment)
CLI_ROWS = [
    ("unknown command", ["fly"], 2, "invalid choice"),
    ("train --seed -3", ["train", "--seed", "-3"], 2, "--seed: must be a whole number >= 0"),
    ("train --lr inf", ["train", "--lr", "inf"], 2, "--lr: must be a finite number > 0"),
    ("train --lr nan", ["train", "--lr", "nan"], 2, "--lr: must be a finite number > 0"),
    ("train --epochs 0", ["train", "--epochs", "0"], 2, "--epochs: must be a whole number > 0"),
    ("train --hidden abc", ["train", "--hidden", "abc"], 2, "--hidden: must be a whole number"),
    ("train --batch-size -1", ["train", "--batch-size", "-1"], 2, "--batch-size: must be"),
    ("train --save an existing file", ["train", "--save", "{p}/good.npz"], 2,
     "exists; add --overwrite"),
    ("train --save a folder", ["train", "--save", "{p}/afolder"], 2, "is a folder"),
    ("train --save ''", ["train", "--save="], 2, "needs a file name"),
    ("train --plot x.txt", ["train", "--plot", "{p}/x.txt"], 2, "must end in .png"),
    ("train --record <a file>", ["train", "--record", "{p}/afile"], 2, "is a file"),
    ("runs list extra", ["runs", "list", "extra", "--root", "{p}/runs"], 2,
     "takes no run ids"),
    ("runs show (no id)", ["runs", "show", "--root", "{p}/runs"], 2, "takes one run id"),
    ("runs show a b", ["runs", "show", "a", "b", "--root", "{p}/runs"], 2,
     "takes one run id, got 2"),
    ("runs compare (one id)", ["runs", "compare", "fixed", "--root", "{p}/runs"], 2,
     "two or more run ids"),
    ("runs show <prefix of two runs>", ["runs", "show", "lr_too", "--root", "{p}/runs"], 2,
     "matches 2 runs"),
    ("runs show <unknown>", ["runs", "show", "zzz", "--root", "{p}/runs"], 2, "no run 'zzz'"),
    ("runs show <cut run.json>", ["runs", "show", "damaged", "--root", "{p}/runs"], 3,
     "run.json is not valid JSON"),
    ("runs --root <a file>", ["runs", "--root", "{p}/afile"], 2, "is a file"),
    ("tour --scenarios (no names)", ["tour", "--scenarios"], 2, "at least one name"),
    ("tour --scenarios nope", ["tour", "--scenarios", "nope"], 2, "unknown scenario"),
    ("tour --out <a file>", ["tour", "--out", "{p}/afile"], 2, "is a file, not a folder"),
    ("doctor (nothing)", ["doctor"], 2, "give a script"),
    ("doctor README.md", ["doctor", "{p}/notes.txt"], 2, "is not a Python file"),
    ("doctor missing.py", ["doctor", "{p}/missing.py"], 2, "no such file"),
    ("doctor <syntax error>", ["doctor", "{p}/syntax.py", "--no-save"], 3, "syntax.py, line 1"),
    ("doctor <setup() raises>", ["doctor", "{p}/raises.py", "--no-save"], 3,
     "setup() in"),
    ("doctor <X and y of different lengths>", ["doctor", "{p}/mismatch.py", "--no-save"], 3,
     "64 samples but y has 10"),
    ("doctor --out <a file>", ["doctor", "--scenario", "dying_relu", "--out", "{p}/afile"], 2,
     "is a file, not a folder"),
    ("doctor --steps 0", ["doctor", "--scenario", "dying_relu", "--steps", "0"], 2,
     "--steps must be"),
    ("doctor --scenario nope", ["doctor", "--scenario", "nope", "--no-save"], 2, "nope"),
    ("scenarios nope", ["scenarios", "nope"], 2, "nope"),
]


@pytest.mark.parametrize("what, argv, code, fragment", CLI_ROWS, ids=[r[0] for r in CLI_ROWS])
def test_bad_command_line_gives_a_clear_message_and_exit_code(place, capsys, what, argv, code,
                                                             fragment):
    argv = [arg.replace("{p}", str(place)) for arg in argv]
    assert cli.main(argv) == code, what
    err = capsys.readouterr().err
    assert fragment in err, (what, err)
    assert "Traceback" not in err, (what, err)
    assert not (place / "reports").exists() and not (place / "x.txt").exists()


def test_the_table_is_documented():
    """docs/saving.md points at this table; every row has a distinct name."""
    names = [row[0] for row in API_ROWS + CLI_ROWS]
    assert len(names) == len(set(names))
    docs = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs",
                        "saving.md")
    with open(docs, encoding="utf-8") as handle:
        assert "tests/test_bad_inputs.py" in handle.read()
