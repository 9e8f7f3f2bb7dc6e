"""Margin, ranking and likelihood losses against their formulas in NumPy, gradchecked in
float64, with the layers passing their settings and bad targets named."""
import numpy as np
import pytest

import minnet
from minnet import nn
from minnet.nn import functional as F

RNG = np.random.default_rng(0)
N, D, C = 6, 5, 4
SIGNS = np.array([1.0, -1.0, 1.0, 1.0, -1.0, -1.0])


def leaf(array):
    return minnet.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


def check(fn, *inputs):
    result = minnet.gradcheck(fn, tuple(inputs))
    assert result, result


def test_margin_ranking_hinge_embedding_soft_margin():
    a, b = RNG.normal(size=N), RNG.normal(size=N)
    assert F.margin_ranking_loss(leaf(a), leaf(b), SIGNS, 0.3).item() == pytest.approx(
        np.maximum(0, -SIGNS * (a - b) + 0.3).mean())
    check(lambda x, z: F.margin_ranking_loss(x, z, SIGNS, 0.3), leaf(a), leaf(b))
    d = np.abs(RNG.normal(size=N)) + 0.1
    expected = np.where(SIGNS == 1, d, np.maximum(0, 1.5 - d)).sum()
    assert F.hinge_embedding_loss(leaf(d), SIGNS, 1.5, "sum").item() == pytest.approx(expected)
    assert F.soft_margin_loss(leaf(a), SIGNS).item() == pytest.approx(
        np.log1p(np.exp(-SIGNS * a)).mean())
    check(lambda x: F.soft_margin_loss(x, SIGNS), leaf(a))
    with pytest.raises(ValueError, match=r"soft_margin_loss\(\): target must hold 1 or -1"):
        F.soft_margin_loss(leaf(a), np.zeros(N))


def test_multi_margin_is_the_svm_loss():
    scores, labels = RNG.normal(size=(N, C)), RNG.integers(0, C, N)
    correct = scores[np.arange(N), labels][:, None]
    margins = np.maximum(0, 1.0 - correct + scores)
    margins[np.arange(N), labels] = 0
    assert F.multi_margin_loss(leaf(scores), labels).item() == pytest.approx(
        (margins.sum(1) / C).mean())
    check(lambda s: F.multi_margin_loss(s, labels, p=2, margin=0.5), leaf(scores))


def test_multilabel_soft_margin_triplet_and_cosine_embedding():
    logits, targets = RNG.normal(size=(N, C)), (RNG.random((N, C)) < 0.5).astype(float)
    sig = 1 / (1 + np.exp(-logits))
    expected = -(targets * np.log(sig) + (1 - targets) * np.log(1 - sig)).mean(1).mean()
    assert F.multilabel_soft_margin_loss(leaf(logits), targets).item() == pytest.approx(expected)
    check(lambda x: F.multilabel_soft_margin_loss(x, targets), leaf(logits))
    anchor, pos, neg = (RNG.normal(size=(N, D)) for _ in range(3))
    dist = lambda x, y: np.linalg.norm(x - y + 1e-6, axis=1)   # noqa: E731
    assert F.triplet_margin_loss(leaf(anchor), leaf(pos), leaf(neg)).item() == pytest.approx(
        np.maximum(0, dist(anchor, pos) - dist(anchor, neg) + 1).mean())
    check(F.triplet_margin_loss, leaf(anchor), leaf(pos), leaf(neg))
    x1, x2 = RNG.normal(size=(N, D)), RNG.normal(size=(N, D))
    cos = (x1 * x2).sum(1) / np.linalg.norm(x1, axis=1) / np.linalg.norm(x2, axis=1)
    expected = np.where(SIGNS == 1, 1 - cos, np.maximum(0, cos - 0.1)).mean()
    assert F.cosine_embedding_loss(leaf(x1), leaf(x2), SIGNS, 0.1).item() == pytest.approx(expected)
    check(lambda a, b: F.cosine_embedding_loss(a, b, SIGNS, 0.1), leaf(x1), leaf(x2))


def test_poisson_and_gaussian_likelihoods():
    log_rate, counts = RNG.normal(size=N), RNG.integers(0, 5, N).astype(float)
    assert F.poisson_nll_loss(leaf(log_rate), counts).item() == pytest.approx(
        (np.exp(log_rate) - counts * log_rate).mean())
    check(lambda r: F.poisson_nll_loss(r, counts), leaf(log_rate))
    mean, target, var = RNG.normal(size=(N, D)), RNG.normal(size=(N, D)), RNG.uniform(.2, 2, (N, 1))
    expected = (0.5 * (np.log(var) + (mean - target) ** 2 / var)).mean()
    assert F.gaussian_nll_loss(leaf(mean), target, leaf(var)).item() == pytest.approx(expected)
    check(lambda m, v: F.gaussian_nll_loss(m, target, v), leaf(mean), leaf(var))
    with pytest.raises(ValueError, match="gaussian_nll_loss.*negative"):
        F.gaussian_nll_loss(leaf(mean), target, leaf(-var))


def test_loss_layers_pass_their_settings():
    a, b = leaf(RNG.normal(size=N)), leaf(RNG.normal(size=N))
    assert nn.MarginRankingLoss(0.4, reduction="sum")(a, b, SIGNS).item() == pytest.approx(
        F.margin_ranking_loss(a, b, SIGNS, 0.4, "sum").item())
    scores, labels = leaf(RNG.normal(size=(N, C))), RNG.integers(0, C, N)
    assert nn.MultiMarginLoss(p=2)(scores, labels).item() == pytest.approx(
        F.multi_margin_loss(scores, labels, p=2).item())
    assert nn.TripletMarginLoss(swap=True)(scores, scores * 2, -scores).shape == ()
