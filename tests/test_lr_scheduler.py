"""LR schedulers: sequences against closed-form values and against PyTorch 2.13.

Each sequence lists ``get_last_lr()[0]`` right after construction and then
after each ``optimizer.step(); scheduler.step()``. The ``TORCH_*`` literals were
produced once by torch.optim.lr_scheduler with the same arguments.
"""
import math
import warnings

import numpy as np
import pytest

from minnet import Tensor, optim
from minnet.nn import Parameter
from minnet.optim import lr_scheduler as L

TORCH_STEP = [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125, 0.0125]
TORCH_COSINE = [0.1, 0.08681980515339464, 0.05500000000000001, 0.023180194846605363, 0.01,
                0.023180194846605363, 0.05500000000000002, 0.08681980515339469,
                0.10000000000000006, 0.0868198051533947, 0.05500000000000005,
                0.023180194846605412, 0.01]
TORCH_MULTISTEP = [0.1, 0.1, 0.010000000000000002, 0.010000000000000002, 0.010000000000000002,
                   0.00010000000000000005, 0.00010000000000000005, 0.00010000000000000005]
PLATEAU_METRICS = [1.0, 0.9, 0.95, 0.95, 0.95, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]
TORCH_PLATEAU = [0.1, 0.1, 0.1, 0.1, 0.1, 0.010000000000000002, 0.010000000000000002,
                 0.010000000000000002, 0.010000000000000002, 0.0010000000000000002,
                 0.0010000000000000002, 0.0010000000000000002, 0.00010000000000000003]
TORCH_PLATEAU_COOLDOWN = [0.1, 0.1, 0.1, 0.1, 0.010000000000000002, 0.010000000000000002,
                          0.010000000000000002, 0.010000000000000002, 0.002, 0.002, 0.002,
                          0.002, 0.002]
MAX_METRICS = [1.0, 1.05, 1.05, 1.2, 1.2, 1.2]
TORCH_PLATEAU_MAX_REL = [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.05]
TORCH_PLATEAU_MAX_ABS = [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025]


def make_optimizer(lr=0.1, groups=None):
    if groups is None:
        return optim.SGD([Parameter(np.zeros(1))], lr=lr)
    return optim.SGD([{"params": [Parameter(np.zeros(1))], "lr": g} for g in groups], lr=lr)


def lr_sequence(make_scheduler, epochs, metrics=None, lr=0.1):
    opt = make_optimizer(lr)
    scheduler = make_scheduler(opt)
    lrs = [scheduler.get_last_lr()[0]]
    for epoch in range(epochs):
        opt.step()
        scheduler.step() if metrics is None else scheduler.step(metrics[epoch])
        lrs.append(scheduler.get_last_lr()[0])
        assert opt.param_groups[0]["lr"] == lrs[-1]
    return lrs


def test_step_lr():
    lrs = lr_sequence(lambda o: L.StepLR(o, step_size=3, gamma=0.5), 10)
    by_hand = [0.1 * 0.5 ** (epoch // 3) for epoch in range(11)]
    np.testing.assert_allclose(lrs, by_hand, rtol=1e-15)
    assert lrs == TORCH_STEP


def test_exponential_lr():
    lrs = lr_sequence(lambda o: L.ExponentialLR(o, gamma=0.9), 5)
    np.testing.assert_allclose(lrs, [0.1 * 0.9 ** e for e in range(6)], rtol=1e-14)
    assert lrs[1] == 0.1 * 0.9 and lrs[2] == 0.1 * 0.9 * 0.9  # chained products, as PyTorch


def test_cosine_annealing_follows_the_cosine_and_goes_back_up():
    t_max, eta_min = 4, 0.01
    lrs = lr_sequence(lambda o: L.CosineAnnealingLR(o, T_max=t_max, eta_min=eta_min), 12)
    by_hand = [eta_min + (0.1 - eta_min) * (1 + math.cos(math.pi * e / t_max)) / 2
               for e in range(13)]
    np.testing.assert_allclose(lrs, by_hand, rtol=1e-12)
    assert lrs[4] == pytest.approx(eta_min) and lrs[8] == pytest.approx(0.1)
    np.testing.assert_allclose(lrs, TORCH_COSINE, rtol=1e-14)


def test_multistep_lr_with_a_repeated_milestone():
    lrs = lr_sequence(lambda o: L.MultiStepLR(o, milestones=[2, 5, 5], gamma=0.1), 7)
    np.testing.assert_allclose(lrs, TORCH_MULTISTEP, rtol=1e-14)
    np.testing.assert_allclose(lrs, [0.1, 0.1, 0.01, 0.01, 0.01, 1e-4, 1e-4, 1e-4], rtol=1e-12)


def test_lambda_lr_per_group():
    opt = make_optimizer(groups=[0.1, 1.0])
    scheduler = L.LambdaLR(opt, [lambda e: 1 / (e + 1), lambda e: 0.5 ** e])
    for _ in range(3):
        opt.step()
        scheduler.step()
    assert scheduler.get_last_lr() == [pytest.approx(0.1 / 4), pytest.approx(0.125)]
    assert scheduler.state_dict()["lr_lambdas"] == [None, None]  # functions are not saved


def test_schedulers_act_on_every_group_from_its_own_base_lr():
    opt = make_optimizer(groups=[0.1, 0.02])
    scheduler = L.StepLR(opt, step_size=1, gamma=0.5)
    assert scheduler.base_lrs == [0.1, 0.02]
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.02]
    opt.step()
    scheduler.step()
    assert scheduler.get_last_lr() == [0.05, 0.01]


def test_step_with_epoch_uses_the_closed_form_and_warns():
    opt = make_optimizer()
    scheduler = L.CosineAnnealingLR(opt, T_max=10)
    opt.step()
    with pytest.warns(UserWarning, match="epoch parameter"):
        scheduler.step(5)
    assert scheduler.get_last_lr()[0] == pytest.approx(0.05)


def test_warning_when_scheduler_steps_before_the_optimizer():
    opt = make_optimizer()
    scheduler = L.StepLR(opt, step_size=2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        scheduler.step()
    opt2 = make_optimizer()
    scheduler2 = L.StepLR(opt2, step_size=2)
    opt2.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scheduler2.step()


def test_scheduler_state_dict_resumes():
    opt = make_optimizer()
    scheduler = L.CosineAnnealingLR(opt, T_max=6, eta_min=0.001)
    for _ in range(3):
        opt.step()
        scheduler.step()
    saved_scheduler, saved_optimizer = scheduler.state_dict(), opt.state_dict()
    assert "optimizer" not in saved_scheduler and saved_scheduler["last_epoch"] == 3
    rest = []
    for _ in range(3):
        opt.step()
        scheduler.step()
        rest.append(scheduler.get_last_lr()[0])

    opt2 = make_optimizer(lr=0.5)
    opt2.load_state_dict(saved_optimizer)  # brings lr and initial_lr back
    scheduler2 = L.CosineAnnealingLR(opt2, T_max=6, eta_min=0.001, last_epoch=2)
    scheduler2.load_state_dict(saved_scheduler)
    resumed = []
    for _ in range(3):
        opt2.step()
        scheduler2.step()
        resumed.append(scheduler2.get_last_lr()[0])
    np.testing.assert_allclose(resumed, rest, rtol=1e-12)


def test_resuming_without_initial_lr_is_a_clear_error():
    with pytest.raises(KeyError, match="initial_lr"):
        L.StepLR(make_optimizer(), step_size=2, last_epoch=4)


def test_reduce_lr_on_plateau_patience():
    lrs = lr_sequence(lambda o: L.ReduceLROnPlateau(o, patience=2), len(PLATEAU_METRICS),
                      metrics=PLATEAU_METRICS)
    # 1.0 best, 0.9 best, then three bad epochs (> patience 2): reduce after the 5th metric
    assert lrs[:5] == [0.1] * 5 and lrs[5] == pytest.approx(0.01)
    np.testing.assert_allclose(lrs, TORCH_PLATEAU, rtol=1e-15)


def test_reduce_lr_on_plateau_cooldown_and_min_lr():
    lrs = lr_sequence(lambda o: L.ReduceLROnPlateau(o, patience=1, cooldown=2, min_lr=0.002),
                      len(PLATEAU_METRICS), metrics=PLATEAU_METRICS)
    np.testing.assert_allclose(lrs, TORCH_PLATEAU_COOLDOWN, rtol=1e-15)
    assert min(lrs) == 0.002  # floored at min_lr


def test_reduce_lr_on_plateau_max_mode_rel_and_abs_thresholds():
    rel = lr_sequence(lambda o: L.ReduceLROnPlateau(o, mode="max", patience=1, factor=0.5),
                      len(MAX_METRICS), metrics=MAX_METRICS)
    # 1.05 beats 1.0 by more than 0.01% (rel) but not by 0.1 (abs)
    absolute = lr_sequence(lambda o: L.ReduceLROnPlateau(o, mode="max", patience=1, factor=0.5,
                                                         threshold=0.1, threshold_mode="abs"),
                           len(MAX_METRICS), metrics=MAX_METRICS)
    assert rel == TORCH_PLATEAU_MAX_REL
    assert absolute == TORCH_PLATEAU_MAX_ABS


def test_reduce_lr_on_plateau_eps_skips_tiny_changes():
    opt = make_optimizer(lr=1e-8)
    scheduler = L.ReduceLROnPlateau(opt, patience=0)
    scheduler.step(1.0)
    scheduler.step(2.0)  # bad epoch > patience: 1e-8 -> 1e-9 is a change below eps=1e-8
    assert opt.param_groups[0]["lr"] == 1e-8


def test_reduce_lr_on_plateau_state_dict_and_errors():
    opt = make_optimizer()
    scheduler = L.ReduceLROnPlateau(opt, patience=3)
    for metric in (1.0, 2.0, 2.0):
        scheduler.step(metric)
    state = scheduler.state_dict()
    assert state["best"] == 1.0 and state["num_bad_epochs"] == 2
    other = L.ReduceLROnPlateau(make_optimizer(), patience=3)
    other.load_state_dict(state)
    assert other.best == 1.0 and other.num_bad_epochs == 2 and other.last_epoch == 3
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        L.ReduceLROnPlateau(opt, factor=2.0)
    with pytest.raises(ValueError, match="mode"):
        L.ReduceLROnPlateau(opt, mode="minimum")
    with pytest.raises(ValueError, match="expected 1 min_lrs"):
        L.ReduceLROnPlateau(opt, min_lr=[0.1, 0.2])
    with pytest.raises(TypeError, match="metric"):
        scheduler.step("loss")


def test_scheduler_needs_an_optimizer():
    with pytest.raises(TypeError, match="is not an Optimizer"):
        L.StepLR([Parameter(np.zeros(1))], step_size=2)
    with pytest.raises(ValueError, match="T_max"):
        L.CosineAnnealingLR(make_optimizer(), T_max=0)


# -- LinearLR and OneCycleLR: resuming mid-schedule, argument errors ------------------------------
def _two_group_run(make_scheduler, optimizer_kind):
    """A model of two parameters in two groups (second lr 0.5), its optimizer and scheduler."""
    first, second = Parameter(np.ones(3)), Parameter(np.ones(2))
    groups = [{"params": [first]}, {"params": [second], "lr": 0.5}]
    if optimizer_kind == "sgd":
        opt = optim.SGD(groups, lr=0.1, momentum=0.9)
    else:
        opt = optim.Adam(groups, lr=0.1)
    return (first, second), opt, make_scheduler(opt)


def _step(params, opt, scheduler):
    for index, param in enumerate(params):
        param.grad = Tensor(np.full(param.shape, index + 1.0))
    opt.step()
    scheduler.step()
    return [(group["lr"], group.get("momentum", group.get("betas"))) for group in
            opt.param_groups] + [params[0].numpy().tolist()]


@pytest.mark.parametrize("optimizer_kind", ["sgd", "adam"])
@pytest.mark.parametrize("make_scheduler", [
    lambda opt: L.LinearLR(opt, start_factor=0.25, end_factor=0.75, total_iters=6),
    lambda opt: L.OneCycleLR(opt, max_lr=[1.0, 2.0], total_steps=12),
    lambda opt: L.OneCycleLR(opt, max_lr=1.0, total_steps=12, three_phase=True,
                             anneal_strategy="linear", pct_start=0.25),
], ids=["LinearLR", "OneCycleLR", "OneCycleLR-three-phase"])
def test_new_schedulers_resume_from_a_saved_file_as_if_never_stopped(tmp_path, make_scheduler,
                                                                     optimizer_kind):
    import minnet
    params, opt, scheduler = _two_group_run(make_scheduler, optimizer_kind)
    uninterrupted = [_step(params, opt, scheduler) for _ in range(11)]

    params, opt, scheduler = _two_group_run(make_scheduler, optimizer_kind)
    first_part = [_step(params, opt, scheduler) for _ in range(5)]
    minnet.save({"model": [p.numpy() for p in params], "optimizer": opt.state_dict(),
                 "scheduler": scheduler.state_dict()}, tmp_path / "checkpoint.mn")

    params, opt, scheduler = _two_group_run(make_scheduler, optimizer_kind)  # a new process
    checkpoint = minnet.load(tmp_path / "checkpoint.mn")
    for param, saved in zip(params, checkpoint["model"]):
        param._data[...] = saved
    opt.load_state_dict(checkpoint["optimizer"])
    scheduler.load_state_dict(checkpoint["scheduler"])
    second_part = [_step(params, opt, scheduler) for _ in range(6)]
    assert first_part + second_part == uninterrupted


def test_linear_lr_argument_errors():
    opt = make_optimizer()
    for bad in (0, -2, 2.5, True):
        with pytest.raises(ValueError, match=r"LinearLR: total_iters must be a positive int"):
            L.LinearLR(opt, total_iters=bad)
    with pytest.raises(ValueError, match=r"LinearLR: start_factor must be in \(0, 1\].*Hint"):
        L.LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match=r"LinearLR: end_factor must be in \[0, 1\].*Hint"):
        L.LinearLR(opt, end_factor=1.5)
    with pytest.raises(TypeError, match=r"LinearLR: start_factor must be a number, got str"):
        L.LinearLR(opt, start_factor="0.1")
    assert L.LinearLR(make_optimizer(), total_iters=np.int64(4)).total_iters == 4


def test_one_cycle_lr_argument_errors():
    opt = optim.SGD([Parameter(np.ones(2))], lr=0.1, momentum=0.9)
    cases = [
        (dict(max_lr=1.0), ValueError, r"give total_steps, or both epochs.*Hint"),
        (dict(max_lr=1.0, total_steps=True), ValueError, r"total_steps must be a positive int"),
        (dict(max_lr=1.0, epochs=0, steps_per_epoch=5), ValueError,
         r"epochs must be a positive int"),
        (dict(max_lr=1.0, total_steps=10, pct_start=1), ValueError,
         r"pct_start must be a float in \[0, 1\].*Hint"),
        (dict(max_lr=1.0, total_steps=10, div_factor=0), ValueError,
         r"div_factor must be positive"),
        (dict(max_lr=1.0, total_steps=10, final_div_factor=-1.0), ValueError,
         r"final_div_factor must be positive"),
        (dict(max_lr=-1.0, total_steps=10), ValueError, r"max_lr must be >= 0"),
        (dict(max_lr="1", total_steps=10), TypeError, r"max_lr must be a number, got str"),
        (dict(max_lr=[1.0, 2.0], total_steps=10), ValueError, r"max_lr must have one value per param group"),
        (dict(max_lr=1.0, total_steps=10, anneal_strategy="cosine"), ValueError,
         r"anneal_strategy must be 'cos' or 'linear'"),
    ]
    for kwargs, error, pattern in cases:
        with pytest.raises(error, match=rf"OneCycleLR: {pattern}"):
            L.OneCycleLR(opt, **kwargs)
    scheduler = L.OneCycleLR(opt, max_lr=1.0, total_steps=np.int64(2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scheduler.step()
        scheduler.step()
        with pytest.raises(ValueError, match=r"tried to step 3 times, but total_steps is 2.*Hint"):
            scheduler.step()


def _sequence(make, steps, optimizer=None):
    """get_last_lr()[0] after construction, then after each optimizer.step(); scheduler.step()."""
    optimizer = optimizer or optim.SGD([Parameter(np.zeros(1))], lr=0.1, momentum=0.9)
    scheduler = make(optimizer)
    lrs = [scheduler.get_last_lr()[0]]
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
    return lrs, optimizer, scheduler


# torch.optim.lr_scheduler 2.13, SGD(lr=0.1, momentum=0.9), same arguments
TORCH_NEW = {
    "warm_restarts": [0.1, 0.05500000000000001, 0.1, 0.08681980515339464, 0.05500000000000001,
                      0.023180194846605363, 0.1, 0.0965745789630079, 0.08681980515339464],
    "sequential": [0.010000000000000002, 0.04, 0.07, 0.1, 0.05, 0.025, 0.0125],
    "cyclic": [0.01, 0.055, 0.09999999999999999, 0.06999999999999999, 0.039999999999999994,
               0.01, 0.03250000000000002, 0.055, 0.039999999999999994, 0.025000000000000015,
               0.01, 0.021250000000000012],
    "polynomial": [0.1, 0.05625, 0.024999999999999998, 0.0062499999999999995, 0.0, 0.0, 0.0],
    "constant": [0.05, 0.05, 0.1, 0.1, 0.1],
    "multiplicative": [0.1, 0.05, 0.025, 0.0125],
    "chained": [0.05, 0.045000000000000005, 0.08100000000000002, 0.07290000000000002,
                0.06561000000000002],
}


@pytest.mark.parametrize("name, make", [
    ("warm_restarts", lambda o: L.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2, eta_min=0.01)),
    ("sequential", lambda o: L.SequentialLR(o, [L.LinearLR(o, 0.1, total_iters=3),
                                                L.ExponentialLR(o, 0.5)], milestones=[3])),
    ("cyclic", lambda o: L.CyclicLR(o, 0.01, 0.1, step_size_up=2, step_size_down=3,
                                    mode="triangular2")),
    ("polynomial", lambda o: L.PolynomialLR(o, total_iters=4, power=2.0)),
    ("constant", lambda o: L.ConstantLR(o, 0.5, total_iters=2)),
    ("multiplicative", lambda o: L.MultiplicativeLR(o, lambda epoch: 0.5)),
    ("chained", lambda o: L.ChainedScheduler([L.ConstantLR(o, 0.5, total_iters=2),
                                              L.ExponentialLR(o, 0.9)])),
])
def test_more_schedulers_match_torch(name, make):
    expected = TORCH_NEW[name]
    lrs, _, _ = _sequence(make, len(expected) - 1)
    np.testing.assert_allclose(lrs, expected, rtol=1e-14, atol=1e-18)


def test_warm_restarts_closed_form_and_fractional_epochs():
    optimizer = make_optimizer()
    scheduler = L.CosineAnnealingWarmRestarts(optimizer, T_0=2, T_mult=3, eta_min=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # step(epoch) is deprecated, as in PyTorch
        # runs of 2, 6, 18 epochs: epoch 9.5 is 1.5 epochs into the third run
        scheduler.step(9.5)
    assert scheduler.T_i == 18 and scheduler.T_cur == 1.5 and scheduler.last_epoch == 9
    expected = 0.01 + (0.1 - 0.01) * (1 + math.cos(math.pi * 1.5 / 18)) / 2
    assert scheduler.get_last_lr()[0] == pytest.approx(expected, rel=1e-14)


def test_cyclic_lr_moves_momentum_the_other_way_and_resumes():
    lrs, optimizer, scheduler = _sequence(
        lambda o: L.CyclicLR(o, 0.01, 0.1, step_size_up=2, step_size_down=3,
                             mode="triangular2"), 11)
    # one step after the end of the second cycle: lr and momentum each 1/4 of the way
    assert optimizer.param_groups[0]["momentum"] == pytest.approx(0.9 - 0.1 * 0.25 / 2)
    saved = scheduler.state_dict()
    again = L.CyclicLR(optimizer, 0.01, 0.1, step_size_up=2, step_size_down=3,
                       mode="triangular2")
    again.load_state_dict(saved)
    optimizer.step(), scheduler.step(), again.step()
    assert again.get_last_lr() == scheduler.get_last_lr()
    with pytest.raises(ValueError, match="CyclicLR: cycle_momentum=True needs an optimizer"):
        L.CyclicLR(optim.Adagrad([Parameter(np.zeros(1))]), 0.01, 0.1)


def test_sequential_lr_resumes_from_its_state_dict_and_refuses_plateau():
    make = lambda o: L.SequentialLR(o, [L.LinearLR(o, 0.1, total_iters=3),
                                        L.ExponentialLR(o, 0.5)], milestones=[3])
    _, optimizer, scheduler = _sequence(make, 4)
    saved_optimizer, saved = optimizer.state_dict(), scheduler.state_dict()
    resumed = optim.SGD([Parameter(np.zeros(1))], lr=0.1, momentum=0.9)
    again = make(resumed)  # build both, then load both: the optimizer's lr comes from its dict
    resumed.load_state_dict(saved_optimizer)
    again.load_state_dict(saved)
    for _ in range(2):
        optimizer.step(), scheduler.step(), resumed.step(), again.step()
    assert again.get_last_lr() == scheduler.get_last_lr() == [TORCH_NEW["sequential"][6]]
    optimizer = make_optimizer()
    with pytest.raises(ValueError, match="SequentialLR does not support `ReduceLROnPlateau`"):
        L.SequentialLR(optimizer, [L.ConstantLR(optimizer), L.ReduceLROnPlateau(optimizer)], [2])
    with pytest.raises(ValueError, match="one milestone fewer than schedulers"):
        L.SequentialLR(optimizer, [L.ConstantLR(optimizer)], [2])
