"""Graded tests of lab 09, part 1 (optimizers.py): `pytest labs/09_optim`.

Your update rules run side by side with minnet's own optimizers (minnet.optim.SGD and
minnet.optim.Adam, which follow PyTorch's rules) on seeded random parameters and
gradients, for several steps, in float64. Shapes are prime-sized (7 x 5) and every
step gets a fresh gradient, so a rule that only holds at the first step is caught.
"""
import numpy as np
import pytest

from minnet import nn, optim
from minnet.grading import expect, expect_close
from minnet.grading.sandbox import sandboxed
from minnet.tensor import Tensor

SHAPE = (7, 5)
STEPS = 5


# the functions whose contract is to change their arguments (a model, an optimizer, a state):
# only their changes reach the test's objects; every other function works on copies
MUTATES = {"sgd_step": None, "momentum_step": (2, "state"), "adam_step": (2, "state"),
           "train_step": None, "lr_range_test": None}  # None: the model-like arguments

def load():
    """The student's optimizers.py, run in a sandbox process (NumPy only): the tests compare
    its update rules with minnet.optim.SGD and Adam here, which it cannot reach."""
    return sandboxed(__file__, "optimizers", allowed_imports=("numpy", "math"), mutates=MUTATES)


def random_problem(seed, steps=STEPS, grad_scale=1.0, away_from_zero=False):
    """A seeded start parameter (7, 5) and ``steps`` gradients of that shape (float64).

    ``away_from_zero``: every gradient entry at least 0.25 in size, so that where Adam adds
    its eps (1e-8) changes the steps by less than the tolerance of ADAM_RULE: those checks
    grade the update rule, and the tiny-gradient check alone grades the eps."""
    rng = np.random.default_rng(seed)
    param = rng.standard_normal(SHAPE)
    grads = [grad_scale * rng.standard_normal(SHAPE) for _ in range(steps)]
    if away_from_zero:
        grads = [np.copysign(0.25 + np.abs(grad), grad) for grad in grads]
    return param, grads


# Adam's update rule with gradients >= 0.25: eps inside or outside the square root moves a
# parameter by < 1e-8 over five steps, a wrong bias correction, beta or weight decay by > 1e-4
ADAM_RULE = dict(rtol=1e-6, atol=1e-7)


def library_trajectory(make_optimizer, param, grads):
    """The parameter after each step of a minnet optimizer fed the given gradients."""
    p = nn.Parameter(param.copy())
    optimizer = make_optimizer([p])
    trajectory = []
    for grad in grads:
        p.grad = Tensor(grad.copy())
        optimizer.step()
        trajectory.append(p.detach().numpy().copy())
    return trajectory


def student_trajectory(step, param, grads, **options):
    """The parameter after each call of a student's update rule, one state dict throughout.

    ``step`` is called as step(param, grad, state, **options) when it keeps state.
    """
    state = {} if options.pop("stateful", True) else None
    current = param.copy()
    trajectory = []
    for grad in grads:
        if state is None:
            current = step(current, grad.copy(), **options)
        else:
            current = step(current, grad.copy(), state, **options)
        expect(current is not None, f"{step.__name__} returned None: return the new parameter.")
        trajectory.append(np.array(current, dtype=np.float64))
    return trajectory


def expect_same_trajectory(name, got, want, rtol=1e-9, atol=1e-12):
    for t, (g, w) in enumerate(zip(got, want), start=1):
        expect_close(f"{name}, parameter after step {t}", g, w, rtol=rtol, atol=atol)


@pytest.mark.points(2)
def test_sgd_step(credit):
    opt = load()
    with credit.part(1, "one step on a tiny example: p=[1, -2], g=[0.5, 0.5], lr=0.1"):
        got = opt.sgd_step(np.array([1.0, -2.0]), np.array([0.5, 0.5]), lr=0.1)
        expect_close("sgd_step([1, -2], [0.5, 0.5], lr=0.1)", got, np.array([0.95, -2.05]))
        twin_rng = np.random.default_rng(61)           # a twin of the same size: pasting fails
        p, g = twin_rng.standard_normal(2), twin_rng.standard_normal(2)
        expect_close(f"sgd_step({np.round(p, 4).tolist()}, {np.round(g, 4).tolist()}, lr=0.1)",
                     opt.sgd_step(p.copy(), g.copy(), lr=0.1), p - 0.1 * g, rtol=1e-9)
    with credit.part(1, "five steps with weight_decay=0.1 match minnet.optim.SGD"):
        param, grads = random_problem(12)
        want = library_trajectory(lambda p: optim.SGD(p, lr=0.03, weight_decay=0.1), param,
                                  grads)
        got = student_trajectory(opt.sgd_step, param, grads, lr=0.03, weight_decay=0.1,
                                 stateful=False)
        expect_same_trajectory("sgd_step with weight decay", got, want)


@pytest.mark.points(3)
def test_momentum_step(credit):
    opt = load()
    with credit.part(1, "the first step of momentum SGD is a plain SGD step"):
        param, grads = random_problem(21, steps=1)
        got = opt.momentum_step(param.copy(), grads[0].copy(), {}, lr=0.05, momentum=0.9)
        expect_close("momentum_step at the first step", got, param - 0.05 * grads[0])
    with credit.part(1, "five steps with dampening=0.3 match minnet.optim.SGD (the first "
                        "buffer is the gradient itself, undamped)"):
        param, grads = random_problem(23)
        want = library_trajectory(
            lambda p: optim.SGD(p, lr=0.05, momentum=0.8, dampening=0.3), param, grads)
        got = student_trajectory(opt.momentum_step, param, grads, lr=0.05, momentum=0.8,
                                 dampening=0.3)
        expect_same_trajectory("momentum_step with dampening", got, want)
    with credit.part(1, "five steps with weight_decay=0.05 match minnet.optim.SGD"):
        param, grads = random_problem(24)
        want = library_trajectory(
            lambda p: optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.05), param, grads)
        got = student_trajectory(opt.momentum_step, param, grads, lr=0.05, momentum=0.9,
                                 weight_decay=0.05)
        expect_same_trajectory("momentum_step with weight decay", got, want)


@pytest.mark.points(4)
def test_adam_step(credit):
    opt = load()
    with credit.part(1, "the first Adam step is about lr * sign(g) (bias correction at t=1)"):
        param, grads = random_problem(31, steps=1, away_from_zero=True)
        got = opt.adam_step(param.copy(), grads[0].copy(), {}, lr=0.01)
        expect_close("adam_step at the first step", got, param - 0.01 * np.sign(grads[0]),
                     rtol=1e-5, atol=1e-7)
    with credit.part(1, "five steps match minnet.optim.Adam(lr=0.01)"):
        param, grads = random_problem(32, away_from_zero=True)
        want = library_trajectory(lambda p: optim.Adam(p, lr=0.01), param, grads)
        got = student_trajectory(opt.adam_step, param, grads, lr=0.01)
        expect_same_trajectory("adam_step", got, want, **ADAM_RULE)
    with credit.part(1, "five steps with betas=(0.8, 0.95) and weight_decay=0.1 match "
                        "minnet.optim.Adam"):
        param, grads = random_problem(33, away_from_zero=True)
        want = library_trajectory(
            lambda p: optim.Adam(p, lr=0.02, betas=(0.8, 0.95), weight_decay=0.1), param, grads)
        got = student_trajectory(opt.adam_step, param, grads, lr=0.02, betas=(0.8, 0.95),
                                 weight_decay=0.1)
        expect_same_trajectory("adam_step with weight decay", got, want, **ADAM_RULE)
    with credit.part(1, "tiny gradients (~1e-6): eps=1e-8 outside the square root, as in "
                        "minnet.optim.Adam"):
        param, grads = random_problem(34, grad_scale=1e-6)
        want = library_trajectory(lambda p: optim.Adam(p, lr=0.01), param, grads)
        got = student_trajectory(opt.adam_step, param, grads, lr=0.01)
        expect_same_trajectory("adam_step on tiny gradients", got, want)
