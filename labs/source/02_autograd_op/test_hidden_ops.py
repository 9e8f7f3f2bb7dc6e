"""Hidden tests of lab 02 (used by `minnet grade` only): the ops' outputs and gradients on
other shapes, seeds and scales than the public tests, against the reference solution."""
import numpy as np
import pytest

import minnet
from minnet.grading import expect, expect_close, expect_exact, reference
from minnet.grading.sandbox import sandboxed


def load():
    """The student's custom_ops.py in the sandbox (minnet.autograd a stand-in there), and the
    reference."""
    return (sandboxed(__file__, "custom_ops", allowed_imports=("numpy", "math"),
                      forbidden=("complex", "imag"), stand_ins=("minnet.autograd",)),
            reference(__file__, "custom_ops"))


def ops_of(ops):
    """The ops as the README defines them: ``<Class>.apply`` of the student's Functions."""
    return {"softplus": lambda x: ops.Softplus.apply(x),
            "prelu": lambda x, slope: ops.PReLU.apply(x, slope),
            "layer_norm": lambda x, weight, bias: ops.LayerNorm.apply(x, weight, bias, 1e-5)}


def run(op, arrays, upstream):
    """(output, [gradient of each input]) of op on fresh float64 leaves, for dL/dout = upstream."""
    leaves = [minnet.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    out = op(*leaves)
    expect(isinstance(out, minnet.Tensor), f"the op must return a minnet Tensor, got "
                                           f"{type(out).__name__}")
    (out * minnet.tensor(upstream)).sum().backward()
    grads = []
    for name, leaf in zip(("x", "second input", "third input"), leaves):
        expect(leaf.grad is not None, f"no gradient reached the {name} (shape {leaf.shape})")
        grads.append(leaf.grad.numpy())
    return out.numpy(), grads


def expect_same_op(what, mine, ref, arrays, upstream, names):
    out, grads = run(mine, arrays, upstream)
    want_out, want_grads = run(ref, arrays, upstream)
    expect_close(f"{what} output", out, want_out, rtol=1e-6, atol=1e-9)
    for name, got, want in zip(names, grads, want_grads):
        expect_exact(f"{what} gradient of {name}", got, want)


@pytest.mark.points(3)
def test_hidden_ops_other_shapes(credit):
    ops, ref = load()
    ops = ops_of(ops)
    rng = np.random.default_rng(9202)
    with credit.part(1, "softplus on (3, 1, 13), values up to +-40"):
        x = 15 * rng.standard_normal((3, 1, 13))
        expect_same_op("softplus (3, 1, 13)", ops["softplus"], ref.softplus, (x,),
                       rng.standard_normal(x.shape), ("x",))
    with credit.part(1, "prelu on (17,) and (4, 6) with a slope of 0.7 and one of 0.02"):
        for shape, slope in (((17,), 0.7), ((4, 6), 0.02)):
            x = rng.standard_normal(shape)
            x = np.where(np.abs(x) < 0.05, 0.05, x)
            expect_same_op(f"prelu {shape}, slope {slope}", ops["prelu"], ref.prelu,
                           (x, np.array([slope])), rng.standard_normal(shape), ("x", "slope"))
    with credit.part(1, "layer_norm on (4, 19) and on (1, 2, 5)"):
        for shape in ((4, 19), (1, 2, 5)):
            d = shape[-1]
            x = 2 * rng.standard_normal(shape) + 3
            weight, bias = rng.standard_normal(d), rng.standard_normal(d)
            expect_same_op(f"layer_norm {shape}", ops["layer_norm"], ref.layer_norm,
                           (x, weight, bias), rng.standard_normal(shape),
                           ("x", "weight", "bias"))
