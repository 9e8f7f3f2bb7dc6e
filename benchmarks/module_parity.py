"""Parity of minnet's layers, losses, optimizers and LR schedulers with PyTorch's own
test material (float64, CPU).

    python benchmarks/module_parity.py                 # modules, optimizers, schedulers
    python benchmarks/module_parity.py modules LSTM    # a section, optionally some names

* modules: every sample of ``torch.testing._internal.common_modules.module_db`` whose
  module exists in ``minnet.nn`` under the same name (constructor arguments, forward
  inputs, train and eval mode). torch's initial parameters and buffers are loaded into
  minnet's module; outputs, buffers after the forward pass, and the gradients of the
  inputs and parameters (for the same random upstream gradient) must agree to 1e-9
  relative. A sample minnet refuses at construction counts as "refused" with its message.
* optimizers: every hyperparameter sample of ``common_optimizers.optim_db`` for the
  optimizers minnet has, 10 steps with the same gradients, plain, with two param groups
  and ``add_param_group``, resumed from ``state_dict()`` half-way, and with foreach/fused:
  parameters and state to 1e-12 relative.
* schedulers: lr (and momentum/beta1) per group over 45 epochs, plain and resumed.

Known differences (2026-12-06, torch 2.13): KLDivLoss's samples feed ``log`` of values
drawn from [-9, 9], i.e. NaN inputs and negative targets; for a negative target PyTorch
gives NaN and minnet's ``kl_div`` a number (its ``target * log(target)`` term is 0 for
every target <= 0). PReLU's backward fails on a 0-d input. LSTM's ``proj_size > 0`` and
MultiheadAttention's ``add_bias_kv``/``add_zero_attn`` are refused. Samples whose
constructor takes a torch module or function (TransformerEncoder's layer, an activation
function) are skipped.

A script, not a test: it needs torch and expecttest (torch's test helpers import it),
which minnet does not depend on; without them it says so and exits.
"""
from __future__ import annotations

import collections
import copy
import os
import sys
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

try:
    import torch
    from torch.testing._internal.common_modules import module_db
    from torch.testing._internal.common_optimizers import optim_db
except ImportError as error:  # pragma: no cover - depends on the machine
    print(f"module_parity.py skipped: it compares minnet with PyTorch's test material and "
          f"needs torch and expecttest ({error}). minnet itself does not depend on them.")
    sys.exit(0)

import numpy as np

import minnet
import minnet.nn as mnn
import minnet.optim as moptim
import minnet.optim.lr_scheduler as msched

warnings.simplefilter("ignore")
MODULE_RTOL, OPTIM_RTOL, SCHED_RTOL = 1e-9, 1e-12, 1e-12


# -- converting torch's inputs ------------------------------------------------------
class Converter:
    """torch Tensors -> minnet Tensors, the same torch tensor always to the same minnet one
    (a sample may pass one tensor twice, and then its gradient is the sum of both uses)."""

    def __init__(self):
        self.seen = {}

    def __call__(self, value):
        if isinstance(value, torch.Tensor):
            if id(value) not in self.seen:
                converted = minnet.tensor(value.detach().numpy().copy())
                converted.requires_grad = value.requires_grad
                self.seen[id(value)] = (value, converted)  # keeps the torch tensor alive
            return self.seen[id(value)][1]
        if isinstance(value, (tuple, list)):
            return type(value)(self(v) for v in value)
        if isinstance(value, dict):
            return {key: self(v) for key, v in value.items()}
        return value


def flatten(value) -> list:
    if isinstance(value, (tuple, list)):
        return [leaf for item in value for leaf in flatten(item)]
    return [value]


def relative_error(actual, expected) -> float:
    """max |a - e| / max(1, max |e|), NaN where only one side is NaN; inf on a shape clash."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    if actual.shape != expected.shape:
        return float("inf")
    if actual.size == 0:
        return 0.0
    difference = np.where(np.isnan(actual) & np.isnan(expected), 0.0, np.abs(actual - expected))
    if np.isnan(difference).any():  # NaN on one side only
        return float("inf")
    scale = max(1.0, float(np.nan_to_num(np.abs(expected)).max()))
    return float(np.max(difference) / scale)


def as_array(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().numpy()
    if isinstance(value, minnet.Tensor):
        return value.detach().numpy()
    return np.asarray(value)


# -- modules ----------------------------------------------------------------------------
def compare_module_sample(info, minnet_class, sample, training: bool) -> tuple:
    """(status, detail) for one ModuleInput: 'ok', 'refused' or 'mismatch'."""
    name = info.module_cls.__name__
    args, kwargs = sample.constructor_input.args, sample.constructor_input.kwargs
    inputs, input_kwargs = sample.forward_input.args, sample.forward_input.kwargs
    if any(isinstance(a, torch.nn.Module) or (callable(a) and not isinstance(a, type)
                                             and getattr(a, "__module__", "").startswith("torch"))
           for a in flatten(list(args) + list(kwargs.values()))):
        return "skipped", "a torch module or function as a constructor argument"
    reference = info.module_cls(*args, **kwargs).double().train(training)
    convert = Converter()
    try:
        module = minnet_class(*convert(args), **convert(kwargs)).double()
    except Exception as error:
        return "refused", f"{kwargs}: {type(error).__name__}: {error}"
    module.train(training)
    try:
        module.load_state_dict({key: convert(value)
                                for key, value in reference.state_dict().items()})
    except Exception as error:
        return "mismatch", f"state_dict: {type(error).__name__}: {str(error)[:200]}"

    expected = flatten(reference(*inputs, **input_kwargs))
    try:
        got = flatten(module(*convert(inputs), **convert(input_kwargs)))
    except Exception as error:
        return "mismatch", f"forward raised {type(error).__name__}: {error}"
    if name.startswith("Dropout") and training:
        return "ok", ""  # random masks: PyTorch draws from another generator
    problems = []
    for i, (a, e) in enumerate(zip(got, expected)):
        if isinstance(e, torch.Tensor) and relative_error(as_array(a), as_array(e)) > MODULE_RTOL:
            problems.append(f"output {i}")
    minnet_state = module.state_dict()
    for key, value in reference.state_dict().items():
        if relative_error(as_array(minnet_state[key]), as_array(value)) > MODULE_RTOL:
            problems.append(f"buffer {key}")

    differentiable = [(a, e) for a, e in zip(got, expected)
                      if isinstance(e, torch.Tensor) and e.requires_grad]
    if differentiable:
        rng = np.random.default_rng(0)
        upstream = [rng.standard_normal(e.shape) for _, e in differentiable]
        torch_leaves = list({id(t): t for t in flatten(list(inputs) + list(input_kwargs.values()))
                             if isinstance(t, torch.Tensor) and t.requires_grad}.values())
        torch_params = list(reference.named_parameters())
        torch_loss = sum((e * torch.tensor(u)).sum() for (_, e), u in zip(differentiable, upstream))
        grads = torch.autograd.grad(torch_loss, torch_leaves + [p for _, p in torch_params],
                                    allow_unused=True)
        minnet_loss = None
        for (a, _), u in zip(differentiable, upstream):
            term = (a * minnet.tensor(u)).sum()
            minnet_loss = term if minnet_loss is None else minnet_loss + term
        try:
            minnet_loss.backward()
        except Exception as error:
            return "mismatch", f"backward raised {type(error).__name__}: {str(error)[:200]}"
        minnet_params = dict(module.named_parameters())
        targets = [convert(t) for t in torch_leaves] + [minnet_params[n] for n, _ in torch_params]
        labels = [f"input {i}" for i in range(len(torch_leaves))] + [n for n, _ in torch_params]
        for target, grad, label in zip(targets, grads, labels):
            if grad is None:
                continue
            if target.grad is None or relative_error(as_array(target.grad),
                                                     grad.numpy()) > MODULE_RTOL:
                problems.append(f"gradient of {label}")
    return ("mismatch", ", ".join(problems)) if problems else ("ok", "")


def modules_section(names) -> None:
    print("== modules: torch.testing._internal.common_modules.module_db, float64")
    torch.manual_seed(0)  # the samples are drawn with torch's generator
    totals = collections.Counter()
    for info in module_db:
        name = info.module_cls.__name__
        minnet_class = getattr(mnn, name, None)
        if minnet_class is None or (names and name not in names):
            continue
        counts, notes = collections.Counter(), []
        for training in (True, False):
            samples = info.module_inputs_func(info, device="cpu", dtype=torch.float64,
                                              requires_grad=True, training=training)
            for sample in samples:
                if sample.forward_input is None:
                    continue
                status, detail = compare_module_sample(info, minnet_class, sample, training)
                counts[status] += 1
                if status != "ok" and detail not in notes:
                    notes.append(detail)
        totals.update(counts)
        print(f"  {name:20s} " + ", ".join(f"{counts[s]} {s}" for s in (
            "ok", "refused", "skipped", "mismatch") if counts[s]))
        for note in notes[:3]:
            print(f"      {note[:150]}")
    print(f"  total: {totals['ok']} ok, {totals['refused']} refused, {totals['skipped']} "
          f"skipped, {totals['mismatch']} mismatched samples")


# -- optimizers -------------------------------------------------------------------------
SHAPES = [(3, 4), (3,), (), (2, 1, 2)]


def gradients(step: int, params: list) -> list:
    """Deterministic gradients that depend on the parameters (a wrong step shows later)."""
    rng = np.random.default_rng(100 + step)
    return [np.asarray(0.5 * np.sin(p) + rng.standard_normal(p.shape)) for p in params]


def compare_optimizer_run(info, kwargs, groups: bool, resume: bool, flags: dict) -> str:
    """'' when 10 steps give torch's parameters and state, else what differed."""
    rng = np.random.default_rng(0)
    start = [rng.standard_normal(shape) for shape in SHAPES]
    torch_params = [torch.tensor(a.copy(), requires_grad=True) for a in start]
    minnet_params = [mnn.Parameter(minnet.tensor(a.copy())) for a in start]
    convert = Converter()
    minnet_kwargs = dict(convert(kwargs), **flags)

    def param_groups(params):
        return [{"params": params[:2]}, {"params": params[2:3], "lr": 0.05}] if groups \
            else params[:3]

    torch_opt = info.optim_cls(param_groups(torch_params), **dict(kwargs, **(flags or
                                                                           {"foreach": False})))
    minnet_class = getattr(moptim, info.optim_cls.__name__)
    minnet_opt = minnet_class(param_groups(minnet_params), **minnet_kwargs)
    for step in range(10):
        if step == 4:  # the 4th parameter joins later, in its own group
            torch_opt.add_param_group({"params": [torch_params[3]], "lr": 0.02})
            minnet_opt.add_param_group({"params": [minnet_params[3]], "lr": 0.02})
        if resume and step == 5:
            saved = copy.deepcopy(minnet_opt.state_dict())
            minnet_opt = minnet_class(param_groups(minnet_params), **minnet_kwargs)
            minnet_opt.add_param_group({"params": [minnet_params[3]], "lr": 0.02})
            minnet_opt.load_state_dict(saved)
        for t, m, g in zip(torch_params, minnet_params,
                           gradients(step, [p.detach().numpy() for p in torch_params])):
            t.grad, m.grad = torch.tensor(g.copy()), minnet.tensor(g.copy())
        torch_opt.step()
        minnet_opt.step()
        for i, (t, m) in enumerate(zip(torch_params, minnet_params)):
            if relative_error(m.numpy(), t.detach().numpy()) > OPTIM_RTOL:
                return f"parameter {i} after step {step + 1}"
    for i, (t, m) in enumerate(zip(torch_params, minnet_params)):
        torch_state, minnet_state = torch_opt.state[t], minnet_opt.state[m]
        if set(torch_state) != set(minnet_state):
            return f"state keys of parameter {i}: {sorted(minnet_state)} vs {sorted(torch_state)}"
        for key in torch_state:
            if relative_error(as_array(minnet_state[key]), as_array(torch_state[key])) \
                    > OPTIM_RTOL:
                return f"state {key} of parameter {i}"
    return ""


def optimizers_section(names) -> None:
    print("== optimizers: torch.testing._internal.common_optimizers.optim_db, float64, 10 steps")
    # NAdam keeps mu_product as a 0-d tensor of torch's default dtype (minnet: a Python
    # float); float32 would round it at every step
    torch.set_default_dtype(torch.float64)
    for info in optim_db:
        name = info.optim_cls.__name__
        if names and name not in names:
            continue
        if not hasattr(moptim, name):
            print(f"  {name:12s} not in minnet")
            continue
        if name == "LBFGS":
            lbfgs_section(info)
            continue
        runs, failures = 0, []
        for sample in info.optim_inputs_func(device="cpu"):
            variants = [(False, False, {}), (True, False, {}), (True, True, {}),
                        (False, False, {"foreach": True})]
            if "fused" in info.supported_impls:
                variants.append((False, False, {"fused": True}))
            for groups, resume, flags in variants:
                runs += 1
                problem = compare_optimizer_run(info, sample.kwargs, groups, resume, flags)
                if problem:
                    failures.append(f"{sample.desc} (groups={groups}, resume={resume}, "
                                    f"{flags}): {problem}")
        print(f"  {name:12s} {runs - len(failures)}/{runs} runs equal")
        for failure in failures[:3]:
            print(f"      {failure}")


def lbfgs_section(info) -> None:
    """LBFGS takes a closure and one group: 3 step() calls on a convex quadratic."""
    rng = np.random.default_rng(0)
    half = rng.standard_normal((6, 6))
    matrix = half @ half.T + np.eye(6)
    runs, failures, refused = 0, [], []
    for sample in info.optim_inputs_func(device="cpu"):
        start = rng.standard_normal(6)
        torch_x = torch.tensor(start.copy(), requires_grad=True)
        minnet_x = mnn.Parameter(minnet.tensor(start.copy()))
        try:
            minnet_opt = moptim.LBFGS([minnet_x], **Converter()(sample.kwargs))
        except NotImplementedError as error:
            refused.append(f"{sample.desc}: {error}")
            continue
        torch_opt = torch.optim.LBFGS([torch_x], **sample.kwargs)
        runs += 1
        for opt, x, a in ((torch_opt, torch_x, torch.tensor(matrix)),
                          (minnet_opt, minnet_x, minnet.tensor(matrix))):
            def closure(opt=opt, x=x, a=a):
                opt.zero_grad()
                loss = 0.5 * (x * (a @ x)).sum() - x.sum()
                loss.backward()
                return loss
            for _ in range(3):
                opt.step(closure)
        if relative_error(minnet_x.numpy(), torch_x.detach().numpy()) > OPTIM_RTOL:
            failures.append(sample.desc)
    print(f"  {'LBFGS':12s} {runs - len(failures)}/{runs} runs equal (a quadratic, 3 steps), "
          f"{len(refused)} refused")
    for note in failures[:3] + refused[:1]:
        print(f"      {note[:150]}")


# -- schedulers -------------------------------------------------------------------------
def schedule(library, make, resume_at=None, epochs=45) -> list:
    """lr, momentum and beta1 of each group after every epoch."""
    lib_optim = torch.optim if library == "torch" else moptim
    lib_sched = torch.optim.lr_scheduler if library == "torch" else msched

    def build():
        if library == "torch":
            params = [torch.zeros(2, requires_grad=True), torch.zeros(1, requires_grad=True)]
        else:
            params = [mnn.Parameter(minnet.zeros(2)), mnn.Parameter(minnet.zeros(1))]
        optimizer = lib_optim.SGD([{"params": [params[0]]}, {"params": [params[1]], "lr": 0.3}],
                                  lr=0.1, momentum=0.9)
        return optimizer, make(lib_sched, optimizer)

    optimizer, scheduler = build()
    values = []
    for epoch in range(epochs):
        optimizer.step()
        scheduler.step()
        values.append([[g["lr"], g["momentum"]] for g in optimizer.param_groups])
        if epoch == resume_at:
            saved_optimizer, saved = optimizer.state_dict(), scheduler.state_dict()
            optimizer, scheduler = build()
            optimizer.load_state_dict(saved_optimizer)
            scheduler.load_state_dict(saved)
    return values


SCHEDULES = {
    "StepLR": lambda s, o: s.StepLR(o, step_size=3, gamma=0.5),
    "MultiStepLR": lambda s, o: s.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3),
    "ExponentialLR": lambda s, o: s.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR": lambda s, o: s.CosineAnnealingLR(o, T_max=10, eta_min=0.01),
    "CosineAnnealingWarmRestarts": lambda s, o: s.CosineAnnealingWarmRestarts(o, 3, 2, 0.001),
    "LinearLR": lambda s, o: s.LinearLR(o, start_factor=0.25, total_iters=6),
    "ConstantLR": lambda s, o: s.ConstantLR(o, factor=0.5, total_iters=4),
    "PolynomialLR": lambda s, o: s.PolynomialLR(o, total_iters=20, power=2.0),
    "LambdaLR": lambda s, o: s.LambdaLR(o, lambda epoch: 0.95 ** epoch),
    "MultiplicativeLR": lambda s, o: s.MultiplicativeLR(o, lambda epoch: 0.97),
    "OneCycleLR": lambda s, o: s.OneCycleLR(o, max_lr=[1.0, 2.0], total_steps=45),
    "CyclicLR": lambda s, o: s.CyclicLR(o, 0.01, 0.1, step_size_up=4, mode="triangular2"),
    "SequentialLR": lambda s, o: s.SequentialLR(
        o, [s.LinearLR(o, 0.1, total_iters=5), s.CosineAnnealingLR(o, 30)], milestones=[5]),
    "ChainedScheduler": lambda s, o: s.ChainedScheduler(
        [s.ConstantLR(o, 0.2, total_iters=4), s.ExponentialLR(o, 0.93)]),
}


def schedulers_section(names) -> None:
    print("== schedulers: lr and momentum per group, 45 epochs, SGD(momentum=0.9), 2 groups")
    for name, make in SCHEDULES.items():
        if names and name not in names:
            continue
        results = []
        for resume_at in (None, 14):
            expected = np.array(schedule("torch", make, resume_at))
            try:
                got = np.array(schedule("minnet", make, resume_at))
                equal = np.allclose(got, expected, rtol=SCHED_RTOL, atol=1e-15)
            except Exception as error:
                equal = f"{type(error).__name__}: {error}"
            results.append("equal" if equal is True else (equal or "differs"))
        print(f"  {name:28s} plain: {results[0]}, resumed at epoch 15: {results[1]}")


SECTIONS = {"modules": modules_section, "optimizers": optimizers_section,
            "schedulers": schedulers_section}

if __name__ == "__main__":
    wanted = [a for a in sys.argv[1:] if a in SECTIONS] or list(SECTIONS)
    names = [a for a in sys.argv[1:] if a not in SECTIONS]
    print(f"minnet against torch {torch.__version__}")
    for section in wanted:
        SECTIONS[section](names)
