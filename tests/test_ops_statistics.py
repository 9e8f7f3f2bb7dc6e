"""median, var_mean/std_mean, trace, nan_to_num, diff, tensordot, cdist, meshgrid,
tril/triu_indices, normal and bernoulli: values against NumPy, float64 gradchecks, seeds."""
import numpy as np
import pytest

import minnet
from minnet import ops

RNG = np.random.default_rng(1)
A = RNG.normal(size=(3, 5))
B = RNG.normal(size=(2, 3, 4))


def leaf(array):
    return minnet.tensor(np.array(array, dtype=np.float64), requires_grad=True)


def check(fn, *inputs):
    result = minnet.gradcheck(fn, tuple(inputs))
    assert result, result


def test_median_is_the_lower_middle_and_its_gradient_goes_to_that_entry():
    even = leaf([4.0, 1.0, 3.0, 2.0])
    assert ops.median(even).item() == 2.0            # of 2 and 3, the lower (PyTorch)
    ops.median(even).backward()
    np.testing.assert_array_equal(even.grad.numpy(), [0, 0, 0, 1])
    values, indices = ops.median(leaf(A), 1)
    expected_index = np.argsort(A, axis=1, kind="stable")[:, 2]
    np.testing.assert_array_equal(indices.numpy(), expected_index)
    np.testing.assert_array_equal(values.numpy(), A[np.arange(3), expected_index])
    check(lambda a: ops.median(a, 0).values, leaf(B))
    # a slice holding a nan has median nan, as PyTorch
    assert np.isnan(ops.median(minnet.tensor([[1.0, np.nan, 0.0]]), 1).values.item())
    with pytest.raises(ValueError, match="median"):
        ops.median(minnet.tensor(np.zeros(0)))


def test_var_mean_std_mean_trace():
    var, mean = ops.var_mean(leaf(A), 1)
    np.testing.assert_allclose(var.numpy(), A.var(axis=1, ddof=1))
    np.testing.assert_allclose(mean.numpy(), A.mean(axis=1))
    std, _ = ops.std_mean(leaf(A), 0, keepdim=True)
    np.testing.assert_allclose(std.numpy(), A.std(axis=0, ddof=1, keepdims=True))
    square = RNG.normal(size=(4, 4))
    assert ops.trace(leaf(square)).item() == pytest.approx(np.trace(square))
    check(ops.trace, leaf(square))
    with pytest.raises(ValueError, match=r"trace\(\): expects a matrix"):
        ops.trace(leaf(B))


def test_nan_to_num_replaces_and_blocks_the_gradient_there():
    x = leaf([1.0, np.nan, np.inf, -np.inf])
    out = ops.nan_to_num(x, nan=5.0, posinf=9.0)
    assert out.tolist() == [1.0, 5.0, 9.0, np.finfo(np.float64).min]
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 0, 0, 0])


@pytest.mark.parametrize("n,dim", [(1, -1), (2, -1), (1, 0)])
def test_diff(n, dim):
    np.testing.assert_allclose(ops.diff(leaf(A), n, dim).numpy(), np.diff(A, n, dim))
    check(lambda a: ops.diff(a, n, dim), leaf(A))
    before, after = leaf(RNG.normal(size=(3, 1))), leaf(RNG.normal(size=(3, 2)))
    np.testing.assert_allclose(ops.diff(leaf(A), 1, 1, before, after).numpy(),
                               np.diff(np.hstack([before.numpy(), A, after.numpy()]), 1, 1))


@pytest.mark.parametrize("dims,b_shape", [(1, (4, 5)), (2, (3, 4, 5)), (0, (2,)),
                                          (([1, 0], [0, 1]), (3, 2, 6))])
def test_tensordot_matches_numpy(dims, b_shape):
    b = RNG.normal(size=b_shape)
    np.testing.assert_allclose(ops.tensordot(leaf(B), leaf(b), dims).numpy(),
                               np.tensordot(B, b, dims), rtol=1e-12)
    check(lambda x, y: ops.tensordot(x, y, dims), leaf(B), leaf(b))


def test_cdist_gives_every_pairwise_distance_and_a_zero_one_a_zero_gradient():
    other = RNG.normal(size=(4, 5))
    expected = np.linalg.norm(A[:, None, :] - other[None, :, :], axis=-1)
    np.testing.assert_allclose(ops.cdist(leaf(A), leaf(other)).numpy(), expected)
    check(ops.cdist, leaf(A), leaf(other))
    x = leaf(A)
    ops.cdist(x, minnet.tensor(A)).sum().backward()   # the diagonal distances are 0
    assert np.isfinite(x.grad.numpy()).all()


def test_meshgrid_ij_and_xy_and_the_triangle_indices():
    a, b = leaf([1.0, 2.0, 3.0]), leaf([10.0, 20.0])
    for indexing in ("ij", "xy"):
        expected = np.meshgrid(a.numpy(), b.numpy(), indexing=indexing)
        grids = ops.meshgrid(a, b, indexing=indexing)
        for grid, want in zip(grids, expected):
            np.testing.assert_array_equal(grid.numpy(), want)
    check(lambda x, y: ops.meshgrid(x, y, indexing="xy")[0] * ops.meshgrid(x, y)[1].T, a, b)
    np.testing.assert_array_equal(ops.tril_indices(4, 3, -1).numpy(),
                                  np.stack(np.tril_indices(4, -1, 3)))
    np.testing.assert_array_equal(ops.triu_indices(3, 5, 1).numpy(),
                                  np.stack(np.triu_indices(3, 1, 5)))


def test_normal_and_bernoulli_follow_their_seed_and_their_parameters():
    means = minnet.zeros(200, 500, dtype=np.float64)
    draw = ops.normal(means, 2.0, seed=0)
    assert draw.shape == (200, 500) and draw.dtype == np.float64
    assert abs(draw.numpy().std() - 2.0) < 0.02
    np.testing.assert_array_equal(ops.normal(0.0, 1.0, size=(2, 3), seed=5).numpy(),
                                  ops.normal(0.0, 1.0, size=(2, 3), seed=5).numpy())
    p = minnet.full((100_000,), 0.3)
    flips = ops.bernoulli(p, seed=0)
    assert flips.dtype == np.float32 and set(np.unique(flips.numpy())) <= {0.0, 1.0}
    assert abs(flips.numpy().mean() - 0.3) < 0.01
    with pytest.raises(ValueError, match=r"bernoulli\(\): probabilities must lie in \[0, 1\]"):
        ops.bernoulli(minnet.tensor([1.5]))
    with pytest.raises(ValueError, match=r"normal\(\): std must be >= 0"):
        ops.normal(0.0, -1.0, size=(2,))
    with pytest.raises(TypeError, match="give a size"):
        ops.normal(0.0, 1.0)
