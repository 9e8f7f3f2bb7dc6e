"""minnet labs release --to DIR: a student repository that grades without labs/source/.

The unit tests cover minnet/grading/recorded.py (digests, results as data, replay);
the round trip releases the course's real labs to a temporary folder, checks that no
solution, mutant or hidden test is in it, and grades it twice with `pytest labs/`:
the released files score 0, the solutions' student files dropped in score full marks.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minnet
from minnet import nn
from minnet.grading import LabFailure, loading
from minnet.grading import recorded
from minnet.grading.release import (all_labs, release_text, release_to, solution_text, student_files,
                                    student_release_leaks)

REPO = Path(__file__).resolve().parents[1]
LABS = REPO / "labs"

SOURCE = '''import numpy as np


def affine_forward(x, w, b):
    ### BEGIN SOLUTION
    out = x @ w + b
    ### END SOLUTION
    return out, (x, w, b)


def scaled(x, w, b, factor):
    """A helper: released as it is."""
    return factor * affine_forward(x, w, b)[0]


def make_run():
    ### BEGIN SOLUTION
    lr = 0.01
    ### RELEASE AS
    # lr = 10.0
    ### END SOLUTION
    return dict(lr=lr, steps=100)
'''


# --------------------------------------------------------------------------
# recorded.py
# --------------------------------------------------------------------------
def test_solution_kinds_tell_solutions_from_planted_failures():
    assert recorded.solution_kinds(SOURCE) == {"affine_forward": "solution",
                                               "make_run": "planted"}


def test_digest_is_exact_and_canonical():
    x = np.arange(6.0).reshape(2, 3)
    assert recorded.digest(x) == recorded.digest(x.copy()) == recorded.digest(np.asfortranarray(x))
    assert recorded.digest(x) != recorded.digest(x.astype(np.float32))
    assert recorded.digest(x) != recorded.digest(x.reshape(3, 2))
    y = x.copy()
    y[0, 0] = np.nextafter(0.0, 1.0)
    assert recorded.digest(x) != recorded.digest(y)
    assert recorded.digest(1) != recorded.digest(1.0) != recorded.digest(np.float64(1.0))
    assert recorded.call_key((x,), {"a": 1, "b": 2}) == recorded.call_key((x,), {"b": 2, "a": 1})
    # a file in the temporary folder is keyed by its name (pytest's tmp_path differs per run)
    import tempfile
    first = os.path.join(tempfile.gettempdir(), "pytest-1", "test_a0", "figure.png")
    second = os.path.join(tempfile.gettempdir(), "pytest-7", "test_a0", "figure.png")
    assert recorded.digest(first) == recorded.digest(second)
    assert recorded.digest("/home/me/figure.png") != recorded.digest(first)


def test_digest_of_modules_and_tensors_sees_weights_grads_and_classes():
    minnet.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    before = recorded.digest(model)
    model[0].weight.data[0, 0] += 1.0
    assert recorded.digest(model) != before
    other = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    other.load_state_dict(model.state_dict())
    assert recorded.digest(other) != recorded.digest(model)
    t = minnet.tensor(np.ones(3), requires_grad=True)
    plain = recorded.digest(t)
    (t * 2).sum().backward()
    assert recorded.digest(t) != plain


def test_results_round_trip_as_data():
    minnet.manual_seed(1)
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    t = minnet.tensor(np.arange(3.0), requires_grad=True)
    t.grad = minnet.tensor(np.ones(3))
    value = {"a": [np.float32(1.5), 2, 3.25, "text", None, True], (1, 2): (np.eye(2), t),
             "model": model, "same": model, "dtype": np.dtype("int16"),
             "callable": minnet.nn.functional.relu}
    data = json.loads(json.dumps(recorded._Encoder({})(value)))
    back = recorded._Decoder({})(data)
    assert back["a"] == [1.5, 2, 3.25, "text", None, True]
    assert type(back["a"][0]) is np.float32 and type(back["a"][2]) is float
    assert np.array_equal(back[(1, 2)][0], np.eye(2))
    assert np.array_equal(back[(1, 2)][1].numpy(), t.numpy()) and back[(1, 2)][1].requires_grad
    assert np.array_equal(back[(1, 2)][1].grad.numpy(), np.ones(3))
    assert back["model"] is back["same"] and type(back["model"][0]) is nn.Linear
    x = np.arange(4.0, dtype=np.float32).reshape(2, 2)
    assert np.array_equal(back["model"](minnet.tensor(x)).numpy(), model(minnet.tensor(x)).numpy())
    assert back["dtype"] == np.int16 and back["callable"] is minnet.nn.functional.relu
    # the argument a function returns is given back as that argument
    argument = np.zeros(2)
    assert recorded._Decoder({"0": argument})(recorded._Encoder({"0": argument})(argument)) \
        is argument


def test_code_is_not_recorded():
    def local():
        return 1
    for value in (local, lambda: 2, object(), (i for i in range(2))):
        with pytest.raises(recorded.Unrecordable):
            recorded._Encoder({})(value)


def _replaying_module(calls):
    released = {"released": release_text(SOURCE),
                "kinds": recorded.solution_kinds(SOURCE), "calls": calls}
    return loading._load_replaying("01_toy", "layers", released)


def test_replay_gives_recorded_results_and_names_unrecorded_calls(tmp_path):
    x, w, b = np.ones((2, 3)), np.ones((3, 4)), np.arange(4.0)
    key = recorded.call_key((x, w, b), {})
    out = x @ w + b
    calls = {"affine_forward": {key: {"result": recorded._Encoder(
        {"0": x, "1": w, "2": b})((out, (x, w, b)))}}}
    ref = _replaying_module(calls)
    got, cache = ref.affine_forward(x, w, b)
    assert np.array_equal(got, out) and cache[0] is x
    assert np.array_equal(ref.scaled(x, w, b, 2.0), 2 * out)   # the helper runs, replays inside
    assert ref.make_run() == {"lr": 10.0, "steps": 100}          # a planted failure: as released
    with pytest.raises(LabFailure, match=r"affine_forward\(\.\.\.\) for these arguments was not "
                                         r"recorded.*instructor's grader"):
        ref.affine_forward(x, w, b + 1)


def test_recording_writes_solution_calls_only(tmp_path):
    import types
    module = types.ModuleType("toy_reference")
    exec(compile(solution_text(SOURCE), "toy.py", "exec"), module.__dict__)
    recorded.record_module(module, "01_toy", "layers", SOURCE, tmp_path)
    x, w, b = np.ones((2, 3)), np.ones((3, 4)), np.zeros(4)
    module.scaled(x, w, b, 3.0)
    assert module.make_run()["lr"] == 0.01
    content, unrecordable, derived = recorded.collect(tmp_path, "01_toy",
                                                      {"layers": (SOURCE, "text")})
    calls = content["files"]["layers"]["calls"]
    assert list(calls) == ["affine_forward"] and not unrecordable   # no helper, no repair
    assert "0.01" not in json.dumps(content)


# --------------------------------------------------------------------------
# the round trip on the course's labs
# --------------------------------------------------------------------------
KNOWN_STUDENT_DERIVED = {
    ("04_init", "initialisation", "activation_stds"),    # of the student's init_weights_ net
    ("08_data", "data_pipeline", "majority_baseline"),    # of the student's pipeline's labels
}


def _grade(folder: Path, name: str):
    """Start `pytest labs/` in ``folder`` writing results.json; returns the process."""
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "labs",
         "--grade-json", str(folder / name)],
        cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def student_repository(tmp_path_factory):
    root = tmp_path_factory.mktemp("release")
    result = release_to(LABS, root / "released")
    assert result.recording_ok, result.recording_output
    return result


@pytest.mark.slow  # grades every lab twice in subprocesses: ~2.5 min of CPU
def test_student_repository_round_trip(student_repository, tmp_path):
    released = student_repository.destination
    assert (released / "README.md").is_file() and (released / "labs" / "conftest.py").is_file()
    assert not (released / "labs" / "source").exists()
    assert student_release_leaks(LABS, released) == []
    assert not student_repository.unrecordable
    # reference calls given what the student's code made: replayed for the solution's own
    # answer only (a correct but different repair fails them in a student repository); these
    # tests should grade with a helper of their own instead (docs/instructors.md, section 2)
    assert set(student_repository.student_derived) <= KNOWN_STUDENT_DERIVED
    solved = tmp_path / "solved"
    import shutil
    shutil.copytree(released, solved)
    for lab in all_labs(LABS):
        for name in student_files(LABS, lab):
            source = (LABS / "source" / lab / name).read_text(encoding="utf-8")
            (solved / "labs" / lab / name).write_text(solution_text(source), encoding="utf-8")
    assert student_release_leaks(LABS, solved) != []   # the leak check sees solutions
    runs = [_grade(released, "stubs.json"), _grade(solved, "solved.json")]
    outputs = [run.communicate()[0] for run in runs]
    stubs = json.loads((released / "stubs.json").read_text())
    full = json.loads((solved / "solved.json").read_text())
    assert stubs["max_score"] == full["max_score"] > 0
    assert full["score"] == full["max_score"], outputs[1][-5000:]
    # the released files score what they score in the full repository: 0, unless a lab's test
    # gives a planted failure partial credit (minnet labs check lists those as notes)
    earned = {test["name"]: test["score"] for test in stubs["tests"] if test["score"]}
    assert earned == _scores_here(earned, tmp_path), outputs[0][-3000:]


def _scores_here(names, tmp_path) -> dict:
    """The points of the tests ``names`` ('09_optim: test_x') graded in this repository's
    labs/ (its released files: the same stubs)."""
    if not names:
        return {}
    ids = []
    for name in names:
        lab, test = name.split(": ")
        ids += [f"labs/{lab}/{path.name}::{test}" for path in (LABS / lab).glob("test_*.py")
                if f"def {test}(" in path.read_text(encoding="utf-8")]
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *ids,
                    "--grade-json", str(tmp_path / "here.json")],
                   cwd=REPO, capture_output=True, text=True)
    here = json.loads((tmp_path / "here.json").read_text())
    return {test["name"]: test["score"] for test in here["tests"] if test["score"]}
