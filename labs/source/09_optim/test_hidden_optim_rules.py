"""Hidden tests of lab 09 (used by `minnet grade` only): the update rules and the LR schedule
on other shapes, hyperparameters and seeds than the public tests, against the reference."""
import numpy as np
import pytest

from minnet.grading import expect, expect_close, reference
from minnet.grading.sandbox import sandboxed


# the functions whose contract is to change their arguments (a model, an optimizer, a state):
# only their changes reach the test's objects; every other function works on copies
MUTATES = {"sgd_step": None, "momentum_step": (2, "state"), "adam_step": (2, "state"),
           "train_step": None, "lr_range_test": None}  # None: the model-like arguments

LR_RANGE_IMPORTS = ("numpy", "minnet", "math", "warnings", "copy", "collections")


def load():
    ref = reference(__file__, "optimizers")              # before the student's files
    ref_lr = reference(__file__, "lr_range")
    return (sandboxed(__file__, "optimizers", allowed_imports=("numpy", "math"), mutates=MUTATES), ref,
            sandboxed(__file__, "lr_range", allowed_imports=LR_RANGE_IMPORTS, mutates=MUTATES),
            ref_lr)


def run(step, param, grads, **options):
    """Apply ``step`` once per gradient with one state dict; returns every param."""
    state, out = {}, []
    for grad in grads:
        if step.__name__ == "sgd_step":
            param = step(param.copy(), grad, **options)
        else:
            param = step(param.copy(), grad, state, **options)
        expect(param is not None, f"{step.__name__} returned None: return the new parameter")
        out.append(np.asarray(param, dtype=np.float64))
    return out


@pytest.mark.points(3)
def test_hidden_update_rules_other_settings(credit):
    mine, ref, lr_mine, lr_ref = load()
    rng = np.random.default_rng(9909)
    param = rng.standard_normal((3, 2, 4))
    grads = [rng.standard_normal(param.shape) * scale for scale in (1.0, 0.01, 30.0, 1.0, 0.5,
                                                                      2.0, 0.1)]
    with credit.part(1, "sgd and momentum (dampening 0.3, weight decay 0.05) over 7 steps on a "
                        "(3, 2, 4) parameter"):
        for index, (got, want) in enumerate(zip(
                run(mine.sgd_step, param, grads, lr=0.07, weight_decay=0.05),
                run(ref.sgd_step, param, grads, lr=0.07, weight_decay=0.05))):
            expect_close(f"sgd_step, step {index + 1}", got, want, rtol=1e-9)
        options = dict(lr=0.02, momentum=0.8, dampening=0.3, weight_decay=0.05)
        for index, (got, want) in enumerate(zip(run(mine.momentum_step, param, grads, **options),
                                                run(ref.momentum_step, param, grads, **options))):
            expect_close(f"momentum_step, step {index + 1}", got, want, rtol=1e-9)
    with credit.part(1, "adam with betas (0.5, 0.9), eps 1e-3 and weight decay 0.1 over 7 steps"):
        options = dict(lr=0.01, betas=(0.5, 0.9), eps=1e-3, weight_decay=0.1)
        for index, (got, want) in enumerate(zip(run(mine.adam_step, param, grads, **options),
                                                run(ref.adam_step, param, grads, **options))):
            expect_close(f"adam_step, step {index + 1}", got, want, rtol=1e-9)
    with credit.part(1, "lr_schedule(3e-5, 0.7, 9) and update_ratio of a (6, 5) change"):
        expect_close("lr_schedule(3e-5, 0.7, 9)", lr_mine.lr_schedule(3e-5, 0.7, 9),
                     lr_ref.lr_schedule(3e-5, 0.7, 9), rtol=1e-9)
        before = rng.standard_normal((6, 5))
        after = before - 1e-3 * rng.standard_normal((6, 5))
        expect_close("update_ratio(before, after)", float(lr_mine.update_ratio(before, after)),
                     float(lr_ref.update_ratio(before, after)), rtol=1e-9)
