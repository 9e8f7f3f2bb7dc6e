"""Hidden tests of lab 10 (used by `minnet grade` only): the one-batch loop, evaluation and
baselines on other models, shapes and seeds than the public tests, against the reference."""
import numpy as np
import pytest

from minnet import nn
from minnet.grading import expect, expect_close, reference
from minnet.grading.sandbox import sandboxed


# the functions whose contract is to change their arguments (a model, an optimizer, a state):
# only their changes reach the test's objects; every other function works on copies
MUTATES = ("overfit_one_batch", "evaluate")

# what the student's file may import (the README says so)
STUDENT_IMPORTS = ("numpy", "minnet", "math", "warnings", "copy", "collections")


def load():
    return (sandboxed(__file__, "regularize", allowed_imports=STUDENT_IMPORTS,
                      mutates=MUTATES),
            reference(__file__, "regularize"))


@pytest.mark.points(3)
def test_hidden_overfit_tools_other_inputs(credit):
    mine, ref = load()
    rng = np.random.default_rng(10010)
    X = rng.standard_normal((7, 3)).astype(np.float32)
    y = np.array([0, 3, 1, 3, 2, 0, 3])
    with credit.part(1, "overfit_one_batch: 25 Adam steps (lr 0.05) on a 3-5-4 net, the same "
                        "losses and parameters as the reference"):
        runs = []
        for module in (mine, ref):
            generator = np.random.default_rng(21)
            model = nn.Sequential(nn.Linear(3, 5, generator=generator), nn.Tanh(),
                                  nn.Linear(5, 4, generator=generator))
            losses = module.overfit_one_batch(model, nn.CrossEntropyLoss(), X, y, steps=25,
                                              lr=0.05)
            runs.append((np.asarray([float(v) for v in losses]),
                         [p.numpy().copy() for p in model.parameters()]))
        (got_losses, got_params), (want_losses, want_params) = runs
        expect(got_losses.shape == want_losses.shape,
               f"overfit_one_batch(steps=25) returned {len(got_losses)} losses, expected 25")
        expect_close("the 25 recorded losses", got_losses, want_losses, rtol=1e-4, atol=1e-6)
        for index, (got, want) in enumerate(zip(got_params, want_params)):
            expect_close(f"parameter {index} after training", got, want, rtol=1e-4, atol=1e-6)
    with credit.part(1, "evaluate on a dropout net in eval mode and in training mode"):
        generator = np.random.default_rng(22)
        model = nn.Sequential(nn.Linear(3, 9, generator=generator), nn.ReLU(), nn.Dropout(0.5),
                              nn.Linear(9, 4, generator=generator))
        for training in (True, False):
            model.train(training)
            got = mine.evaluate(model, X, y)
            expect(model.training == training,
                   f"evaluate changed the model's mode (it was {'training' if training else 'eval'})")
            model.train(training)
            expect_close(f"evaluate(model in {'training' if training else 'eval'} mode)",
                         float(got), ref.evaluate(model, X, y), rtol=1e-9)
    with credit.part(1, "majority_baseline and linear_baseline on a 4-class problem (seed 5)"):
        y_train, y_val = rng.integers(0, 4, 40), rng.integers(0, 4, 19)
        y_train[:15] = 2
        expect_close("majority_baseline", mine.majority_baseline(y_train, y_val),
                     ref.majority_baseline(y_train, y_val))
        X_train = (rng.standard_normal((40, 6)) + y_train[:, None]).astype(np.float32)
        X_val = (rng.standard_normal((19, 6)) + y_val[:, None]).astype(np.float32)
        expect_close("linear_baseline(steps=60, seed=5)",
                     mine.linear_baseline(X_train, y_train, X_val, y_val, steps=60, seed=5),
                     ref.linear_baseline(X_train, y_train, X_val, y_val, steps=60, seed=5))
