"""minnet.grading.untrained: the checks that a graded training run starts untrained."""
import numpy as np

import minnet
from minnet import nn, optim
from minnet.grading.untrained import (drawn_afresh_problem, optimizer_problem,
                                      parameters_problem, redraw_)
from minnet.debug import Setup


def mlp(seed=0):
    generator = np.random.default_rng(seed)
    return nn.Sequential(nn.Linear(3, 5, generator=generator), nn.BatchNorm1d(5), nn.ReLU(),
                         nn.Linear(5, 2, generator=generator))


def test_parameters_problem_accepts_the_builders_model_and_refuses_a_trained_one():
    assert parameters_problem(mlp(0), mlp(0)) is None
    trained = mlp(0)
    with minnet.no_grad():
        trained[0].weight.add_(1e-3)
    assert "0.weight" in parameters_problem(trained, mlp(0))
    assert "Keep the model" in parameters_problem(nn.Sequential(nn.Linear(3, 2)), mlp(0))
    stats = mlp(0)
    stats[1].running_mean.copy_(np.ones(5, np.float32))
    assert "running_mean" in parameters_problem(stats, mlp(0))


def test_optimizer_problem_compares_every_setting_but_the_free_ones():
    model = mlp(0)
    lab = optim.Adam(mlp(0).parameters(), lr=3e-3, weight_decay=1.0)
    assert optimizer_problem(optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4), lab,
                             model, free=("weight_decay",)) is None
    frozen = optim.Adam(model.parameters(), lr=3e-3, eps=1e12)
    assert "eps" in optimizer_problem(frozen, lab, model, free=("weight_decay",))
    assert "SGD" in optimizer_problem(optim.SGD(model.parameters(), lr=3e-3), lab, model)
    partial = optim.Adam(list(model.parameters())[:2], lr=3e-3)
    assert "exactly the model's parameters" in optimizer_problem(partial, lab, model,
                                                                 free=("weight_decay",))


def test_optimizer_problem_refuses_an_optimizer_that_has_stepped():
    model = mlp(0)
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(minnet.tensor(np.ones((4, 3), np.float32))).sum().backward()
    optimizer.step()
    lab = optim.SGD(mlp(0).parameters(), lr=0.1, momentum=0.9)
    assert "already stepped" in optimizer_problem(optimizer, lab, model)
    setup = Setup(model, nn.MSELoss(), optimizer, (np.ones((4, 3)), np.ones((4, 2))))
    assert "already stepped" in drawn_afresh_problem(setup, np.random.default_rng(0))


def test_redraw_keeps_each_weights_scale_and_the_vectors_and_resets_running_stats():
    model = mlp(0)
    with minnet.no_grad():
        model[0].weight.mul_(7.0)                   # a scheme's scale: kept
        model[3].bias.copy_(np.array([0.5, -2.0], np.float32))   # a prior set on purpose
    model[1].running_var.copy_(np.full(5, 9.0, np.float32))
    before = [p.numpy().copy() for p in model.parameters()]
    redraw_(model, np.random.default_rng(1))
    after = [p.numpy() for p in model.parameters()]
    for old, new, (name, _) in zip(before, after, model.named_parameters()):
        if old.ndim >= 2:
            assert not np.allclose(old, new), name
            assert abs(np.sqrt(np.mean(new ** 2)) / np.sqrt(np.mean(old ** 2)) - 1) < 0.5, name
        else:
            np.testing.assert_array_equal(old, new, err_msg=name)
    np.testing.assert_array_equal(model[1].running_var.numpy(), np.ones(5, np.float32))
    again = mlp(0)
    with minnet.no_grad():
        again[0].weight.mul_(7.0)
        again[3].bias.copy_(np.array([0.5, -2.0], np.float32))
    redraw_(again, np.random.default_rng(1))                 # the same draw for the same seed
    for p, q in zip(model.parameters(), again.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


# Lab tests that train or diagnose what a student's file returned, and how each makes sure
# the run starts untrained without minnet.grading.untrained
OWN_START_CHECKS = {
    "04_init/test_initialisation.py": "untrained_problem: the model's outputs as built",
    "12_function_fit/test_function_fit.py": "RecordedFit: build_net and train are the grader's",
    "10_overfit_regularize/test_hidden_overfit_tools.py": "model.train(mode) only, no run",
}


def test_every_lab_test_that_trains_a_students_run_checks_its_start():
    """A graded training run must start untrained: lab 05 trained relu_setup()'s model as it
    came, and a net trained inside the setup function with lr 1e-12 scored its three repairs
    (11/20, honest 0; labs/source/_attacks/lab05_pretrained_setups.py)."""
    import glob
    import os
    import re

    labs = os.path.join(os.path.dirname(__file__), os.pardir, "labs")
    files = (glob.glob(os.path.join(labs, "[0-9]*", "test_*.py"))
             + glob.glob(os.path.join(labs, "source", "[0-9]*", "test_hidden_*.py")))
    assert len(files) >= 12
    unchecked = []
    for path in files:
        with open(path, encoding="utf-8") as file:
            text = file.read()
        name = "/".join(path.replace(os.sep, "/").split("/")[-2:])
        if (re.search(r"\.train\(|train_setup\(|diagnose\(", text)
                and "minnet.grading.untrained" not in text and name not in OWN_START_CHECKS):
            unchecked.append(name)
    assert not unchecked, f"lab tests training a student's run from where it came: {unchecked}"
