"""Graded tests of lab 02 (your own autograd op): `pytest labs/02_autograd_op`.

Each op is checked against finite differences with minnet.gradcheck (float64),
its output against the reference solution, and its gradients (through a
backward pass with a random upstream gradient) against the reference on
another shape. Shapes are prime and pairwise different (5 x 7, 2 x 3 x 11), so
a sum over the wrong axis or a swapped weight/bias gradient cannot hide.

Your file runs in a sandbox (another process): there ``minnet.autograd`` is a stand-in
that has ``Function`` and nothing else (no autograd engine, no numerical gradients), and
the graph is built here, calling your ``forward`` and ``backward`` with arrays. Gradients
are compared with the exact ones to float64 rounding: a numerical "backward" is not a
derivation.
"""
import inspect
import warnings

import numpy as np
import pytest

import minnet
from minnet.autograd import Function
from minnet.gradcheck import GradcheckWarning, gradcheck
from minnet.grading import (LabFailure, expect, expect_close, expect_exact, expect_gradcheck,
                            reference)
from minnet.grading.sandbox import sandboxed
from minnet.grading.wire import Record

# what custom_ops.py may use: NumPy and math, and minnet.autograd's Function (a stand-in in
# the sandbox); a derivative by the complex step is not a derivation either
STUDENT_IMPORTS = ("numpy", "math")
STAND_INS = ("minnet.autograd",)
HAND_WRITTEN = ("complex", "imag")


# kink_free must NOT change the array it is given, and test_kinks checks that it does not: so
# its changes come back to the test's array x (the only function whose changes do here)
MUTATES = {"kink_free": (0, "x")}

def load():
    """(student's custom_ops.py in the sandbox, reference custom_ops.py)."""
    return (sandboxed(__file__, "custom_ops", allowed_imports=STUDENT_IMPORTS,
                      forbidden=HAND_WRITTEN, stand_ins=STAND_INS, mutates=MUTATES),
            reference(__file__, "custom_ops"))



def leaf(array):
    """A float64 Tensor that requires grad (a fresh leaf for every use)."""
    return minnet.tensor(np.array(array, dtype=np.float64), requires_grad=True)


def output_and_grads(op, arrays, upstream):
    """Run op on fresh leaves, backward with dL/d(out) = upstream: (out, [grad per input])."""
    leaves = [leaf(a) for a in arrays]
    out = op(*leaves)
    expect(isinstance(out, minnet.Tensor),
           f"the op must return a minnet Tensor (Function.apply does), got {type(out).__name__}")
    (out * minnet.tensor(upstream)).sum().backward()
    grads = []
    try:
        names = list(inspect.signature(op).parameters)
    except (TypeError, ValueError):
        names = []
    for i, t in enumerate(leaves):
        label = names[i] if i < len(names) else f"input {i}"
        expect(t.grad is not None, f"no gradient reached {label} (shape {t.shape}): does "
                                   "backward return one gradient per forward argument?")
        grads.append(t.grad.numpy())
    return out.numpy(), grads


def own_op(ops, function_name, class_name):
    """The op ``function_name`` as the README defines it (``<class_name>.apply``), built from
    the student's own Function: the graph node is made here, its forward and backward are
    the student's, run in the sandbox. (The given wrappers softplus/prelu/layer_norm only
    call apply; an op composed of minnet's built-in ops cannot run there at all.)"""
    own_class = getattr(ops, class_name, None)
    expect(isinstance(own_class, type) and issubclass(own_class, Function),
           f"custom_ops.{class_name} must be a subclass of minnet.autograd.Function")
    extra = (1e-5,) if function_name == "layer_norm" else ()   # layer_norm's default eps

    def op(*args):
        return own_class.apply(*args, *extra)

    # the gradcheck report names each input after the README (x, slope, weight, bias), not
    # "input 0/1/2" (it reads the names from the signature)
    op.__signature__ = inspect.Signature(
        [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD)
         for name in INPUT_NAMES[function_name]])
    return op


INPUT_NAMES = {"softplus": ("x",), "prelu": ("x", "slope"),
               "layer_norm": ("x", "weight", "bias")}


def expect_exact_grads(what, op, ref_op, arrays, upstream):
    """The op's gradients equal the reference's to float64 rounding (``expect_exact``): a
    backward that differentiates numerically agrees only to 1e-6..1e-10."""
    _, got = output_and_grads(op, arrays, upstream)
    _, expected = output_and_grads(ref_op, arrays, upstream)
    for name, g, e in zip(INPUT_NAMES[what], got, expected):
        expect_exact(f"{what} grad of {name}", g, e)


def away_from_zero(rng, shape, margin=0.1):
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < margin, np.where(x < 0, -margin, margin), x)


def quiet_gradcheck(fn, inputs, **kwargs):
    """minnet.gradcheck without the kink warnings on stderr (the lab reads the result)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GradcheckWarning)
        return gradcheck(fn, inputs, **kwargs)


# ---------------------------------------------------------------------------
# softplus
# ---------------------------------------------------------------------------
@pytest.mark.points(3)
def test_softplus(credit):
    ops, ref = load()
    rng = np.random.default_rng(201)
    x = 3 * rng.standard_normal((5, 7))
    softplus = own_op(ops, "softplus", "Softplus")
    with credit.part(1, "softplus forward matches the reference"):
        expect_close("softplus(x)", softplus(leaf(x)).numpy(), ref.softplus(leaf(x)).numpy())
    with credit.part(1, "softplus is stable: softplus(+-1000) is finite (1000 and 0)"):
        big = np.array([-1000.0, -60.0, -1.5, 0.0, 2.5, 60.0, 1000.0])
        with np.errstate(over="raise", invalid="raise"):
            try:
                got = softplus(leaf(big)).numpy()
            except FloatingPointError as error:
                raise LabFailure(f"softplus overflowed on {big.tolist()} ({error}). Hint: "
                                     "log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|))") from None
        expect_close("softplus at large |x|", got, ref.softplus(leaf(big)).numpy())
    with credit.part(1, "Softplus.backward passes gradcheck (float64) and equals the exact "
                        "gradient"):
        expect_gradcheck(softplus, (leaf(x),), name="softplus")
        expect_exact_grads("softplus", softplus, ref.softplus, (x,),
                           rng.standard_normal(x.shape))


# ---------------------------------------------------------------------------
# PReLU
# ---------------------------------------------------------------------------
@pytest.mark.points(4)
def test_prelu(credit):
    ops, ref = load()
    rng = np.random.default_rng(202)
    x = away_from_zero(rng, (5, 7))
    slope = rng.uniform(0.05, 0.5, size=1)
    prelu = own_op(ops, "prelu", "PReLU")
    with credit.part(1, "prelu forward matches the reference"):
        expect_close("prelu(x, slope)", prelu(leaf(x), leaf(slope)).numpy(),
                     ref.prelu(leaf(x), leaf(slope)).numpy())
    with credit.part(2, "PReLU.backward passes gradcheck for x and the slope (inputs away "
                        "from the kink) and equals the exact gradient"):
        expect_gradcheck(prelu, (leaf(x), leaf(slope)), name="prelu")
        expect_exact_grads("prelu", prelu, ref.prelu, (x, slope), rng.standard_normal(x.shape))
    with credit.part(1, "PReLU gradients match the reference on another shape (2, 3, 11)"):
        x3, slope3 = away_from_zero(rng, (2, 3, 11)), rng.uniform(0.05, 0.5, size=1)
        expect_exact_grads("prelu", prelu, ref.prelu, (x3, slope3),
                           rng.standard_normal((2, 3, 11)))


# ---------------------------------------------------------------------------
# layer norm
# ---------------------------------------------------------------------------
@pytest.mark.points(7)
def test_layer_norm(credit):
    ops, ref = load()
    rng = np.random.default_rng(203)
    x = 3 * rng.standard_normal((5, 7)) + rng.standard_normal((5, 1))   # rows with own offsets
    weight, bias = 1 + 0.5 * rng.standard_normal(7), rng.standard_normal(7)
    layer_norm = own_op(ops, "layer_norm", "LayerNorm")
    with credit.part(1, "layer_norm forward matches the reference"):
        expect_close("layer_norm(x, weight, bias)",
                     layer_norm(leaf(x), leaf(weight), leaf(bias)).numpy(),
                     ref.layer_norm(leaf(x), leaf(weight), leaf(bias)).numpy())
    with credit.part(2, "layer_norm normalises each row: with weight 1 and bias 0 every row "
                        "has mean 0 and (biased) standard deviation 1, and shifting or "
                        "scaling a row does not change its output"):
        ones, zeros = np.ones(7), np.zeros(7)
        plain = layer_norm(leaf(x), leaf(ones), leaf(zeros)).numpy()
        expect_close("per-row mean of layer_norm(x, 1, 0)", plain.mean(axis=-1), np.zeros(5),
                     atol=1e-9)
        expect_close("per-row standard deviation (divide by D) of layer_norm(x, 1, 0)",
                     plain.std(axis=-1), np.ones(5), rtol=1e-4)
        scale, shift = rng.uniform(0.5, 4, size=(5, 1)), rng.standard_normal((5, 1))
        moved = layer_norm(leaf(scale * x + shift), leaf(ones), leaf(zeros)).numpy()
        expect_close("layer_norm(a * x + c) per row (vs layer_norm(x))", moved, plain,
                     rtol=1e-5, atol=1e-6)
    with credit.part(3, "LayerNorm.backward passes gradcheck for x, weight and bias and "
                        "equals the exact gradient"):
        expect_gradcheck(layer_norm, (leaf(x), leaf(weight), leaf(bias)), name="layer_norm")
        expect_exact_grads("layer_norm", layer_norm, ref.layer_norm, (x, weight, bias),
                           rng.standard_normal(x.shape))
    with credit.part(1, "LayerNorm gradients match the reference on another shape (2, 3, 11)"):
        x3 = 2 * rng.standard_normal((2, 3, 11))
        w3, b3 = rng.standard_normal(11), rng.standard_normal(11)
        expect_exact_grads("layer_norm", layer_norm, ref.layer_norm, (x3, w3, b3),
                           rng.standard_normal((2, 3, 11)))


# ---------------------------------------------------------------------------
# kinks
# ---------------------------------------------------------------------------
def with_kinks(rng, shape):
    """Random entries, about 40% of them within eps = 1e-6 of PReLU's kink at 0.

    Entries at 0 or +-1e-9 are flagged by the checker as kinks; entries at +-3e-7
    are not (at eps / 10 they are smooth), but x +- eps still straddles 0 there,
    so they show up as plain mismatches: kinks and mismatches differ.
    """
    x = rng.standard_normal(shape)
    near_kink = rng.random(shape) < 0.4
    x[near_kink] = rng.choice([0.0, 1e-9, -1e-9, 3e-7, -3e-7], size=int(near_kink.sum()))
    return x


class LeakyWithWrongBackward(Function):
    """A leaky ReLU (slope 0.1) whose backward forgets the slope: its gradient check has
    real mismatches (every negative entry) besides the kinks."""

    @staticmethod
    def forward(ctx, v):
        ctx.save_for_backward(v.numpy())
        return np.where(v.numpy() > 0, v.numpy(), 0.1 * v.numpy())

    @staticmethod
    def backward(ctx, grad_output):
        (v,) = ctx.saved_tensors
        return grad_output.numpy() * (v > 0)          # the bug: 0 instead of 0.1 for v <= 0


@pytest.mark.points(4)
def test_kinks(credit):
    ops, ref = load()
    rng = np.random.default_rng(204)
    # every part's data drawn here, before any part runs: a part that fails half-way must not
    # change the next part's inputs (a student repository replays the reference's results
    # recorded for exactly these)
    x = with_kinks(rng, (7, 5))
    y = rng.standard_normal((3, 11))
    x_checked = with_kinks(rng, (5, 7))
    v = with_kinks(rng, (3, 7))
    z, scale = with_kinks(rng, (3, 2, 5)), rng.standard_normal((3, 2, 5))
    with credit.part(2, "kink_free moves entries closer than margin to 0 out to +-margin, keeps "
                        "the others and the caller's array, and makes the check pass with "
                        "count_kinks=True"):
        x[0, :3] = [2e-4, -5e-4, 3e-3]                      # near, near, far enough
        before = x.copy()
        margin = 1e-3
        moved = np.asarray(ops.kink_free(x, margin=margin))
        expect(np.array_equal(x, before), "kink_free changed the array it was given: work on "
                                          "a copy (np.array(x) copies)")
        expect_close("kink_free(x, margin=1e-3)", moved, ref.kink_free(x, margin=margin))
        want = ref.kink_free(y.copy(), margin=0.5)         # before: kink_free's changes to y
        expect_close("kink_free(y, margin=0.5)", np.asarray(ops.kink_free(y, margin=0.5)),
                     want)                                 # come back (MUTATES)
        slope = np.array([0.2])
        result = quiet_gradcheck(ref.prelu, (leaf(moved), leaf(slope)), count_kinks=True)
        expect(bool(result) and all(c.n_kinks == 0 for c in result.inputs),
               "gradcheck of PReLU at kink_free(x) should pass with no kinks:\n" + str(result))
    with credit.part(2, "kinks_found reads the entries the checker flagged as kinks from a "
                        "gradcheck result"):
        result = quiet_gradcheck(ref.prelu, (leaf(x_checked), leaf(np.array([0.3]))))
        expected = ref.kinks_found(result)
        expect(len(expected["x"]) > 0, "test setup: the check should find kinks")   # sanity
        got = ops.kinks_found(Record.of(result))
        expect(got == expected, f"kinks_found(result) returned {got!r}; expected {expected!r} "
                                "(the entries whose .kink mask is True, per input name)")
        buggy = quiet_gradcheck(lambda v: LeakyWithWrongBackward.apply(v), (leaf(v),))
        expected = ref.kinks_found(buggy)
        expect(buggy["v"].mismatch.sum() > len(expected["v"]) > 0,
               "test setup: the buggy op's check should find kinks and real mismatches")
        got = ops.kinks_found(Record.of(buggy))
        expect(got == expected, f"kinks_found on the check of an op with a wrong backward "
                                f"returned {got!r}; expected {expected!r} (kinks only, not every "
                                "mismatch)")
        other = quiet_gradcheck(lambda z, scale: z.relu() * scale, (leaf(z), leaf(scale)))
        got, expected = ops.kinks_found(Record.of(other)), ref.kinks_found(other)
        expect(got == expected, f"kinks_found on a check of relu(z) * scale returned {got!r}; "
                                f"expected {expected!r}")
