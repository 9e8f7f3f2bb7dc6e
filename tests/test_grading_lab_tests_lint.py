"""Patterns in the labs' graded tests that let a student's value skip a check (read, not run)."""
import ast
import glob
import os

import pytest

LABS = os.path.join(os.path.dirname(__file__), os.pardir, "labs")
# the names the lab tests give the student's sandboxed module
STUDENT_MODULES = {"lab", "mine", "ops", "layers", "module"}


def lab_test_files():
    files = (glob.glob(os.path.join(LABS, "[0-9]*", "test_*.py"))
             + glob.glob(os.path.join(LABS, "source", "[0-9]*", "test_hidden_*.py")))
    assert len(files) >= 12
    return sorted(files)


def calls_the_student(node) -> bool:
    """``mine.f(...)`` (or ``lab.``, ``ops.``...) anywhere inside ``node``."""
    return any(isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute)
               and isinstance(inner.func.value, ast.Name)
               and inner.func.value.id in STUDENT_MODULES for inner in ast.walk(node))


def test_no_lab_test_zips_over_what_the_students_code_returned():
    """``for got, want in zip(mine.f(x), ref.f(x))`` checks nothing when ``mine.f`` returns an
    empty tuple: zip stops at the shortest. Lab 08's fit_standardizer and lab 12's
    compose_linear scored a part each that way (returning () for any input but the literal
    one). Unpack the student's value, or check its length, before zipping."""
    found = []
    for path in lab_test_files():
        with open(path, encoding="utf-8") as file:
            tree = ast.parse(file.read())
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "zip" and any(calls_the_student(arg)
                                                      for arg in node.args)):
                found.append(f"{os.path.relpath(path, LABS)}:{node.lineno}")
    assert not found, f"zip over a student's result (unpack it first): {found}"


@pytest.mark.filterwarnings("ignore::pytest.PytestUnknownMarkWarning")  # the lab's markers
def test_lab10_overfit_one_batch_must_get_there_by_adam():
    """A review's overfit_one_batch set the last layer by least squares (the batch memorised,
    no training) and scored the two 'loss below 0.01' parts: they now check that the model
    ended where Adam takes it (expect_trained_by_adam in lab 10's test)."""
    import copy
    import importlib.util

    import numpy as np

    from minnet import Tensor, nn, no_grad
    from minnet.grading import LabFailure

    spec = importlib.util.spec_from_file_location(
        "lab10_test_for_lint", os.path.join(LABS, "10_overfit_regularize", "test_regularize.py"))
    lab10 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lab10)
    X, y = lab10.random_batch(3)
    generator = np.random.default_rng(4)
    model = nn.Sequential(nn.Linear(13, 37, generator=generator), nn.ReLU(),
                          nn.Linear(37, 5, generator=generator))
    start, trained = copy.deepcopy(model), []
    lab10.adam_losses(model, X, y, steps=150, lr=2e-2, trained=trained)
    lab10.expect_trained_by_adam(copy.deepcopy(trained[0]), trained[0], start, "honest")
    memorised = copy.deepcopy(start)
    with no_grad():
        hidden = memorised[1](memorised[0](Tensor(X))).numpy().astype(np.float64)
        design = np.concatenate([hidden, np.ones((len(y), 1))], axis=1)
        solution, *_ = np.linalg.lstsq(design, 30.0 * np.eye(5)[y], rcond=None)
        memorised[2].weight.copy_(solution[:-1].T.astype(np.float32))
        memorised[2].bias.copy_(solution[-1].astype(np.float32))
    assert lab10.loss_of(memorised, X, y) < lab10.OVERFIT_LOSS      # it does reach the bar
    with pytest.raises(LabFailure, match="where full-batch Adam"):
        lab10.expect_trained_by_adam(memorised, trained[0], start, "least squares")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnknownMarkWarning")  # the lab's markers
def test_lab05_same_preprocessing_refuses_non_finite_inputs():
    """A NaN made every comparison of lab 05's column check False, so a column holding one let
    any validation values through (validation images replaced by class means passed)."""
    import importlib.util

    import numpy as np

    spec = importlib.util.spec_from_file_location(
        "lab05_test_for_lint",
        os.path.join(LABS, "05_activations", "test_activation_health.py"))
    lab05 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lab05)
    rng = np.random.default_rng(0)
    raw_train, raw_val = rng.normal(3.0, 2.0, (40, 3)), rng.normal(3.0, 2.0, (10, 3))
    mean, std = raw_train.mean(axis=0), raw_train.std(axis=0)
    train, val = (raw_train - mean) / std, (raw_val - mean) / std
    assert lab05.same_preprocessing(raw_train, raw_val, train, val)
    forged = np.full_like(val, 5.0)
    forged[0] = np.nan
    assert not lab05.same_preprocessing(raw_train, raw_val, train, forged)
