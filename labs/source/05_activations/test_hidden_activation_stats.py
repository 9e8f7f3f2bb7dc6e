"""Hidden tests of lab 05 (used by `minnet grade` only): the activation statistics on other
shapes, seeds and dead/saturated patterns than the public tests, against the reference."""
import numpy as np
import pytest

from minnet.grading import expect_close, reference
from minnet.grading.sandbox import sandboxed

# the student's file runs in a sandbox process and may import only these
STUDENT_IMPORTS = ("numpy", "minnet", "math", "warnings", "copy", "collections")


def load():
    ref = reference(__file__, "activation_health")       # before the student's file
    return sandboxed(__file__, "activation_health", allowed_imports=STUDENT_IMPORTS), ref


@pytest.mark.points(2)
def test_hidden_statistics_other_shapes(credit):
    lab, ref = load()
    rng = np.random.default_rng(9505)
    with credit.part(1, "dead_fraction on (1, 41) and on conv outputs (3, 5, 2, 7)"):
        a = np.maximum(rng.standard_normal((1, 41)), 0.0)
        expect_close("dead_fraction(one sample, 41 units)", float(lab.dead_fraction(a)),
                     ref.dead_fraction(a))
        conv = np.maximum(rng.standard_normal((3, 5, 2, 7)), 0.0)
        conv[:, [0, 3]] = 0.0                          # two dead channels
        conv[1, 2] = 0.0                               # one channel silent on one image only
        expect_close("dead_fraction(conv output (3, 5, 2, 7))", float(lab.dead_fraction(conv)),
                     ref.dead_fraction(conv))
    with credit.part(1, "saturated_fraction on (3, 4, 5) tanh and sigmoid outputs near the "
                        "limits"):
        x = rng.standard_normal((3, 4, 5)) * 4
        for kind, values in (("tanh", np.tanh(x)), ("sigmoid", 1 / (1 + np.exp(-x)))):
            expect_close(f"saturated_fraction({kind} outputs (3, 4, 5))",
                         float(lab.saturated_fraction(values, kind)),
                         ref.saturated_fraction(values, kind))
        edge = np.array([-0.991, -0.99, 0.989, 0.99, 0.9901, -1.0, 1.0])
        expect_close("saturated_fraction(values at and around +-0.99, 'tanh')",
                     float(lab.saturated_fraction(edge, "tanh")),
                     ref.saturated_fraction(edge, "tanh"))
