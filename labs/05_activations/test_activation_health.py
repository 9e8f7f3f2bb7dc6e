"""Graded tests of lab 05 (dying ReLUs, saturation, output activation).

Run: `pytest labs/05_activations`.

The statistics are checked on a literal example, on seeded random arrays (prime shapes, exact
boundary values) against the reference solution, and against minnet's Monitor on a real layer.
The repairs are graded by their runs: a fixed number of training steps, the validation score the
README states, and minnet's debugger reporting no error and not the lab's codes.
"""
import numpy as np
import pytest

import minnet
from minnet import nn
from minnet.grading import expect, expect_at_least, expect_at_most, expect_close, \
    expect_no_errors, expect_no_finding, reference
from minnet.grading.networks import nested_layers_problem
from minnet.grading.sandbox import sandboxed
from minnet.grading.untrained import drawn_afresh_problem

# the student's file runs in a sandbox process and may import only these
STUDENT_IMPORTS = ("numpy", "minnet", "math", "warnings", "copy", "collections")

MODULE = "activation_health"
# How far the reference solution must stay from each training-outcome threshold. Measured
# (identical with OpenBLAS's Haswell, SkylakeX and Sandybridge kernels, 1 thread and
# MINNET_NO_JIT; the range is over batch orders 0-4; the released setups in brackets): ReLU
# accuracy 0.967-0.992 (0.55), tanh accuracy 0.961-0.969 (0.686), sine MSE 0.0032-0.0044 (0.22).
MARGIN_05_RELU = 0.03
MARGIN_05_TANH = 0.05
MARGIN_05_MSE = 0.01
# the graded runs start from weights the grader draws itself, each weight matrix at the scale
# the student's init chose (minnet.grading.untrained.redraw_): a network trained inside
# relu_setup() and handed over with lr 1e-12 scored the three repairs (11/20, nothing repaired).
# The quality is the median of REDRAWS draws: over 26 draws of the reference's ReLU net one run
# reached 0.942, the others 0.967-0.983 (tanh 0.964-0.975, sine MSE 0.0034-0.0047 over 6)
REDRAW_SEED = 500
REDRAWS = 3


def load():
    """(student's activation_health.py, reference activation_health.py), loaded by path."""
    ref = reference(__file__, MODULE)                    # before the student's file
    return sandboxed(__file__, MODULE, allowed_imports=STUDENT_IMPORTS), ref



def relu_batch(rng, shape, dead_units, sparse=0.6):
    """ReLU-like outputs: ``dead_units`` (indices on axis 1) exactly 0 everywhere; elsewhere
    many exact zeros too (so counting zero entries or empty samples gives other numbers)."""
    a = np.maximum(rng.normal(-0.3, 1.0, size=shape), 0.0)
    a[rng.random(shape) < sparse] = 0.0
    a[:, dead_units] = 0.0
    a[0, [u for u in range(shape[1]) if u not in dead_units]] = 0.5  # every live unit fires once
    return a


# ---------------------------------------------------------------------------------------------
@pytest.mark.points(4)
def test_dead_fraction(credit):
    lab, ref = load()
    with credit.part(1, "a small example: 3 of 5 units dead"):
        a = np.array([[0.0, 1.0, 0.0, 0.0, 0.0],
                      [0.0, 0.0, 0.0, 2.0, 0.0],
                      [0.0, 3.0, 0.0, 0.0, 0.0]])
        got = lab.dead_fraction(a)
        expect_close("dead_fraction(3 samples x 5 units, units 0, 2 and 4 always 0)",
                     float(got), 0.6)
        twin = relu_batch(np.random.default_rng(101), (3, 7), [1, 2, 6])   # pasting 0.6 fails
        expect_close("dead_fraction(3 samples x 7 units, units 1, 2 and 6 always 0)",
                     float(lab.dead_fraction(twin)), ref.dead_fraction(twin))
    with credit.part(1, "random (N, units) batches, against the reference"):
        rng = np.random.default_rng(1)
        for n, units, dead in ((37, 23, [0, 5, 6, 19]), (11, 29, list(range(0, 29, 3))),
                               (5, 13, [])):
            a = relu_batch(rng, (n, units), dead)
            expect_close(f"dead_fraction of a ({n}, {units}) batch with {len(dead)} dead units",
                         float(lab.dead_fraction(a)), ref.dead_fraction(a))
    with credit.part(1, "conv outputs (N, channels, length): a unit is a channel"):
        rng = np.random.default_rng(2)
        a = relu_batch(rng, (7, 17, 11), [1, 2, 3, 13])
        a[:, 9] = 0.0
        a[4, 9, 10] = 0.25       # channel 9 fires at one position of one sample: alive
        expect_close("dead_fraction of a (7, 17, 11) conv output", float(lab.dead_fraction(a)),
                     ref.dead_fraction(a))
    with credit.part(1, "agrees with minnet's Monitor on a real ReLU layer"):
        rng = np.random.default_rng(3)
        model = nn.Sequential(nn.Linear(5, 41), nn.ReLU(), nn.Linear(41, 3))
        nn.init.normal_(model[0].bias, -1.2, 1.0, generator=rng)
        X = rng.normal(size=(19, 5)).astype(np.float32)
        y = rng.integers(0, 3, size=19)
        monitor = minnet.debug.Monitor(model)
        loss = nn.CrossEntropyLoss()(model(minnet.tensor(X)), minnet.tensor(y))
        loss.backward()
        monitor.step()
        monitor.detach()
        recorded = float(monitor.activation("1 (ReLU)", "dead_fraction")[0])
        relu_out = lab.layer_outputs(model, X)[1]
        expect_close("dead_fraction(ReLU output) vs Monitor's dead_fraction",
                     float(lab.dead_fraction(relu_out)), recorded)


@pytest.mark.points(3)
def test_saturated_fraction(credit):
    lab, ref = load()
    with credit.part(1, "tanh: |a| > 0.99"):
        # each part has its own generator: a part that fails half-way cannot change the
        # data of the next (whose reference result a student release replays)
        rng = np.random.default_rng(4)
        a = np.tanh(rng.normal(0.0, 2.5, size=(29, 31)))
        expect_close("saturated_fraction(tanh outputs (29, 31), 'tanh')",
                     float(lab.saturated_fraction(a, "tanh")), ref.saturated_fraction(a, "tanh"))
        b = np.tanh(rng.normal(-1.5, 3.0, size=(13, 7, 5)))
        expect_close("saturated_fraction(tanh outputs (13, 7, 5), 'tanh')",
                     float(lab.saturated_fraction(b, "tanh")), ref.saturated_fraction(b, "tanh"))
    with credit.part(1, "sigmoid: a < 0.01 or a > 0.99"):
        rng = np.random.default_rng(41)
        s = 1 / (1 + np.exp(-rng.normal(1.0, 4.0, size=(23, 19))))
        expect_close("saturated_fraction(sigmoid outputs (23, 19), 'sigmoid')",
                     float(lab.saturated_fraction(s, "sigmoid")),
                     ref.saturated_fraction(s, "sigmoid"))
    with credit.part(1, "the limits themselves are not saturated (strict >, <)"):
        edge = np.array([[0.99, -0.99, 0.995, 0.0], [-0.999, 0.5, 0.99, -0.2]])
        expect_close("saturated_fraction([[0.99, -0.99, 0.995, 0], [-0.999, 0.5, 0.99, -0.2]], "
                     "'tanh')", float(lab.saturated_fraction(edge, "tanh")), 0.25)
        edge_sigmoid = np.array([0.01, 0.99, 0.005, 0.5, 0.999, 0.2, 0.01])
        expect_close("saturated_fraction([0.01, 0.99, 0.005, 0.5, 0.999, 0.2, 0.01], 'sigmoid')",
                     float(lab.saturated_fraction(edge_sigmoid, "sigmoid")), 2 / 7)
        twin_rng = np.random.default_rng(102)          # limits at random places: pasting fails
        for kind, values in (("tanh", [0.99, -0.99, 0.995, -0.999, 0.5, 0.0]),
                             ("sigmoid", [0.01, 0.99, 0.005, 0.999, 0.5, 0.2])):
            twin = twin_rng.choice(values, size=(5, 11))
            expect_close(f"saturated_fraction(5 x 11 values at and beyond the limits, {kind!r})",
                         float(lab.saturated_fraction(twin, kind)),
                         ref.saturated_fraction(twin, kind))


# ---------------------------------------------------------------------------------------------
def check_data(setup, reference_data, name):
    """The setup trains and validates on the lab's data (the labels are the same)."""
    X_train, y_train, X_val, y_val = reference_data
    train_X, train_y = setup.train_data
    val_X, val_y = setup.val_data
    same_labels = (np.array_equal(np.asarray(train_y), y_train)
                   and np.array_equal(np.asarray(val_y), y_val))
    expect(same_labels,
           f"{name}: train on the lab's data and keep its validation split (the labels of "
           f"train_data / val_data differ from the lab's)")
    expect(np.shape(train_X) == X_train.shape and np.shape(val_X) == X_val.shape,
           f"{name}: the inputs should keep their shapes {X_train.shape} / {X_val.shape}, got "
           f"{np.shape(train_X)} / {np.shape(val_X)}")
    expect(same_preprocessing(X_train, X_val, np.asarray(train_X, dtype=np.float64),
                              np.asarray(val_X, dtype=np.float64)),
           f"{name}: the validation inputs are not the lab's validation inputs put through the "
           "same per-feature preprocessing as the training inputs (x -> a * x + b, a and b "
           "fitted on the training data). Preprocess both splits alike and leave the "
           "validation images themselves alone.")
    expect(setup.train_step is None and setup.batch_size == 32,
           f"{name}: keep the standard training step and batches of 32 (got train_step="
           f"{setup.train_step!r}, batch_size={setup.batch_size}): the bar is for that run.")


def same_preprocessing(raw_train, raw_val, train, val, tol=1e-4):
    """train = a * raw_train + b per feature (column), and val = a * raw_val + b with the
    same a, b. Features constant on the training data only need val constant where raw_val
    takes that same training value. Every entry must be finite: a NaN makes every comparison
    below False, so one NaN in a column let any values through for that column."""
    raw_train, raw_val = raw_train.reshape(len(raw_train), -1), raw_val.reshape(len(raw_val), -1)
    train, val = train.reshape(len(train), -1), val.reshape(len(val), -1)
    if not (np.all(np.isfinite(train)) and np.all(np.isfinite(val))):
        return False
    for j in range(raw_train.shape[1]):
        r, t = raw_train[:, j], train[:, j]
        spread = r.std()
        if spread == 0:
            if np.ptp(t) > tol:
                return False
            same = raw_val[:, j] == r[0]
            if not np.allclose(val[same, j], t[0], atol=tol):
                return False
            continue
        a = np.mean((r - r.mean()) * (t - t.mean())) / spread ** 2
        b = t.mean() - a * r.mean()
        scale = tol * (1 + np.abs(t).max())
        if (np.abs(a * r + b - t).max() > scale
                or np.abs(a * raw_val[:, j] + b - val[:, j]).max() > scale):
            return False
    return True


# the network each setup must keep: Linear shapes in order, and the activations allowed between
# them (a repair changes biases, init, preprocessing, learning rate or the output layer, not the
# network: swapping ReLU for tanh, dropping layers or a linear model would hide the finding)
LAB_NETWORKS = {
    "ReLU classifier": (((2, 32), (32, 32), (32, 2)), ("ReLU", "LeakyReLU")),
    "tanh classifier": (((64, 64), (64, 64), (64, 10)), ("Tanh",)),
    "sine regression": (((1, 32), (32, 32), (32, 1)), ("Tanh",)),
}


def expect_lab_network(setup, name):
    """The setup's model is the lab's network: the same Linear layers (in_features,
    out_features) in order, each hidden one followed by one of the allowed activations, and no
    activation after the last Linear."""
    shapes, allowed = LAB_NETWORKS[name]
    model = getattr(setup, "model", None)
    expect(isinstance(model, nn.Module), f"{name}: setup.model is not a minnet nn.Module")
    problem = nested_layers_problem(model, name)   # then modules() lists the layers that run
    expect(problem is None, problem)
    layers = [m for m in model.modules() if m is not model and not list(m.children())]
    got_shapes = [(m.in_features, m.out_features) for m in layers if isinstance(m, nn.Linear)]
    described = ", ".join(type(m).__name__ for m in layers)
    expect(got_shapes == list(shapes),
           f"{name}: keep the lab's network, Linear layers {list(shapes)} (got {got_shapes}: "
           f"{described}); the repair is in the biases, the initialisation, the data, the "
           "learning rate or the output, not a different network")
    kinds = [type(m).__name__ for m in layers]
    linear_at = [i for i, m in enumerate(layers) if isinstance(m, nn.Linear)]
    hidden = [kinds[i + 1] if i + 1 < len(kinds) else None for i in linear_at[:-1]]
    after_last = kinds[linear_at[-1] + 1:]
    expect(all(kind in allowed for kind in hidden) and len(layers) == 2 * len(shapes) - 1
           and not after_last,
           f"{name}: each hidden Linear layer must be followed by "
           f"{' or '.join(allowed)} and the last one by nothing (got: {described})")


def grade_repair(credit, build, reference_data, codes, quality, steps, name, diagnosis_points,
                 quality_points):
    """Diagnose ``build()``'s setup (no error, none of ``codes``), then train it ``steps`` steps
    and compare its validation score with ``quality`` (median of REDRAWS runs). Before each, its
    weights are drawn afresh (at the scale the student's init chose) and its optimizer must be
    fresh: what is graded is a run that starts untrained."""
    _, ref = load()

    def drawn(draw):
        """The setup with weights drawn here (draw ``draw``) and the batch order of seed
        ``draw``: neither is the file's to choose (resubmitting with another seed would shop
        for a lucky run)."""
        setup = build()
        expect_lab_network(setup, name)
        check_data(setup, reference_data, name)
        problem = drawn_afresh_problem(setup, np.random.default_rng(REDRAW_SEED + draw), name)
        expect(problem is None, problem)
        return setup.replace(seed=draw)

    with credit.part(diagnosis_points, f"{name}: the debugger reports no error and none of "
                                       f"{', '.join(codes)}"):
        report = drawn(0).diagnose(steps=100)
        expect_no_errors(report, what=f"the repaired {name}")
        for code in codes:
            expect_no_finding(report, code, what=f"the repaired {name}")
    with credit.part(quality_points, f"{name}: trains to the stated quality in {steps} steps "
                                     f"(median of {REDRAWS} draws of its weights)"):
        what, direction, threshold, margin = quality
        scores = []
        for draw in range(REDRAWS):
            setup = drawn(1 + draw)
            setup.train(steps=steps)
            X_val, y_val = setup.val_data
            scores.append(ref.evaluate(setup.model, X_val, y_val))
        check = expect_at_least if direction == ">=" else expect_at_most
        check(f"{name}: median {what} after {steps} steps (draws "
              f"{', '.join(f'{score:.4g}' for score in scores)})", float(np.median(scores)),
              threshold, margin=margin)


@pytest.mark.points(4)
@pytest.mark.timeout(20)
def test_relu_repair(credit):
    lab, ref = load()
    grade_repair(credit, lab.relu_setup, ref.moons_data(), ("activation.dead_relu",),
                 ("validation accuracy", ">=", 0.93, MARGIN_05_RELU),
                 steps=200, name="ReLU classifier", diagnosis_points=2, quality_points=2)


@pytest.mark.points(4)
@pytest.mark.timeout(20)
def test_tanh_repair(credit):
    lab, ref = load()
    grade_repair(credit, lab.tanh_setup, ref.raw_digits(), ("activation.saturated",),
                 ("validation accuracy", ">=", 0.9, MARGIN_05_TANH),
                 steps=150, name="tanh classifier", diagnosis_points=2, quality_points=2)


@pytest.mark.points(3)
@pytest.mark.timeout(20)
def test_regression_repair(credit):
    lab, ref = load()
    grade_repair(credit, lab.regression_setup, ref.sine_data(), ("output.wrong_activation",),
                 ("validation MSE (sin(x) has variance ~0.5)", "<=", 0.02, MARGIN_05_MSE),
                 steps=200, name="sine regression", diagnosis_points=2, quality_points=1)
