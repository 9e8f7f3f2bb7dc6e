"""The PyTorch surface tutorial code uses (issue 11), checked against PyTorch's documented
behaviour. Expected values were computed once with torch 2.13 and are written out here
(no torch import): where minnet deliberately differs, the test says so."""
import math

import numpy as np
import pytest

import minnet
import minnet as torch  # the way tutorial code is run on minnet
import minnet.nn.functional as F
from minnet import nn, optim
from minnet.utils.data import (ConcatDataset, DataLoader, Dataset, RandomSampler,
                               SequentialSampler, TensorDataset, random_split)


def make(shape, seed=0, low=None, high=None):
    rng = np.random.default_rng(seed)
    data = rng.standard_normal(shape) if low is None else rng.uniform(low, high, shape)
    return minnet.tensor(data, requires_grad=True)


# -- device API: honest CPU-only answers ---------------------------------------------------------
def test_device_api_answers_as_pytorch_without_a_gpu():
    assert repr(torch.device("cpu")) == "device(type='cpu')"
    assert str(torch.device("cuda:1")) == "cuda:1" and torch.device("cuda", 0).index == 0
    assert torch.cuda.is_available() is False and torch.cuda.device_count() == 0
    assert torch.backends.mps.is_available() is False
    assert torch.accelerator.is_available() is False
    assert torch.accelerator.current_accelerator() is None
    assert torch.zeros(1).device == torch.device("cpu") and str(torch.zeros(1).device) == "cpu"
    assert torch.zeros(1).device == "cpu"  # minnet only: PyTorch's device never equals a str
    torch.set_default_device("cpu")
    torch.cuda.manual_seed(0)  # ignored without CUDA, as in PyTorch
    assert torch.get_default_device() == torch.device("cpu")


def test_other_devices_raise_with_a_hint():
    with pytest.raises(RuntimeError, match="CPU only"):
        torch.set_default_device("cuda")
    with pytest.raises(RuntimeError, match="CPU only"):
        torch.zeros(2, device="cuda")
    with pytest.raises(RuntimeError, match="CPU only"):
        torch.ones(2).to(torch.device("mps"))
    with pytest.raises(RuntimeError, match="no CUDA"):
        torch.cuda.current_device()


@pytest.mark.parametrize("factory", [
    lambda: torch.zeros(2, 3, device="cpu"), lambda: torch.ones((2, 3), device="cpu"),
    lambda: torch.full((2, 3), 1.5, device=torch.device("cpu")),
    lambda: torch.linspace(0, 1, 6, device="cpu").reshape(2, 3),
    lambda: torch.randn(2, 3, device="cpu"), lambda: torch.rand(2, 3, device="cpu"),
    lambda: torch.empty(2, 3, device="cpu"), lambda: torch.tensor(np.ones((2, 3)), device="cpu"),
    lambda: torch.arange(6, device="cpu").reshape(2, 3),
])
def test_factories_take_device(factory):
    assert factory().shape == (2, 3)


# -- factories: PyTorch's dtypes --------------------------------------------------------------------
def test_factory_dtypes_follow_pytorch():
    assert torch.arange(5).dtype == torch.int64
    assert torch.arange(0, 1, 0.25).dtype == torch.float32
    assert torch.arange(0, 1, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75]
    assert torch.full((2,), 7).dtype == torch.int64
    assert torch.full((2,), 7.0).dtype == torch.float32
    assert torch.full((2,), True).dtype == torch.bool
    assert torch.randint(10, (3,)).dtype == torch.int64 and torch.randint(0, 10, (3,)).shape == (3,)
    assert sorted(torch.randperm(5).tolist()) == [0, 1, 2, 3, 4]
    assert torch.zeros(2, requires_grad=True).requires_grad


def test_generator_makes_runs_repeatable():
    g = torch.Generator().manual_seed(2147483647)
    assert g.initial_seed() == 2147483647
    a = torch.randn((3, 2), generator=g)
    b = torch.randn((3, 2), generator=torch.Generator().manual_seed(2147483647))
    assert a.tolist() == b.tolist()
    assert torch.randint(0, 5, (4,), generator=g).shape == (4,)
    loader = DataLoader(TensorDataset(np.arange(6.0)), batch_size=2, shuffle=True,
                        generator=torch.Generator().manual_seed(1))
    assert sorted(np.concatenate([b[0].numpy() for b in loader]).tolist()) == [0, 1, 2, 3, 4, 5]


def test_multinomial_follows_pytorch():
    # torch: rows with one nonzero weight always give that index
    picks = torch.multinomial(torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]]), 1)
    assert picks.tolist() == [[1], [2]] and picks.dtype == torch.int64
    assert torch.multinomial(torch.tensor([0.2, 0.8]), 4, replacement=True).shape == (4,)
    draws = torch.multinomial(torch.tensor([1.0, 1.0, 1.0, 1.0]), 4,
                              generator=torch.Generator().manual_seed(0))
    assert sorted(draws.tolist()) == [0, 1, 2, 3]  # without replacement: each once
    with pytest.raises(RuntimeError, match="cannot sample"):
        torch.multinomial(torch.tensor([0.0, 1.0]), 2)
    counts = np.bincount(torch.multinomial(torch.tensor([0.25, 0.75]), 4000, replacement=True,
                                           generator=torch.Generator().manual_seed(3)).numpy())
    assert abs(counts[1] / 4000 - 0.75) < 0.03


# -- module-level math, Tensor methods ----------------------------------------------------------
MATH = [
    ("sin", np.sin, -3, 3), ("cos", np.cos, -3, 3), ("tan", np.tan, -1.2, 1.2),
    ("asin", np.arcsin, -0.9, 0.9), ("acos", np.arccos, -0.9, 0.9), ("atan", np.arctan, -3, 3),
    ("sinh", np.sinh, -2, 2), ("cosh", np.cosh, -2, 2), ("log10", np.log10, 0.2, 5),
    ("log2", np.log2, 0.2, 5), ("log1p", np.log1p, -0.5, 3), ("expm1", np.expm1, -2, 2),
    ("reciprocal", np.reciprocal, 0.3, 3), ("rsqrt", lambda x: 1 / np.sqrt(x), 0.3, 3),
    ("square", np.square, -2, 2),
]


@pytest.mark.parametrize("name,np_fn,low,high", MATH)
def test_math_functions_forward_method_and_gradcheck(name, np_fn, low, high):
    x = make((3, 4), 1, low, high)
    out = getattr(torch, name)(x)
    np.testing.assert_allclose(out.numpy(), np_fn(x.numpy()), rtol=1e-12)
    np.testing.assert_allclose(getattr(x, name)().numpy(), out.numpy())
    result = minnet.gradcheck(getattr(torch, name), (x,))
    assert result, result


def test_math_on_integers_and_rounding_as_pytorch():
    # torch: [0.0, 1.0, 3.0]; NumPy's float32 log10 may be one unit in the last place off
    np.testing.assert_allclose(torch.tensor([1.0, 10.0, 1000.0]).log10().numpy(), [0, 1, 3],
                               rtol=3e-7)
    assert torch.tensor([10, 100]).log10().dtype == torch.float32
    assert torch.tensor([1, 2]).sin().dtype == torch.float32
    assert torch.tensor([1, 2]).floor().dtype == torch.int64
    assert torch.tensor([-2, 0, 3]).sign().dtype == torch.int64
    assert torch.tensor([0.5, 1.5, 2.5, -0.5]).round().tolist() == [0.0, 2.0, 2.0, -0.0]
    x = make((4,), 2)
    x.floor().sum().backward()
    assert x.grad.tolist() == [0.0] * 4  # flat: gradient 0, as in PyTorch


def test_tensor_methods_from_the_issue():
    f32, i64, b = torch.ones(2), torch.tensor([1, 2]), torch.tensor([True, False])
    assert (f32.type(), i64.type(), b.type()) == ("torch.FloatTensor", "torch.LongTensor",
                                                  "torch.BoolTensor")
    assert f32.type(torch.float64).dtype == torch.float64
    assert f32.type("torch.LongTensor").dtype == torch.int64
    assert torch.tensor([1, 2, 3]).eq(2).tolist() == [False, True, False]
    assert torch.eq(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 3.0])).tolist() == [True, False]
    assert torch.equal(torch.tensor([1, 2]), torch.tensor([1, 2])) is True
    assert torch.tensor([[1.0, 2.0], [3.0, 4.0]]).mm(torch.tensor([[5.0], [6.0]])).tolist() == \
        [[17.0], [39.0]]
    with pytest.raises(ValueError, match="2-D"):
        torch.mm(torch.ones(2), torch.ones(2))
    assert torch.ones(2, 3).nelement() == 6 and torch.numel(torch.ones(4)) == 4
    assert torch.tensor([1.7]).int().dtype == torch.int32 == torch.int
    assert torch.is_tensor(torch.ones(1)) and not torch.is_tensor(np.ones(1))


def test_index_and_format_as_pytorch():
    assert ["a", "b", "c"][torch.tensor(2)] == "c"
    with pytest.raises(TypeError, match="only integer tensors of a single element"):
        ["a", "b"][torch.tensor(1.0)]
    assert f"{torch.tensor(3.14159):.2f}" == "3.14" and f"{torch.tensor(7):d}" == "7"
    with pytest.raises(TypeError, match="unsupported format string"):
        f"{torch.tensor([1.0]):.2f}"
    assert np.arange(5)[torch.tensor([1, 2])].tolist() == [1, 2]  # NumPy indexing still works


def test_argmax_function_as_pytorch():
    x = torch.tensor([[1, 9, 3], [7, 2, 8]])
    assert torch.argmax(x).item() == 1  # over the flattened tensor
    assert torch.argmax(x, dim=1).tolist() == [1, 2]
    assert torch.argmax(x, dim=0, keepdim=True).tolist() == [[1, 0, 1]]
    assert x.argmin(dim=1).dtype == torch.int64


def test_type_promotion_as_pytorch():
    f32, f64 = torch.ones(2), torch.ones(2, dtype=torch.float64)
    i64, b = torch.tensor([1, 2]), torch.tensor([True, False])
    assert (f32 ** i64).dtype == torch.float32  # NumPy would say float64
    assert (i64 * 2.5).dtype == torch.float32
    assert (f32 + torch.tensor(1.0, dtype=torch.float64)).dtype == torch.float32
    assert (i64 + torch.tensor(1.5, dtype=torch.float64)).dtype == torch.float64
    assert (b + 1).dtype == torch.int64 and (b + i64).dtype == torch.int64
    assert (f32 + f64).dtype == torch.float64
    assert (i64 / 2).dtype == torch.float32
    assert torch.where(b, i64, f32).dtype == torch.float32
    w = torch.ones(2, requires_grad=True)
    (w * torch.tensor([2, 3])).sum().backward()  # the int operand is converted, grads flow
    assert w.grad.tolist() == [2.0, 3.0] and w.grad.dtype == torch.float32
    with pytest.raises(TypeError, match="same dtype"):
        f32 @ f64  # matmul refuses mixed dtypes, as PyTorch


# -- grad_fn as a node ------------------------------------------------------------------------------
def test_grad_fn_is_a_walkable_node():
    w = torch.ones(2, requires_grad=True)
    y = (w * torch.ones(2)).sum()
    assert y.grad_fn.name() == "SumBackward0"  # PyTorch's name too
    (mul_node, index), = y.grad_fn.next_functions
    assert mul_node.name() == "MulBackward0" and index == 0
    leaf, constant = mul_node.next_functions
    assert type(leaf[0]).__name__ == "AccumulateGrad" and leaf[0].variable is w
    assert constant == (None, 0)  # as PyTorch: a constant input has no node
    assert y.grad_fn == "sum" and w.grad_fn is None  # minnet's older string comparison
    grads = mul_node(np.ones(2))  # calling a node runs its local backward
    assert grads[0].tolist() == [1.0, 1.0]


# -- layers and optimizers ---------------------------------------------------------------------------
ADAPTIVE_FORWARD = [0.5, 0.7857142857142857, 1.2142857142857142, 1.5, 1.9285714285714286,
                    2.214285714285714]
ADAPTIVE_GRAD = [0.16666666666666666, 0.16666666666666666, 0.4285714285714286,
                 0.2619047619047619, 0.2619047619047619, 0.5714285714285714, 0.5714285714285714,
                 1.3333333333333333, 0.7619047619047619, 0.7619047619047619, 1.0476190476190477,
                 1.0476190476190477, 2.2857142857142856, 1.2380952380952381, 1.2380952380952381,
                 0.6428571428571429, 0.6428571428571429, 1.380952380952381, 0.738095238095238,
                 0.738095238095238]


def test_adaptive_avg_pool2d_matches_torch_on_uneven_bins():
    x = minnet.tensor(np.arange(20, dtype=np.float64).reshape(1, 1, 4, 5) / 7, requires_grad=True)
    out = F.adaptive_avg_pool2d(x, (3, 2))
    np.testing.assert_allclose(out.numpy().ravel(), ADAPTIVE_FORWARD, rtol=1e-12)
    out.pow(2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy().ravel(), ADAPTIVE_GRAD, rtol=1e-12)


@pytest.mark.parametrize("shape,size", [((2, 3, 4, 5), (3, 2)), ((3, 7, 6), 1),
                                        ((1, 2, 6, 6), (3, None))])
def test_adaptive_avg_pool2d_layer_and_gradcheck(shape, size):
    x = make(shape, 4)
    layer = nn.AdaptiveAvgPool2d(size)
    out = layer(x)
    expected = (size, size) if isinstance(size, int) else (size[0], size[1] or shape[-1])
    assert out.shape == shape[:-2] + expected
    assert minnet.gradcheck(lambda t: F.adaptive_avg_pool2d(t, size), (x,))


def test_adadelta_matches_torch():
    p = minnet.tensor(np.array([1.0, -2.0, 3.0], dtype=np.float32), requires_grad=True)
    opt = optim.Adadelta([p], lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.1)
    for _ in range(3):
        opt.zero_grad()
        (p ** 2).sum().backward()
        opt.step()
    np.testing.assert_allclose(p.numpy(), [0.9903090596199036, -1.9903007745742798,
                                        2.99029803276062], rtol=1e-6)
    p = minnet.tensor(np.array([1.0, -2.0, 3.0], dtype=np.float32), requires_grad=True)
    opt = optim.Adadelta([p])
    for _ in range(5):
        opt.zero_grad()
        (p ** 3).sum().backward()
        opt.step()
    np.testing.assert_allclose(p.numpy(), [0.9836951494216919, -2.0164968967437744,
                                        2.983609437942505], rtol=1e-6)
    with pytest.raises(ValueError, match="rho"):
        optim.Adadelta([p], rho=1.5)


# -- minnet.utils.data ----------------------------------------------------------------------------------
def test_utils_data_is_importable_and_slices_like_pytorch():
    ds = TensorDataset(torch.arange(10.0).reshape(5, 2), torch.arange(5))
    features, labels = ds[1:3]
    assert features.tolist() == [[2.0, 3.0], [4.0, 5.0]] and labels.tolist() == [1, 2]
    assert ds[torch.tensor(4)][1].item() == 4  # a 0-d int tensor as an index
    train, test = random_split(ds, [3, 2], generator=torch.Generator().manual_seed(0))
    assert len(train) == 3 and len(test) == 2
    assert len(ConcatDataset([ds, ds])) == 10 and ConcatDataset([ds, ds])[7][1].item() == 2
    assert list(SequentialSampler(ds)) == [0, 1, 2, 3, 4]
    assert sorted(RandomSampler(ds, generator=torch.Generator().manual_seed(0))) == [0, 1, 2, 3, 4]
    batches = list(DataLoader(ds, batch_size=2, sampler=SequentialSampler(ds), num_workers=2,
                              pin_memory=True))
    assert [b[1].tolist() for b in batches] == [[0, 1], [2, 3], [4]]
    import minnet.utils.data as udata
    assert udata.Dataset is Dataset and udata.DataLoader is minnet.data.DataLoader


def test_a_custom_dataset_in_the_pytorch_style():
    class Squares(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return torch.tensor([float(i)]), i * i

    (x, y), = list(DataLoader(Squares(), batch_size=4))
    assert x.shape == (4, 1) and y.tolist() == [0, 1, 4, 9]


def test_pi_and_dtype_names():
    assert torch.pi == math.pi and torch.inf == math.inf
    assert torch.float == torch.float32 and torch.long == torch.int64 and torch.half == np.float16


def test_out_argument_as_pytorch():
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    out = torch.zeros(2, 2)
    assert torch.matmul(a, a.T, out=out) is out and out.tolist() == [[5.0, 11.0], [11.0, 25.0]]
    assert torch.mul(a, a, out=out).tolist() == [[1.0, 4.0], [9.0, 16.0]]
    assert torch.add(a, 1, out=out).tolist() == [[2.0, 3.0], [4.0, 5.0]]
    assert out._version == 3  # each out= write is an in-place change
    w = torch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        torch.mul(w, 2, out=torch.zeros(2))


# -- ordering, scans, splitting, embeddings (values from torch 2.13) ----------------------------
def test_sort_topk_cumsum_prod_norm_as_pytorch():
    x = torch.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
    values, indices = torch.sort(x, dim=1)
    assert values.tolist() == [[1.0, 2.0, 3.0], [0.0, 4.0, 5.0]]
    assert indices.tolist() == [[1, 2, 0], [0, 2, 1]]
    assert torch.sort(x, 0, descending=True).indices.tolist() == [[0, 1, 1], [1, 0, 0]]
    assert torch.topk(x, 2).values.tolist() == [[3.0, 2.0], [5.0, 4.0]]
    assert torch.topk(x, 2).indices.tolist() == [[0, 2], [1, 2]]
    assert torch.topk(x, 1, dim=0, largest=False).indices.tolist() == [[1, 0, 0]]
    assert torch.cumsum(x, 1).tolist() == [[3.0, 4.0, 6.0], [0.0, 5.0, 9.0]]
    assert torch.cumsum(torch.tensor([1, 2, 3]), 0).dtype == torch.int64
    assert torch.prod(x).item() == 0.0 and torch.prod(x, 1).tolist() == [6.0, 0.0]
    assert torch.norm(x).item() == pytest.approx(7.416198253631592)
    np.testing.assert_allclose(x.norm(dim=1).numpy(), [3.7416574954986572, 6.4031243324279785],
                               rtol=1e-6)
    assert x.norm(p=1).item() == 15.0
    w = torch.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]], requires_grad=True)
    torch.prod(w, 1).sum().backward()  # zeros in a row: the product of the others, no 0/0
    assert w.grad.tolist() == [[2.0, 6.0, 3.0], [20.0, 0.0, 0.0]]


@pytest.mark.parametrize("name,fn", [
    ("sort", lambda t: torch.sort(t, dim=1).values),
    ("topk", lambda t: torch.topk(t, 2, dim=0).values),
    ("cumsum", lambda t: torch.cumsum(t, 1)),
    ("prod", lambda t: torch.prod(t, 0)),
    ("prod_all", lambda t: torch.prod(t)),
    ("norm", lambda t: torch.norm(t)),
    ("norm_dim", lambda t: t.norm(dim=1)),
    ("norm_p3", lambda t: t.norm(p=3)),
    ("split", lambda t: torch.split(t, 2, dim=1)[1]),
    ("chunk", lambda t: torch.chunk(t, 2)[0]),
    ("repeat", lambda t: t.repeat(2, 1, 3)),
    ("tril", lambda t: torch.tril(t)),
    ("triu", lambda t: torch.triu(t, 1)),
])
def test_new_differentiable_ops_gradcheck(name, fn):
    x = make((3, 4), 7)
    result = minnet.gradcheck(fn, (x,))
    assert result, result


def test_split_repeat_triangles_one_hot_unique_as_pytorch():
    assert [t.tolist() for t in torch.split(torch.arange(5), 2)] == [[0, 1], [2, 3], [4]]
    assert [t.tolist() for t in torch.chunk(torch.arange(5), 3)] == [[0, 1], [2, 3], [4]]
    assert [t.shape for t in torch.split(torch.arange(6), [1, 5])] == [(1,), (5,)]
    assert torch.tensor([[1, 2]]).repeat(2, 2).tolist() == [[1, 2, 1, 2], [1, 2, 1, 2]]
    assert torch.tensor([1, 2]).repeat(2, 1).tolist() == [[1, 2], [1, 2]]
    assert torch.tril(torch.ones(3, 3)).tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    assert torch.triu(torch.ones(2, 3), diagonal=1).tolist() == [[0, 1, 1], [0, 0, 1]]
    assert F.one_hot(torch.tensor([0, 2]), 3).tolist() == [[1, 0, 0], [0, 0, 1]]
    assert F.one_hot(torch.tensor([1, 0])).dtype == torch.int64
    assert torch.unique(torch.tensor([3, 1, 3, 2])).tolist() == [1, 2, 3]
    values, inverse, counts = torch.unique(torch.tensor([3, 1, 3, 2]), return_inverse=True,
                                           return_counts=True)
    assert (inverse.tolist(), counts.tolist()) == ([2, 0, 2, 1], [1, 1, 2])


def test_legacy_constructors_and_new_tensors():
    assert torch.FloatTensor([1, 2]).dtype == torch.float32
    assert torch.LongTensor([1.7]).tolist() == [1]
    assert torch.FloatTensor(2, 3).shape == (2, 3)
    assert torch.ones(2, dtype=torch.float64).new_zeros(3).dtype == torch.float64
    assert torch.tensor([1, 2]).new_full((2,), 7).tolist() == [7, 7]
    w = torch.zeros(1000)
    with torch.no_grad():
        w.normal_(0, 1, generator=torch.Generator().manual_seed(0))
    assert abs(float(w.mean())) < 0.1 and w._version == 1
    with torch.inference_mode():
        assert not (torch.ones(1, requires_grad=True) * 2).requires_grad


def test_embedding_as_pytorch():
    weight = minnet.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], requires_grad=True)
    out = F.embedding(torch.tensor([[0, 2], [2, 2]]), weight)
    out.sum().backward()
    assert out.tolist() == [[[1.0, 2.0], [5.0, 6.0]], [[5.0, 6.0], [5.0, 6.0]]]
    assert weight.grad.tolist() == [[1.0, 1.0], [0.0, 0.0], [3.0, 3.0]]  # id 2 used 3 times
    layer = nn.Embedding(10, 3)
    assert layer(torch.tensor([[1, 2, 3]])).shape == (1, 3, 3)
    with pytest.raises(IndexError, match=r"\[0, 10\)"):
        layer(torch.tensor([10]))
    with pytest.raises(TypeError, match="integer ids"):
        layer(torch.tensor([1.0]))
    weights = make((4, 3), 2)
    assert minnet.gradcheck(lambda w: F.embedding(torch.tensor([[0, 3], [3, 1]]), w), (weights,))


def test_autograd_grad_returns_gradients_and_leaves_dot_grad_alone():
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = torch.tensor([2.0, 2.0, 2.0], requires_grad=True)
    h = x * w
    y = (h ** 2).sum()
    gx, gh = torch.autograd.grad(y, [x, h], retain_graph=True)
    assert gx.tolist() == [8.0, 16.0, 24.0] and gh.tolist() == [4.0, 8.0, 12.0]  # torch's
    assert x.grad is None and w.grad is None
    y.backward()
    assert x.grad.tolist() == [8.0, 16.0, 24.0]
    z = x.sin().sum() + x.exp().sum()
    (g,) = torch.autograd.grad([z, (x * x).sum()], x)
    np.testing.assert_allclose(g.numpy(), [5.2586, 10.9729, 25.0955], atol=1e-4)
    with pytest.raises(RuntimeError, match="index 0 appears to not have been used"):
        torch.autograd.grad((x * 2).sum(), [torch.ones(1, requires_grad=True)])


def test_einsum_as_pytorch():
    a = minnet.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    b = minnet.tensor([[5.0, 6.0, 7.0], [8.0, 9.0, 10.0]], requires_grad=True)
    y = torch.einsum("ij,jk->i", a, b)
    y.sum().backward()
    # torch 2.13: [72.0, 162.0], a.grad [[18, 27], [18, 27]], b.grad [[4, 4, 4], [6, 6, 6]]
    assert y.tolist() == [72.0, 162.0]
    assert a.grad.tolist() == [[18.0, 27.0], [18.0, 27.0]]
    assert b.grad.tolist() == [[4.0, 4.0, 4.0], [6.0, 6.0, 6.0]]
    with pytest.raises(ValueError, match="a repeated letter needs equal sizes"):
        torch.einsum("ii->i", torch.ones(2, 3))   # ("ii->i" of a square matrix: its diagonal)


@pytest.mark.parametrize("equation,shapes", [
    ("ij,jk->ik", [(3, 4), (4, 5)]), ("ij->j", [(3, 4)]), ("ij,jk->i", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("i,j->ij", [(3,), (4,)]),
])
def test_einsum_gradcheck(equation, shapes):
    operands = [make(shape, seed) for seed, shape in enumerate(shapes)]
    np.testing.assert_allclose(torch.einsum(equation, *operands).numpy(),
                               np.einsum(equation, *[t.numpy() for t in operands]))
    assert minnet.gradcheck(lambda *t: torch.einsum(equation, *t), operands)


# -- recurrent layers: torch 2.13's outputs for the same weights ---------------------------------
def _fill(module):
    for k, (_, p) in enumerate(module.named_parameters()):
        p.data[...] = 0.5 * np.sin(np.arange(p.numel()) + k).reshape(p.shape)


RECURRENT_INPUT = np.cos(np.arange(12) * 0.7).reshape(3, 2, 2)  # (L=3, N=2, I=2)


def test_lstm_matches_torch():
    lstm = nn.LSTM(2, 3, num_layers=2, dtype=np.float64)
    _fill(lstm)
    out, (h, c) = lstm(minnet.tensor(RECURRENT_INPUT))
    np.testing.assert_allclose(out.numpy()[-1], [[-0.05700522431038198, 0.1886913787789149,
                                               0.16714088671557684],
                                              [-0.020156222333200486, 0.18584489897820006,
                                               0.16848525048306143]], rtol=1e-12)
    np.testing.assert_allclose(c.numpy(), [[[0.6125403557360505, 0.27259434207312166,
                                          -0.25347034819601827],
                                         [0.45529439127641247, 0.16165001325406392,
                                          -0.4031047568749717]],
                                        [[-0.10197257618301325, 0.6337142125668392,
                                          0.6099882437620442],
                                         [-0.03707281121700092, 0.5900956441362153,
                                          0.6474053943203174]]], rtol=1e-12)
    assert [n for n, _ in lstm.named_parameters()][:4] == [
        "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert lstm.weight_ih_l0.shape == (12, 2) and lstm.weight_hh_l1.shape == (12, 3)


def test_rnn_matches_torch_and_layouts():
    rnn = nn.RNN(2, 3, dtype=np.float64)
    _fill(rnn)
    out, h = rnn(minnet.tensor(RECURRENT_INPUT))
    expected = [[0.6504968130741235, 0.30616201252650727, -0.9525823787229768],
                [0.5180150425995471, 0.14263998389708255, -0.884126228541411]]
    np.testing.assert_allclose(out.numpy()[-1], expected, rtol=1e-12)
    np.testing.assert_allclose(h.numpy()[0], expected, rtol=1e-12)
    rnn.batch_first = True
    out_bf, _ = rnn(minnet.tensor(RECURRENT_INPUT.transpose(1, 0, 2)))
    np.testing.assert_allclose(out_bf.numpy()[:, -1], expected, rtol=1e-12)
    single, h1 = rnn(minnet.tensor(RECURRENT_INPUT[:, 0]))  # unbatched (L, I)
    assert single.shape == (3, 3) and h1.shape == (1, 3)


@pytest.mark.parametrize("layer", ["lstm", "rnn"])
def test_recurrent_layers_gradcheck(layer):
    module = (nn.LSTM(2, 3, num_layers=2, dtype=np.float64) if layer == "lstm"
              else nn.RNN(2, 3, dtype=np.float64))
    x = make((4, 2, 2), 5)
    final = (lambda out: out[1][0]) if layer == "lstm" else (lambda out: out[1])
    names = ("weight_ih_l0", "weight_hh_l0", "bias_hh_l0")

    def run(inp, *weights):  # the module computes with the weights gradcheck hands in
        module._parameters.update(zip(names, weights))
        return module(inp)

    weights = tuple(getattr(module, n) for n in names)
    assert minnet.gradcheck(lambda inp, *w: run(inp, *w)[0], (x, *weights))
    assert minnet.gradcheck(lambda inp, *w: final(run(inp, *w)), (x, *weights))


def test_tensor_class_and_variable_as_pytorch():
    # torch.Tensor(...) is the float constructor; torch.tensor(...) infers the dtype
    assert torch.Tensor([0]).dtype == torch.float32 and torch.tensor([0]).dtype == torch.int64
    assert torch.Tensor([True]).dtype == torch.float32
    total = torch.Tensor([0])
    total += torch.tensor(1.5).numpy()  # the word-embeddings tutorial's running loss
    assert total.tolist() == [1.5]
    x = torch.ones(2)
    # deprecated in PyTorch: a new tensor on x's memory, outside the graph (torch 2.13)
    v = torch.autograd.Variable(x)
    assert v is not x and np.shares_memory(v.numpy(), x.numpy()) and v.grad_fn is None
    assert torch.autograd.Variable(torch.ones(2), requires_grad=True).requires_grad
