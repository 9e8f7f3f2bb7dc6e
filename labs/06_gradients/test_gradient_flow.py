"""Graded tests of lab 06 (exploding and vanishing gradients): `pytest labs/06_gradients`.

The measurements are checked on a literal example, against the reference solution on seeded
nets with prime sizes (and a nested module), and against minnet's Monitor. The clipped step is
compared with the reference step by step. The figure is checked by its pixels: the same picture
as the reference draws, with the layers' lines stacked as vanishing gradients stack them. The
repaired deep nets are graded by their runs and by minnet's debugger.
"""
import os

import numpy as np
import pytest

import minnet
from minnet import nn, optim
from minnet.debug import Setup
from minnet.grading import expect, expect_at_least, expect_close, expect_no_errors, \
    expect_no_finding, reference, student_picture
from minnet.grading.sandbox import sandboxed
from minnet.grading.networks import nested_layers_problem
from minnet.grading.untrained import redraw_

MODULE = "gradient_flow"
MIN_LINEAR_LAYERS = 10
# The median over five batch orders: the reference's vanishing repair reaches 0.883-1.0 in
# single runs (0.992 median; 1.0 for the exploding one), identical medians with OpenBLAS's
# Haswell, SkylakeX and Sandybridge kernels, 1 thread and MINNET_NO_JIT; the broken nets reach
# 0.45-0.55, and tanh with Glorot's gain 1 instead of 5/3 0.89-0.97 (median 0.908).
MIN_ACCURACY = 0.95
ACCURACY_MARGIN = 0.04
BATCH_ORDER_SEEDS = (0, 1, 2, 3, 4)
# the grader draws each graded net's weights itself (at the scales the student's initialisation
# chose): the seed of the diagnosed net's draw, and of each batch order's (+ its seed)
REDRAW_SEED = 600


# the functions whose contract is to change their arguments (a model, an optimizer, a state):
# only their changes reach the test's objects; every other function works on copies
MUTATES = ("clipped_train_step", "save_grad_norm_plot")

# what gradient_flow.py may import (the README says so)
STUDENT_IMPORTS = ("numpy", "minnet", "math", "warnings", "copy", "collections")


def load():
    """(student's gradient_flow.py in the sandbox, called with data; the reference)."""
    return (sandboxed(__file__, MODULE, allowed_imports=STUDENT_IMPORTS, mutates=MUTATES),
            reference(__file__, MODULE))



def seeded_net(seed):
    """Linear(7->13) - [Tanh, Linear(13->11)] (nested) - ReLU - Linear(11->3), seeded weights."""
    rng = np.random.default_rng(seed)
    model = nn.Sequential(nn.Linear(7, 13), nn.Sequential(nn.Tanh(), nn.Linear(13, 11)),
                          nn.ReLU(), nn.Linear(11, 3))
    for param in model.parameters():
        nn.init.normal_(param, 0.0, 0.6, generator=rng)
    return model


def batch(seed, n=17, scale=3.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(0.0, scale, size=(n, 7)).astype(np.float32)
    y = rng.integers(0, 3, size=n).astype(np.int64)
    return minnet.tensor(X), minnet.tensor(y)


def backward_once(model, seed):
    X, y = batch(seed)
    nn.CrossEntropyLoss()(model(X), y).backward()


def parameters_of(model):
    return np.concatenate([p.numpy().astype(np.float64).ravel() for p in model.parameters()])


# ---------------------------------------------------------------------------------------------
@pytest.mark.points(4)
def test_layer_grad_norms(credit):
    lab, ref = load()
    with credit.part(1, "a small example: weight and bias together, a missing grad counts 0"):
        model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
        model[0].weight.grad = minnet.tensor(np.array([[3.0, 0.0], [0.0, 0.0]], np.float32))
        model[0].bias.grad = minnet.tensor(np.array([0.0, 4.0], np.float32))
        model[2].weight.grad = minnet.tensor(np.array([[1.0, 2.0]], np.float32))
        model[2].bias.grad = None
        got = lab.layer_grad_norms(model)
        expect(isinstance(got, dict) and list(got) == ["0", "2"],
               f"layer_grad_norms should return {{'0': ..., '2': ...}} (layer names in order), "
               f"got {got!r}")
        expect_close("layer_grad_norms(...)['0'] (weight grad [[3, 0], [0, 0]], bias grad "
                     "[0, 4])", float(got["0"]), 5.0)
        expect_close("layer_grad_norms(...)['2'] (weight grad [[1, 2]], bias grad None)",
                     float(got["2"]), np.sqrt(5.0), rtol=1e-6)
    with credit.part(2, "seeded nets with a nested module, against the reference"):
        for seed in (1, 2):
            model = seeded_net(seed)
            backward_once(model, seed)
            got, want = lab.layer_grad_norms(model), ref.layer_grad_norms(model)
            expect(list(got) == list(want),
                   f"layer names {list(got)}, expected {list(want)} (the part of the parameter "
                   f"names before the last dot, in the order of named_parameters())")
            expect_close("layer_grad_norms values", np.array([float(v) for v in got.values()]),
                         np.array(list(want.values())), rtol=1e-5)
    with credit.part(1, "agrees with the gradient norms minnet's Monitor records"):
        model = seeded_net(3)
        monitor = minnet.debug.Monitor(model)
        backward_once(model, 3)
        monitor.step()
        monitor.detach()
        got = lab.layer_grad_norms(model)
        recorded_layers = list(dict.fromkeys(name.rsplit(".", 1)[0]
                                             for name in monitor.param_names))
        expect(isinstance(got, dict) and list(got) == recorded_layers,
               f"layer_grad_norms returned the layers {list(got) if isinstance(got, dict) else got!r}"
               f"; the Monitor records {recorded_layers}")
        for layer in got:
            names = [name for name in monitor.param_names if name.rsplit(".", 1)[0] == layer]
            recorded = np.sqrt(sum(float(monitor.param(name, "grad_norm")[0]) ** 2
                                   for name in names))
            expect_close(f"norm of layer {layer!r} vs the Monitor's grad_norm of {names}",
                         float(got[layer]), recorded, rtol=1e-4)


@pytest.mark.points(2)
def test_flow_verdict(credit):
    lab, ref = load()
    with credit.part(1, "literal cases, the limits themselves included"):
        cases = [({"0": 1e-6, "2": 1.0}, "vanishing"), ({"0": 20.0, "2": 1.0}, "exploding"),
                 ({"0": 0.5, "1": 1e9, "2": 1.0}, "healthy"), ({"0": 10.0, "2": 1.0}, "healthy"),
                 ({"0": 1e-4, "2": 1.0}, "healthy"), ({"0": 0.0, "2": 0.0}, "vanishing")]
        for norms, want in cases:
            got = lab.flow_verdict(norms)
            expect(got == want, f"flow_verdict({norms}) returned {got!r}, expected {want!r} "
                                f"(ratio = first / last; strict < and >)")
        twin_rng = np.random.default_rng(51)         # the same cases rescaled: pasting fails
        for norms, _ in cases:
            scale = float(10 ** twin_rng.uniform(-3, 3))
            rescaled = {name: value * scale for name, value in norms.items()}
            rescaled[str(len(norms) + 5)] = float(twin_rng.uniform(0.1, 10))   # another last
            got, want = lab.flow_verdict(rescaled), ref.flow_verdict(rescaled)
            expect(got == want, f"flow_verdict({rescaled}) returned {got!r}, expected {want!r}")
    with credit.part(1, "seeded norms and other thresholds, against the reference"):
        rng = np.random.default_rng(5)
        for _ in range(40):
            size = int(rng.integers(2, 9))
            norms = {str(i): float(10 ** rng.uniform(-7, 3)) for i in range(size)}
            vanishing, exploding = float(10 ** rng.uniform(-5, -1)), float(rng.uniform(2, 50))
            got = lab.flow_verdict(norms, vanishing=vanishing, exploding=exploding)
            want = ref.flow_verdict(norms, vanishing=vanishing, exploding=exploding)
            expect(got == want, f"flow_verdict({norms}, vanishing={vanishing:.3g}, "
                                f"exploding={exploding:.3g}) returned {got!r}, expected {want!r}")


@pytest.mark.points(4)
def test_clipped_train_step(credit):
    lab, ref = load()
    loss_fn = nn.CrossEntropyLoss()

    def steps(module, max_norm, count, seed):
        # every call gets a loss of its own: a step's changes to the loss it was given come
        # back (it is a module), and a review's step set its weight to zeros for every run
        model = seeded_net(seed)
        optimizer = optim.SGD(model.parameters(), lr=0.1)
        losses = []
        for k in range(count):
            X, y = batch(seed + k)
            losses.append(float(module.clipped_train_step(model, nn.CrossEntropyLoss(),
                                                          optimizer, X, y,
                                                          max_norm=max_norm).item()))
        return model, losses

    with credit.part(2, "a large gradient: the step is clipped to max_norm, direction kept"):
        model, losses = steps(lab, 0.5, 1, seed=11)
        want_model, want_losses = steps(ref, 0.5, 1, seed=11)
        start = parameters_of(seeded_net(11))
        step, want_step = parameters_of(model) - start, parameters_of(want_model) - start
        expect(np.linalg.norm(want_step) < 0.1 * 0.5 * 1.001,
               "internal: the reference step should be clipped here")
        expect_close("parameter change of one clipped SGD step (lr 0.1, max_norm 0.5); its "
                     f"norm is {np.linalg.norm(step):.4g}, lr * max_norm = 0.05", step,
                     want_step, rtol=1e-4, atol=1e-6)
        expect_close("returned loss", losses[0], want_losses[0], rtol=1e-5)
    with credit.part(1, "a small gradient: the same step as without clipping"):
        model, _ = steps(lab, 1e3, 1, seed=12)
        plain = seeded_net(12)
        optimizer = optim.SGD(plain.parameters(), lr=0.1)
        X, y = batch(12)
        optimizer.zero_grad()
        loss_fn(plain(X), y).backward()
        optimizer.step()
        expect_close("parameters after a step with max_norm 1000 vs a plain SGD step",
                     parameters_of(model), parameters_of(plain), rtol=1e-5, atol=1e-6)
    with credit.part(1, "three steps in a row (each on its own gradient)"):
        model, losses = steps(lab, 0.5, 3, seed=13)
        want_model, want_losses = steps(ref, 0.5, 3, seed=13)
        expect_close("parameters after 3 clipped steps", parameters_of(model),
                     parameters_of(want_model), rtol=1e-4, atol=1e-6)
        expect_close("losses of the 3 steps", np.array(losses), np.array(want_losses), rtol=1e-5)


# ---------------------------------------------------------------------------------------------
def sigmoid_setup(ref):
    """A 7-layer sigmoid net on moons (gradients shrinking layer by layer), seeded."""
    X_train, y_train, X_val, y_val = ref.moons_data()
    minnet.manual_seed(0)
    model = ref.deep_mlp(nn.Sigmoid, depth=7)
    return Setup(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=3e-3),
                 (X_train, y_train), val_data=(X_val, y_val), batch_size=32, steps=30, seed=0)


def line_rows(image, layers):
    """Mean pixel row of each layer's line (tab10 colours) in the plot area, top = 0."""
    from matplotlib import colormaps
    plot_area = image[:, : int(0.78 * image.shape[1])]
    rows = []
    for index in range(layers):
        colour = np.array(colormaps["tab10"](index)[:3])
        found = np.nonzero(np.abs(plot_area - colour).max(axis=2) < 0.06)[0]
        rows.append(float(found.mean()) if found.size else float("nan"))
    return np.array(rows)


@pytest.mark.points(3)
@pytest.mark.timeout(20)
def test_grad_norm_figure(credit, tmp_path, tmp_path_factory):
    import matplotlib.image as mpimg
    lab, ref = load()
    # the reference's picture in a folder of its own: the student's file may write to tmp_path
    path = str(tmp_path / "student.png")
    reference_path = str(tmp_path_factory.mktemp("reference") / "reference.png")
    with credit.part(2, "the picture: per-layer gradient norms of the run, as plot_grad_norms "
                        "draws them"):
        ref.save_grad_norm_plot(sigmoid_setup(ref), reference_path, steps=30)
        lab.save_grad_norm_plot(sigmoid_setup(ref), path, steps=30)
        image = student_picture(path)[..., :3]
        want = mpimg.imread(reference_path)[..., :3]
        expect(image.shape == want.shape,
               f"the saved figure is {image.shape[1]}x{image.shape[0]} pixels, the reference's "
               f"{want.shape[1]}x{want.shape[0]}: use minnet.viz.plot_grad_norms(monitor, "
               f"path=path) with its defaults")
        difference = float(np.abs(image - want).mean())
        expect(difference < 0.01,
               f"the figure differs from the reference picture (mean pixel difference "
               f"{difference:.3f}): train exactly `steps` steps with setup.train(steps=steps, "
               f"monitor=True) and plot run.monitor by layer")
    with credit.part(1, "the picture shows vanishing gradients: first layer lowest, each "
                        "layer above the one before"):
        expect(os.path.isfile(path), f"save_grad_norm_plot(setup, path, steps) saved no "
                                     f"figure at {path}")
        rows = line_rows(student_picture(path)[..., :3], 7)
        expect(np.all(np.isfinite(rows)),
               f"could not find every layer's line in the figure (mean rows {rows}): one line "
               f"per Linear layer, 7 in all")
        expect(np.all(np.diff(rows) < 0),
               f"in a 7-layer sigmoid net the gradient norm shrinks layer by layer towards the "
               f"input, so the lines should be stacked, the first layer's lowest; mean pixel "
               f"rows of the lines (larger = lower): {np.round(rows, 1)}")


# ---------------------------------------------------------------------------------------------
def count_linear(model):
    """The Linear layers the model runs: a layer holding other layers (ten Linear layers hung
    under the first one of a 2-32-2 net, never run) is refused first."""
    problem = nested_layers_problem(model, "the model")
    expect(problem is None, problem)
    return sum(isinstance(module, nn.Linear) for module in model.modules())


def clipped_step(model, loss_fn, optimizer, X, y, max_norm):
    """The clipped training step as the README defines it, run here."""
    optimizer.zero_grad()
    loss = loss_fn(model(X), y)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()
    return loss


def run_here(setup, lab, ref):
    """The Setup with the student's clipped_train_step (graded on its own by
    test_clipped_train_step) replaced by the same step run in the grader: the repair is graded
    alone, and the 1000 steps of the runs do not cross to the sandbox one by one."""
    if setup.train_step is None:
        return setup
    expect(setup.train_step is lab.clipped_train_step and lab.MAX_NORM == ref.MAX_NORM,
           f"keep a standard step (None or your clipped_train_step) and MAX_NORM = "
           f"{ref.MAX_NORM}; got train_step={setup.train_step!r}, MAX_NORM={lab.MAX_NORM}")
    return setup.replace(train_step=lambda model, loss_fn, optimizer, X, y: clipped_step(
        model, loss_fn, optimizer, X, y, ref.MAX_NORM))


def drawn_here(setup, seed):
    """The setup with its model's weights drawn afresh by the grader, each weight matrix at its
    own scale (the scheme the student chose: He, Glorot with a gain...; biases and BatchNorm's
    scales stay), its running statistics reset and its optimizer checked fresh. The graded run
    starts untrained whatever the file returned: a net trained offline and embedded as data,
    with an optimizer that cannot move it (lr 1e-12), would otherwise pass for a repair."""
    expect(not any(len(state) for state in setup.optimizer.state.values()),
           f"{setup.name or 'the setup'}: its optimizer has already stepped (its state holds "
           "buffers); return it fresh, the test trains")
    redraw_(setup.model, np.random.default_rng(REDRAW_SEED + seed))
    return setup


def grade_deep_repair(credit, lab, ref, build, name, codes):
    X_train, y_train, X_val, y_val = ref.moons_data()

    def built():
        """A setup from ``build()``, checked: every graded net is (the file's function runs
        again for each, and may not give the checks one net and the runs another)."""
        setup = build()
        layers = count_linear(setup.model)
        expect(layers >= MIN_LINEAR_LAYERS,
               f"the {name} has {layers} Linear layers; keep at least {MIN_LINEAR_LAYERS} (the "
               f"lesson is to make a deep net train, not to make it shallow)")
        same = all(isinstance(data, (tuple, list)) and len(data) == 2
                   and np.shape(data[0]) == X.shape
                   and np.allclose(np.asarray(data[0], dtype=np.float64), X, atol=1e-6)
                   and np.array_equal(np.asarray(data[1]), y)
                   for data, (X, y) in ((setup.train_data, (X_train, y_train)),
                                        (setup.val_data, (X_val, y_val))))
        expect(same, f"{name}: train on the lab's moons_data() and keep its validation split "
                     "(inputs and labels as given)")
        expect(setup.batch_size == 32
               and setup.train_step in (None, lab.clipped_train_step),
               f"{name}: keep batches of 32 and a standard step (None or your "
               f"clipped_train_step); got batch_size={setup.batch_size}, "
               f"train_step={setup.train_step!r}")
        return setup

    with credit.part(2, f"{name}: still deep; the debugger reports no error and none of "
                        f"{', '.join(codes)}"):
        report = drawn_here(run_here(built(), lab, ref), seed=0).diagnose(steps=100)
        expect_no_errors(report, what=f"the repaired {name}")
        for code in codes:
            expect_no_finding(report, code, what=f"the repaired {name}")
    with credit.part(2, f"{name}: median validation accuracy >= {MIN_ACCURACY} after 200 "
                        f"steps over {len(BATCH_ORDER_SEEDS)} batch orders"):
        # A deep net's 200-step run is chaotic: the last bits of a BLAS kernel (they differ
        # between CPUs) can leave one run on a plateau. The median over batch orders grades
        # the repair, not the luck of one run.
        scores = []
        for seed in BATCH_ORDER_SEEDS:
            run = drawn_here(run_here(built(), lab, ref), seed).replace(seed=seed)
            run.train(steps=200)
            scores.append(ref.accuracy(run.model, X_val, y_val))
        expect_at_least(f"{name}: median validation accuracy after 200 steps (batch orders "
                        f"{', '.join(f'{score:.3f}' for score in scores)})",
                        float(np.median(scores)), MIN_ACCURACY, margin=ACCURACY_MARGIN)


@pytest.mark.points(4)
@pytest.mark.timeout(40)      # five 200-step runs: 9-14 s of wall time on the loaded 2-core machine
def test_vanishing_repair(credit):
    lab, ref = load()
    grade_deep_repair(credit, lab, ref, lab.vanishing_setup, "vanishing net",
                      ("grad.vanishing", "activation.scale"))


@pytest.mark.points(4)
@pytest.mark.timeout(40)      # five 200-step runs: 9-14 s of wall time on the loaded 2-core machine
def test_exploding_repair(credit):
    lab, ref = load()
    grade_deep_repair(credit, lab, ref, lab.exploding_setup, "exploding net",
                      ("grad.exploding", "activation.scale"))
