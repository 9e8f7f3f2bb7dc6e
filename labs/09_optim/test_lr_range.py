"""Graded tests of lab 09, part 2 (lr_range.py): the LR range test and the update ratio.

Literal examples come with twins on other, seeded inputs graded against the
reference solution, so only a working function scores.
"""
import copy

import numpy as np
import pytest

from minnet import nn, optim
from minnet.tensor import Tensor
from minnet.grading import expect, expect_close, reference
from minnet.grading.sandbox import sandboxed


# the functions whose contract is to change their arguments (a model, an optimizer, a state):
# only their changes reach the test's objects; every other function works on copies
MUTATES = {"sgd_step": None, "momentum_step": (2, "state"), "adam_step": (2, "state"),
           "train_step": None, "lr_range_test": None}  # None: the model-like arguments

# what the student's file may import (the README says so)
STUDENT_IMPORTS = ("numpy", "minnet", "math", "warnings", "copy", "collections")


def load():
    ref = reference(__file__, "lr_range")                # before the student's file
    return sandboxed(__file__, "lr_range", allowed_imports=STUDENT_IMPORTS,
                     mutates=MUTATES), ref



def small_problem(seed):
    """A seeded 3-class problem (61 points, 5 features) and a small ReLU network."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((61, 5)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1).astype(np.int64)
    generator = np.random.default_rng(seed + 1)
    model = nn.Sequential(nn.Linear(5, 13, generator=generator), nn.ReLU(),
                          nn.Linear(13, 3, generator=generator))
    return model, X, y


def constant_lr_losses(model, X, y, lr, steps):
    """The full-batch losses of ``steps`` plain SGD steps on a copy of ``model`` at a fixed
    ``lr``: what a range test records when its lr changes never reach the optimizer."""
    trial = copy.deepcopy(model)
    optimizer = optim.SGD(trial.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = nn.CrossEntropyLoss()(trial(Tensor(X)), Tensor(y))
        losses.append(float(loss.item()))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return np.array(losses)


@pytest.mark.points(2)
def test_lr_schedule(credit):
    mine, ref = load()
    with credit.part(1, "lr_schedule(1e-3, 10.0, 5) is 1e-3, 1e-2, 1e-1, 1, 10"):
        expect_close("lr_schedule(1e-3, 10.0, 5)", mine.lr_schedule(1e-3, 10.0, 5),
                     np.array([1e-3, 1e-2, 1e-1, 1.0, 10.0]))
        expect_close("lr_schedule(1e-2, 1e2, 5)", mine.lr_schedule(1e-2, 1e2, 5),  # the twin
                     ref.lr_schedule(1e-2, 1e2, 5))
    with credit.part(1, "lr_schedule(3e-6, 0.7, 23) matches the reference"):
        expect_close("lr_schedule(3e-6, 0.7, 23)", mine.lr_schedule(3e-6, 0.7, 23),
                     ref.lr_schedule(3e-6, 0.7, 23))


@pytest.mark.points(3)
def test_lr_range_test(credit):
    mine, ref = load()
    model, X, y = small_problem(5)
    before = [p.detach().numpy().copy() for p in model.parameters()]
    # the reference first, on the untouched model: a student's range test that trains the
    # caller's model changes it (lr_range_test is in MUTATES, so the change comes back)
    want_lrs, want_losses = ref.lr_range_test(model, nn.CrossEntropyLoss(), X, y,
                                              start_lr=1e-3, end_lr=50.0, num_steps=41)
    stuck = constant_lr_losses(model, X, y, lr=1e-3, steps=len(want_lrs))
    lrs, losses = mine.lr_range_test(model, nn.CrossEntropyLoss(), X, y, start_lr=1e-3,
                                     end_lr=50.0, num_steps=41)
    lr_unchanged = ""
    try:
        count = min(len(losses), len(stuck))
        stayed = count > 5 and np.allclose(np.asarray(losses[:count], np.float64),
                                           stuck[:count], rtol=1e-4, atol=1e-6)
    except (TypeError, ValueError):     # not a sequence of numbers: the parts below say so
        stayed = False
    if stayed:
        lr_unchanged = (" Your losses are those of a run whose lr stayed at start_lr: the "
                        "optimizer never used the new lrs. Set them with `for group in "
                        "optimizer.param_groups: group['lr'] = lr` (step() reads the groups; "
                        "an attribute optimizer.lr is not read).")
    with credit.part(1, "the model passed in is left unchanged (a copy is trained)"):
        changed = [i for i, (p, b) in enumerate(zip(model.parameters(), before))
                   if not np.array_equal(p.detach().numpy(), b)]
        expect(not changed, f"lr_range_test changed the caller's model (parameters {changed}): "
                            "train copy.deepcopy(model) instead.")
        expect(len(lrs) > 1 and len(losses) == len(lrs),
               f"lr_range_test returned {len(lrs)} learning rates and {len(losses)} losses: "
               "it should train (a copy) and record one loss per learning rate")
    with credit.part(1, "it stops where the loss diverges, like the reference"):
        expect(len(lrs) == len(want_lrs),
               f"lr_range_test ran {len(lrs)} steps, the reference stops after {len(want_lrs)} "
               f"(the first loss above 4x the best so far, at lr {want_lrs[-1]:.3g}). Record "
               "that loss, then stop." + lr_unchanged)
        expect_close("lrs", lrs, want_lrs, rtol=1e-9)
    with credit.part(1, "the recorded losses match the reference (over the steps both ran: "
                        "where it stops is the part above)"):
        count = min(len(losses), len(want_losses))
        expect(count > 1, f"lr_range_test recorded {len(losses)} loss(es): nothing to compare")
        expect_close(f"losses of the first {count} steps", np.asarray(losses[:count]),
                     want_losses[:count], rtol=1e-4, atol=1e-6,
                     hint=lr_unchanged.strip() or None)


@pytest.mark.points(2)
def test_suggest_lr(credit):
    mine, ref = load()
    with credit.part(1, "a hand-made curve: lowest loss at lr 1.0 -> suggest 0.1"):
        lrs = np.array([1e-3, 1e-2, 1e-1, 1.0, 10.0])
        losses = np.array([2.3, 2.2, 1.5, 0.9, np.nan])
        expect_close("suggest_lr(...)", mine.suggest_lr(lrs, losses), 0.1, rtol=1e-9)
        shifted = np.array([2.3, 1.1, 2.0, 2.9, np.nan])       # the twin: lowest at lr 1e-2
        expect_close("suggest_lr(lrs, [2.3, 1.1, 2.0, 2.9, nan])",
                     mine.suggest_lr(lrs, shifted), ref.suggest_lr(lrs, shifted), rtol=1e-9)
    with credit.part(1, "range-test curves of other networks match the reference"):
        for seed in (7, 8):
            model, X, y = small_problem(seed)
            lrs, losses = ref.lr_range_test(model, nn.CrossEntropyLoss(), X, y, num_steps=37)
            expect_close(f"suggest_lr on the curve of seed {seed}",
                         mine.suggest_lr(lrs, losses), ref.suggest_lr(lrs, losses), rtol=1e-9)


@pytest.mark.points(2)
def test_update_ratio(credit):
    mine, ref = load()
    with credit.part(1, "before = [3, 4], after = [3, 4.005]: ratio 0.005 / 5 = 1e-3"):
        expect_close("update_ratio", mine.update_ratio(np.array([3.0, 4.0]),
                                                       np.array([3.0, 4.005])), 1e-3, rtol=1e-6)
        before, after = np.array([6.0, -8.0]), np.array([6.03, -8.0])   # the twin
        expect_close("update_ratio([6, -8], [6.03, -8])", mine.update_ratio(before, after),
                     ref.update_ratio(before, after), rtol=1e-6)
    with credit.part(1, "a 7 x 11 weight matrix matches the reference"):
        rng = np.random.default_rng(3)
        before = rng.standard_normal((7, 11))
        after = before - 0.01 * rng.standard_normal((7, 11))
        expect_close("update_ratio on a (7, 11) matrix", mine.update_ratio(before, after),
                     ref.update_ratio(before, after))
