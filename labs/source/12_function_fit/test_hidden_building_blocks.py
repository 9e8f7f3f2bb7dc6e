"""Hidden tests of lab 12 (used by `minnet grade` only): composing layers, ReLU pieces and
build_net on other shapes, knots and seeds than the public tests, against the reference."""
import numpy as np
import pytest

from minnet.grading import expect, expect_close, reference
from minnet.grading.sandbox import sandboxed


# the functions whose contract is to change their arguments (a model, an optimizer, a state):
# only their changes reach the test's objects; every other function works on copies
MUTATES = ("init_layer", "train")

# what the student's file may import (the README says so)
STUDENT_IMPORTS = ("numpy", "minnet", "math", "warnings", "copy", "collections")


def load():
    return (sandboxed(__file__, "function_fit", allowed_imports=STUDENT_IMPORTS, mutates=MUTATES,
                      forbidden=("xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
                                 "kaiming_normal_", "lecun_normal_", "lecun_uniform_",
                                 "_calculate_fan_in_and_fan_out", "_calculate_correct_fan")),
            reference(__file__, "function_fit"))


@pytest.mark.points(3)
def test_hidden_building_blocks_other_inputs(credit):
    mine, ref = load()
    rng = np.random.default_rng(12012)
    with credit.part(1, "compose_linear of four layers 2 -> 6 -> 1 -> 5 -> 3"):
        sizes = (2, 6, 1, 5, 3)
        layers = [(rng.standard_normal((n_out, n_in)), rng.standard_normal(n_out))
                  for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        got = mine.compose_linear(layers)
        want = ref.compose_linear(layers)
        expect(isinstance(got, (tuple, list)) and len(got) == 2,
               "compose_linear must return (weight, bias)")
        expect_close("composed weight (3, 2)", got[0], want[0], rtol=1e-9)
        expect_close("composed bias (3,)", got[1], want[1], rtol=1e-9, atol=1e-12)
    with credit.part(1, "relu_pieces through 4 unevenly spaced knots, on [-7, 7]"):
        knots = np.array([-2.5, -0.4, 0.1, 2.9])
        values = np.array([1.5, -2.0, 0.7, 0.2])
        xs = np.linspace(-7, 7, 141)
        expect_close("relu_pieces(4 knots) on [-7, 7]",
                     ref.predict(mine.relu_pieces(knots, values), xs),
                     ref.predict(ref.relu_pieces(knots, values), xs), rtol=1e-5, atol=1e-5)
    with credit.part(1, "build_net(hidden=(3, 4, 2), 'relu', 'he', seed=9): the reference's "
                        "layers and parameters"):
        got = mine.build_net(hidden=(3, 4, 2), activation="relu", init="he", seed=9)
        want = ref.build_net(hidden=(3, 4, 2), activation="relu", init="he", seed=9)
        names = [type(m).__name__ for m in got.children()]
        expect(names == [type(m).__name__ for m in want.children()],
               f"build_net((3, 4, 2), 'relu') gave {names}")
        for (name, p), q in zip(got.named_parameters(), want.parameters()):
            expect_close(name, p.numpy(), q.numpy(), rtol=1e-6)
