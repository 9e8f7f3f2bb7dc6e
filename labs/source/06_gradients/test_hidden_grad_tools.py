"""Hidden tests of lab 06 (used by `minnet grade` only): the gradient tools on other networks,
gradients, limits and seeds than the public tests, against the reference solution."""
import numpy as np
import pytest

import minnet
from minnet import nn
from minnet.grading import expect, expect_close, planted, reference
from minnet.grading.sandbox import sandboxed


# the functions whose contract is to change their arguments (a model, an optimizer, a state):
# only their changes reach the test's objects; every other function works on copies
MUTATES = ("clipped_train_step", "save_grad_norm_plot")

# what gradient_flow.py may import (the README says so)
STUDENT_IMPORTS = ("numpy", "minnet", "math", "warnings", "copy", "collections")


def load():
    return (sandboxed(__file__, "gradient_flow", allowed_imports=STUDENT_IMPORTS,
                      mutates=MUTATES),
            reference(__file__, "gradient_flow"))


def Block():  # noqa: N802 -- reads as the class it stands for
    """head(inner(x)): named submodules, a nested Sequential and a bias-free layer (a planted
    module: it crosses to the student's process as data)."""
    return planted.Nested(nn.Sequential(nn.Linear(3, 11), nn.Tanh(), nn.Linear(11, 5)),
                          nn.Linear(5, 2, bias=False))


@pytest.mark.points(3)
def test_hidden_grad_tools_other_models(credit):
    lab, ref = load()
    with credit.part(1, "layer_grad_norms on a nested model with a bias-free layer"):
        minnet.manual_seed(7)
        model = Block()
        rng = np.random.default_rng(9606)
        X = minnet.tensor(rng.standard_normal((13, 3)).astype(np.float32))
        (model(X) ** 2).mean().backward()
        got, want = lab.layer_grad_norms(model), ref.layer_grad_norms(model)
        expect(isinstance(got, dict) and list(got) == list(want),
               f"layer_grad_norms returned the layers {list(got) if isinstance(got, dict) else got!r}"
               f"; expected {list(want)} (the parameter names up to the last dot, in order)")
        for name in want:
            expect_close(f"norm of layer {name!r}", float(got[name]), want[name], rtol=1e-5)
    with credit.part(1, "flow_verdict at and around other limits"):
        cases = [({"a": 1e-3, "b": 2.0, "c": 1.0}, 1e-2, 5.0),
                 ({"a": 5.0, "b": 1.0}, 1e-2, 5.0),
                 ({"a": 0.01, "b": 1.0}, 1e-2, 5.0),
                 ({"a": 5.0001, "z": 1.0}, 1e-2, 5.0),
                 ({"a": 3.0, "b": 0.0}, 1e-2, 5.0)]
        for norms, vanishing, exploding in cases:
            expect_close_text = ref.flow_verdict(norms, vanishing, exploding)
            got = lab.flow_verdict(norms, vanishing, exploding)
            expect(got == expect_close_text,
                   f"flow_verdict({norms}, vanishing={vanishing}, exploding={exploding}) is "
                   f"{got!r}, expected {expect_close_text!r}")
    with credit.part(1, "clipped_train_step with max_norm=0.3 takes the reference's step"):
        rng = np.random.default_rng(9607)
        X = minnet.tensor(rng.standard_normal((9, 4)).astype(np.float32))
        y = minnet.tensor(rng.integers(0, 3, 9))
        params = []
        for module in (lab, ref):
            minnet.manual_seed(3)
            model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))
            optimizer = minnet.optim.SGD(model.parameters(), lr=0.5)
            for _ in range(2):
                module.clipped_train_step(model, nn.CrossEntropyLoss(), optimizer, X, y,
                                          max_norm=0.3)
            params.append([p.numpy().copy() for p in model.parameters()])
        for index, (got, want) in enumerate(zip(*params)):
            expect_close(f"parameter {index} after two clipped steps", got, want, rtol=1e-5,
                         atol=1e-7)
