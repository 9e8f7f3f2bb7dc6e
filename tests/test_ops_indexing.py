"""Picking, rearranging and testing entries (gather, scatter, index_select, flip, roll,
diagonal, isnan, ...) and the smaller math ops (erf, atan2, logaddexp, lerp, ...): values
against NumPy, float64 gradchecks, repeated indices adding up, clear errors."""
import math

import numpy as np
import pytest

import minnet
from minnet import ops
from minnet.nn import functional as F

RNG = np.random.default_rng(0)
A = RNG.normal(size=(3, 4))
B = RNG.normal(size=(2, 3, 4))


def leaf(array):
    return minnet.tensor(np.array(array, dtype=np.float64), requires_grad=True)


def check(fn, *inputs):
    result = minnet.gradcheck(fn, tuple(inputs))
    assert result, result


# -- gather / scatter / index_select / masked_select / take --------------------------------
def test_gather_picks_along_dim_and_repeated_picks_add_their_gradients():
    index = np.array([[0, 0], [3, 1], [2, 2]])
    out = ops.gather(leaf(A), 1, index)
    np.testing.assert_array_equal(out.numpy(), np.take_along_axis(A, index, axis=1))
    x = leaf(A)
    ops.gather(x, 1, index).sum().backward()
    expected = np.zeros_like(A)
    np.add.at(expected, (np.arange(3)[:, None], index), 1.0)
    np.testing.assert_array_equal(x.grad.numpy(), expected)   # row 0 column 0 picked twice: 2
    check(lambda a: ops.gather(a, 0, np.array([[2, 0, 1, 1], [0, 0, 0, 0]])), leaf(A))


def test_gather_the_scores_of_the_labels_as_in_a_hand_written_loss():
    labels = minnet.tensor([3, 0, 2])
    picked = leaf(A).gather(1, labels.unsqueeze(1))
    np.testing.assert_array_equal(picked.numpy()[:, 0], A[np.arange(3), [3, 0, 2]])


def test_scatter_writes_and_its_gradient_skips_the_overwritten_entries():
    index = np.array([[0, 1, 2, 0]])
    src = leaf(RNG.normal(size=(1, 4)))
    out = ops.scatter(leaf(A), 0, index, src)
    expected = A.copy()
    expected[index[0], np.arange(4)] = src.numpy()[0]
    np.testing.assert_array_equal(out.numpy(), expected)
    check(lambda a, s: ops.scatter(a, 0, index, s), leaf(A), src)
    np.testing.assert_array_equal(leaf(A).scatter(1, np.array([[3], [0], [1]]), value=7.0)
                                  .numpy()[[0, 1, 2], [3, 0, 1]], [7.0, 7.0, 7.0])


def test_scatter_add_accumulates_repeated_places():
    index = np.array([[0, 0, 2, 2], [0, 1, 1, 2]])
    src = leaf(RNG.normal(size=(2, 4)))
    expected = A.copy()
    np.add.at(expected, (index, np.arange(4)[None, :]), src.numpy())
    np.testing.assert_allclose(ops.scatter_add(leaf(A), 0, index, src).numpy(), expected)
    check(lambda a, s: ops.scatter_add(a, 0, index, s), leaf(A), src)


@pytest.mark.parametrize("dim,index", [(0, [1, 0, 1]), (1, [2, 2, 0]), (-1, [3]), (2, [])])
def test_index_select_matches_take_and_sums_repeated_rows(dim, index):
    index = np.array(index, dtype=np.int64)
    np.testing.assert_array_equal(ops.index_select(leaf(B), dim, index).numpy(),
                                  np.take(B, index, axis=dim))
    check(lambda b: ops.index_select(b, dim, index), leaf(B))


def test_masked_select_and_take():
    mask = np.array([True, False, True, True])   # broadcast over the rows
    np.testing.assert_array_equal(ops.masked_select(leaf(A), mask).numpy(),
                                  np.broadcast_to(A, (3, 4))[np.broadcast_to(mask, (3, 4))])
    check(lambda a: ops.masked_select(a, mask), leaf(A))
    index = np.array([[0, 11, -1], [5, 5, 2]])
    np.testing.assert_array_equal(ops.take(leaf(A), index).numpy(), A.reshape(-1)[index])
    check(lambda a: ops.take(a, index), leaf(A))


def test_nonzero_and_argsort():
    x = minnet.tensor([[0.0, 2.0], [3.0, 0.0]])
    assert ops.nonzero(x).tolist() == [[0, 1], [1, 0]]
    rows, cols = x.nonzero(as_tuple=True)
    assert rows.tolist() == [0, 1] and cols.tolist() == [1, 0]
    assert minnet.argsort(minnet.tensor([3.0, 1.0, 2.0])).tolist() == [1, 2, 0]
    assert minnet.tensor([3.0, 1.0, 2.0]).argsort(descending=True).tolist() == [0, 2, 1]


def test_index_errors_name_the_function_and_the_bounds():
    with pytest.raises(TypeError, match=r"gather\(\): index must hold integers"):
        ops.gather(leaf(A), 0, np.zeros((3, 4)))
    with pytest.raises(IndexError, match=r"gather\(\): index 3 is out of bounds for dim 0 of "
                                         r"size 3"):
        ops.gather(leaf(A), 0, np.full((3, 4), 3))
    with pytest.raises(ValueError, match=r"gather\(\): index must have as many dims.*unsqueeze"):
        ops.gather(leaf(A), 1, np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match=r"index_select\(\): index must be 1-D"):
        ops.index_select(leaf(A), 0, np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(TypeError, match=r"masked_select\(\): mask must be a bool tensor"):
        ops.masked_select(leaf(A), A)
    with pytest.raises(ValueError, match=r"scatter\(\): reduce='add' is not supported"):
        ops.scatter(leaf(A), 0, np.zeros((1, 4), dtype=np.int64), 1.0, reduce="add")


# -- rearranging -------------------------------------------------------------------------
@pytest.mark.parametrize("name,fn,reference", [
    ("flip", lambda b: ops.flip(b, (0, 2)), lambda b: b[::-1, :, ::-1]),
    ("roll_flat", lambda b: ops.roll(b, 3), lambda b: np.roll(b, 3)),
    ("roll_dims", lambda b: ops.roll(b, (1, -2), (0, 2)), lambda b: np.roll(b, (1, -2), (0, 2))),
    ("narrow", lambda b: ops.narrow(b, 2, 1, 2), lambda b: b[:, :, 1:3]),
    ("movedim", lambda b: ops.movedim(b, 0, -1), lambda b: np.moveaxis(b, 0, -1)),
    ("movedim_two", lambda b: ops.movedim(b, (0, 2), (1, 0)),
     lambda b: np.moveaxis(b, (0, 2), (1, 0))),
    ("swapaxes", lambda b: ops.swapaxes(b, 0, 2), lambda b: np.swapaxes(b, 0, 2)),
    ("tile", lambda b: ops.tile(b, (2, 1)), lambda b: np.tile(b, (2, 1))),
    ("broadcast_to", lambda b: ops.broadcast_to(b, (5, 2, 3, 4)),
     lambda b: np.broadcast_to(b, (5, 2, 3, 4))),
    ("ravel", ops.ravel, np.ravel),
    ("diagonal", lambda b: ops.diagonal(b, 1, 1, 2), lambda b: np.diagonal(b, 1, 1, 2)),
    ("diagonal_below", lambda b: ops.diagonal(b, -1, 2, 0), lambda b: np.diagonal(b, -1, 2, 0)),
    ("mT", lambda b: b.mT, lambda b: np.swapaxes(b, -1, -2)),
])
def test_rearranging_ops_match_numpy_and_gradcheck(name, fn, reference):
    np.testing.assert_array_equal(fn(leaf(B)).numpy(), reference(B))
    check(fn, leaf(B))


def test_unbind_stacks_and_diag():
    rows = ops.unbind(leaf(A), 1)
    assert len(rows) == 4 and rows[2].tolist() == A[:, 2].tolist()
    check(lambda a: ops.unbind(a, 0)[1] * 2, leaf(A))
    np.testing.assert_array_equal(ops.hstack([leaf(A), leaf(A[:, :2])]).numpy(),
                                  np.hstack([A, A[:, :2]]))
    np.testing.assert_array_equal(ops.vstack([leaf(A), leaf(A[0])]).numpy(), np.vstack([A, A[0]]))
    v = leaf([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(ops.diag(v, 1).numpy(), np.diag([1.0, 2.0, 3.0], 1))
    np.testing.assert_array_equal(ops.diag(leaf(A), -1).numpy(), np.diag(A, -1))
    check(lambda a: ops.diag(a, -1), v)
    check(lambda a: ops.diag(a, 2), leaf(A))
    assert ops.t(leaf(A)).shape == (4, 3) and ops.t(v).shape == (3,)


def test_rearranging_errors():
    with pytest.raises(IndexError, match=r"narrow\(\): start 3 and length 2 do not fit dim 1"):
        ops.narrow(leaf(A), 1, 3, 2)
    with pytest.raises(ValueError, match=r"t\(\): expects a tensor with at most 2 dims"):
        ops.t(leaf(B))
    with pytest.raises(ValueError, match=r"roll\(\): shifts .* must have the same length"):
        ops.roll(leaf(A), (1, 2), (0,))
    with pytest.raises(ValueError, match=r"diagonal\(\): needs at least 2 dims"):
        ops.diagonal(leaf([1.0, 2.0]))


# -- testing entries -----------------------------------------------------------------------
def test_isnan_isinf_isfinite_and_logic():
    x = minnet.tensor([0.0, np.nan, np.inf, -np.inf, 1.0])
    assert x.isnan().tolist() == [False, True, False, False, False]
    assert minnet.isinf(x).tolist() == [False, False, True, True, False]
    assert minnet.isposinf(x).tolist() == [False, False, True, False, False]
    assert x.isfinite().tolist() == [True, False, False, False, True]
    a, b = minnet.tensor([0.0, 1.0, 2.0, 0.0]), minnet.tensor([0.0, 0.0, 3.0, 1.0])
    assert minnet.logical_and(a, b).tolist() == [False, False, True, False]
    assert a.logical_or(b).tolist() == [False, True, True, True]
    assert minnet.logical_xor(a, b).tolist() == [False, True, False, True]
    assert a.logical_not().tolist() == [True, False, False, True]
    assert minnet.count_nonzero(minnet.tensor([[0, 1, 2], [0, 0, 3]]), 1).tolist() == [2, 1]


# -- more math -----------------------------------------------------------------------------
def test_erf_erfc_exp2_logit_values_and_gradients():
    x = leaf(np.linspace(-3, 3, 13))
    np.testing.assert_allclose(ops.erf(x).numpy(), [math.erf(v) for v in x.numpy()], rtol=1e-15)
    np.testing.assert_allclose(ops.erfc(leaf([10.0, 27.0])).numpy(),
                               [math.erfc(10.0), math.erfc(27.0)], rtol=1e-15)  # not 1 - erf
    np.testing.assert_allclose(ops.exp2(x).numpy(), 2 ** x.numpy(), rtol=1e-15)
    for fn in (ops.erf, ops.erfc, ops.exp2):
        check(fn, x)
    p = leaf(np.linspace(0.05, 0.95, 7))
    np.testing.assert_allclose(ops.logit(p).numpy(), np.log(p.numpy() / (1 - p.numpy())))
    check(ops.logit, p)
    check(lambda q: ops.logit(q, 0.2), leaf([0.1, 0.5, 0.7, 0.9]))


@pytest.mark.parametrize("fn,reference", [(ops.atan2, np.arctan2), (ops.hypot, np.hypot),
                                          (ops.logaddexp, np.logaddexp)])
def test_two_input_math_broadcasts_and_gradchecks(fn, reference):
    other = RNG.normal(size=4)
    np.testing.assert_allclose(fn(leaf(A), leaf(other)).numpy(), reference(A, other), rtol=1e-14)
    check(fn, leaf(A), leaf(other))


def test_lerp_clamp_min_max_outer_addmm():
    end, weight = RNG.normal(size=(3, 4)), RNG.uniform(size=4)
    np.testing.assert_allclose(ops.lerp(leaf(A), leaf(end), leaf(weight)).numpy(),
                               A + weight * (end - A))
    check(ops.lerp, leaf(A), leaf(end), leaf(weight))
    np.testing.assert_array_equal(ops.clamp_min(leaf(A), 0.1).numpy(), np.maximum(A, 0.1))
    np.testing.assert_array_equal(leaf(A).clamp_max(0.1).numpy(), np.minimum(A, 0.1))
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0, 5.0])
    np.testing.assert_array_equal(ops.outer(a, b).numpy(), np.outer([1, 2], [3, 4, 5]))
    check(ops.outer, a, b)
    bias, m2 = leaf(RNG.normal(size=4)), leaf(RNG.normal(size=(4, 4)))
    np.testing.assert_allclose(ops.addmm(bias, leaf(A), m2, beta=0.5, alpha=2.0).numpy(),
                               0.5 * bias.numpy() + 2.0 * A @ m2.numpy())
    check(lambda i, x, y: ops.addmm(i, x, y, beta=0.5, alpha=2.0), bias, leaf(A), m2)
    # beta=0 ignores the input, nan included (as PyTorch)
    assert np.isfinite(ops.addmm(leaf(np.full(4, np.nan)), leaf(A), m2, beta=0).numpy()).all()


def test_normalize_cosine_similarity_pairwise_distance():
    x, y = leaf(A), leaf(RNG.normal(size=(3, 4)))
    unit = F.normalize(x).numpy()
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0)
    np.testing.assert_array_equal(F.normalize(leaf(np.zeros((2, 3)))).numpy(), 0.0)  # eps: no 0/0
    cosine = (A * y.numpy()).sum(1) / np.linalg.norm(A, axis=1) / np.linalg.norm(y.numpy(), axis=1)
    np.testing.assert_allclose(F.cosine_similarity(x, y).numpy(), cosine)
    np.testing.assert_allclose(F.pairwise_distance(x, y).numpy(),
                               np.linalg.norm(A - y.numpy() + 1e-6, axis=1))
    check(F.normalize, x)
    check(F.cosine_similarity, x, y)
    check(F.pairwise_distance, x, y)
