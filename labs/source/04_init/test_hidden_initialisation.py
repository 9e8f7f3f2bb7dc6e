"""Hidden tests of lab 04 (used by `minnet grade` only): the initialisation functions on other
fans, activations, networks, labels and seeds than the public tests, against the reference."""
import numpy as np
import pytest

from minnet import nn
from minnet.grading import expect, expect_close, reference
from minnet.grading.sandbox import sandboxed

# the student's file runs in a sandbox process and may import only these
STUDENT_IMPORTS = ("numpy", "math", "os", "warnings", "minnet")


# the functions whose contract is to change their arguments (a model, an optimizer, a state):
# only their changes reach the test's objects; every other function works on copies
MUTATES = ("init_weights_", "set_output_bias_", "bad_init_", "train")

def load():
    ref = reference(__file__, "initialisation")          # before the student's file
    return sandboxed(__file__, "initialisation", allowed_imports=STUDENT_IMPORTS,
                     mutates=MUTATES), ref


@pytest.mark.points(3)
def test_hidden_init_other_layers(credit):
    lab, ref = load()
    with credit.part(1, "init_std for fans (3, 251), (509, 2) and every activation"):
        for fan_in, fan_out in ((3, 251), (509, 2)):
            for activation in ("relu", "leaky_relu", "elu", "tanh", "sigmoid", "selu", "linear"):
                expect_close(f"init_std({fan_in}, {fan_out}, {activation!r})",
                             float(lab.init_std(fan_in, fan_out, activation)),
                             ref.init_std(fan_in, fan_out, activation), rtol=1e-9)
    with credit.part(1, "init_weights_ on a Sigmoid/ELU/linear net draws what the reference "
                        "draws (generator seed 41)"):
        def net():
            return nn.Sequential(nn.Linear(29, 43), nn.Sigmoid(), nn.Linear(43, 31), nn.ELU(),
                                 nn.Linear(31, 3))
        mine, want = net(), net()
        returned = lab.init_weights_(mine, np.random.default_rng(41))
        ref.init_weights_(want, np.random.default_rng(41))
        expect(returned is mine, "init_weights_ must return the model it initialised")
        for index in (0, 2, 4):
            expect_close(f"layer {index} weight", mine[index].weight.numpy(),
                         want[index].weight.numpy(), rtol=1e-6, atol=1e-9)
            expect_close(f"layer {index} bias", mine[index].bias.numpy(),
                         want[index].bias.numpy(), atol=1e-12)
    with credit.part(1, "set_output_bias_: 7 classes with one rare, and regression targets "
                        "(N, 1) of mean 40"):
        rng = np.random.default_rng(9404)
        labels = np.concatenate([rng.integers(0, 6, 300), [6]])
        mine, want = nn.Linear(5, 7), nn.Linear(5, 7)
        lab.set_output_bias_(mine, labels, "classification")
        ref.set_output_bias_(want, labels, "classification")
        expect_close("classification bias (7 classes)", mine.bias.numpy(), want.bias.numpy(),
                     rtol=1e-5, atol=1e-6)
        targets = (40.0 + 5.0 * rng.standard_normal((83, 1))).astype(np.float32)
        mine, want = nn.Linear(5, 1), nn.Linear(5, 1)
        lab.set_output_bias_(mine, targets, "regression")
        ref.set_output_bias_(want, targets, "regression")
        expect_close("regression bias", mine.bias.numpy(), want.bias.numpy(), rtol=1e-5)
