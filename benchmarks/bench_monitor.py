"""Overhead of ``minnet.debug.Monitor`` on the core MLP benchmark setting.

    python benchmarks/bench_monitor.py              # 1,200 steps per setting
    python benchmarks/bench_monitor.py --steps 3000
    python benchmarks/bench_monitor.py --epochs 5   # + whole epochs of bench_core's MLP

Two measurements:

* steps (always): the training step alone, as below;
* epochs (``--epochs N``): bench_core.py's MLP epoch itself (60,000 samples through
  minnet's shuffling DataLoader, batch 128), unmonitored and with each Monitor, in
  N alternating rounds; the overhead is the median over rounds of (monitored epoch /
  unmonitored epoch of the same round - 1). The Monitor also logs the loss every step,
  as a user would.

Steps:

MLP 784-256-128-10 (ReLU), batch 128, SGD momentum 0.9, random data (as in
bench_core.py). ONE model trains throughout; the three settings (unmonitored,
``Monitor(every=1)``, ``Monitor(every=10)``) take turns of ``--block``
consecutive steps (default 60, the order rotating): a Monitor is attached at the
start of its turn and detached at the end, and the first 10 steps of every turn
are not timed (a new Monitor's first record sets up its buffers; 10 keeps
every=10's recorded steps at exactly a tenth of the timed ones). One model, so the
settings share the same arrays at the same addresses: separate trainers differed
by ~50 us/step from memory placement alone, as much as what is measured here.
Turns make a slow period of a busy machine hit all settings alike. The overhead is
the median over turns of (mean monitored step time - mean unmonitored step time
of the neighbouring turn), in % of the median unmonitored step.
Times are CPU time of this thread (time.thread_time: BLAS runs on this thread),
which a busy machine disturbs far less than wall time; wall-clock figures are
printed too. Targets: <= 15% at every=1, negligible (a few %) at every=10.

BLAS runs on one thread unless --threads says otherwise: on a shared machine
multi-threaded GEMMs vary several-fold from step to step, which would drown
the few hundred microseconds being measured.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench_core


def _blas_threads_from_argv(default: str = "1") -> str:
    """Read --threads before NumPy is imported (BLAS reads its thread count at load time)."""
    for i, arg in enumerate(sys.argv):
        if arg == "--threads" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return default


for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, _blas_threads_from_argv())

import numpy as np  # noqa: E402

import minnet  # noqa: E402
from minnet import nn, optim  # noqa: E402
from minnet.debug.monitor import Monitor  # noqa: E402

MLP_SIZES = (784, 256, 128, 10)
BATCH = 128
LR, MOMENTUM = 0.01, 0.9
SETTINGS = (("unmonitored", None), ("every=1", 1), ("every=10", 10))
GOAL_PERCENT = 15  # issue 10: a monitored step costs at most 15% more at every=1


def build(seed: int = 0):
    rng = np.random.default_rng(seed)
    layers = []
    for fan_in, fan_out in zip(MLP_SIZES[:-1], MLP_SIZES[1:]):
        layers += [nn.Linear(fan_in, fan_out, generator=rng), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    optimizer = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    return model, optimizer


def random_batches(n: int, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    return [(minnet.tensor(rng.standard_normal((BATCH, MLP_SIZES[0])).astype(np.float32)),
             minnet.tensor(rng.integers(0, MLP_SIZES[-1], BATCH)))
            for _ in range(n)]


def one_step(model, optimizer, monitor, loss_fn, X, y) -> tuple:
    """(CPU, wall) seconds of one training step (a monitor listens through its hooks)."""
    cpu, wall = time.thread_time(), time.perf_counter()
    optimizer.zero_grad()
    loss = loss_fn(model(X), y)
    loss.backward()
    optimizer.step()
    if monitor is not None:
        monitor.log(loss=loss)
    return time.thread_time() - cpu, time.perf_counter() - wall


def measure(steps: int, block: int = 60, warmup: int = 10, n_batches: int = 16) -> dict:
    """Step times (seconds, shape (turns, block - warmup, 2): CPU, wall) of each setting.

    One model and optimizer; the settings take turns of ``block`` steps, the order
    rotating, and the first ``warmup`` steps of each turn are not kept.
    """
    batches = random_batches(n_batches)
    loss_fn = nn.CrossEntropyLoss()
    model, optimizer = build()
    names = [name for name, _ in SETTINGS]
    turns = max(steps // (block - warmup), 1)
    times = {name: np.empty((turns, block - warmup, 2)) for name in names}
    step = 0
    for turn in range(-1, turns):  # one warm-up round
        order = SETTINGS[turn % 3:] + SETTINGS[:turn % 3]
        for name, every in order:
            monitor = Monitor(model, optimizer, every=every) if every else None
            for i in range(block):
                X, y = batches[step % n_batches]
                step += 1
                seconds = one_step(model, optimizer, monitor, loss_fn, X, y)
                if turn >= 0 and i >= warmup:
                    times[name][turn, i - warmup] = seconds
            if monitor is not None:
                monitor.detach()
    return times


def measure_epochs(rounds: int) -> dict:
    """Seconds (CPU, wall) of bench_core's MLP epoch per setting, shape (rounds, 2)."""
    from minnet.data import DataLoader, TensorDataset

    import bench_core  # noqa: E402  (benchmarks/ is this script's folder)

    X, y = bench_core.random_data(bench_core.MLP_SAMPLES, (MLP_SIZES[0],))
    loss_fn = nn.CrossEntropyLoss()
    times = {name: np.empty((rounds, 2)) for name, _ in SETTINGS}

    def epoch(every):
        model = bench_core.minnet_mlp()
        optimizer = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
        monitor = Monitor(model, optimizer, every=every) if every else None
        cpu, wall = time.thread_time(), time.perf_counter()
        for X_batch, y_batch in DataLoader(TensorDataset(X, y), batch_size=BATCH,
                                           shuffle=True, seed=0):
            optimizer.zero_grad()
            loss = loss_fn(model(X_batch), y_batch)
            loss.backward()
            optimizer.step()
            if monitor is not None:
                monitor.log(loss=loss)
        seconds = (time.thread_time() - cpu, time.perf_counter() - wall)
        if monitor is not None:
            monitor.detach()
        return seconds

    epoch(None)  # warm-up: compile, page in the data
    for round_ in range(rounds):
        order = SETTINGS[round_ % 3:] + SETTINGS[:round_ % 3]
        for name, every in order:
            times[name][round_] = epoch(every)
    return times


def print_epochs(times: dict) -> None:
    import bench_core  # noqa: E402

    print(f"  core MLP epoch ({bench_core.MLP_SAMPLES:,} samples, DataLoader, batch {BATCH}), "
          f"{len(times['unmonitored'])} alternating rounds:")
    for column, clock in enumerate(("CPU time", "wall time")):
        base = times["unmonitored"][:, column]
        parts = [f"unmonitored {np.median(base):.3f} s"]
        for name, _ in SETTINGS[1:]:
            ratio = float(np.median(times[name][:, column] / base)) - 1
            parts.append(f"{name} {np.median(times[name][:, column]):.3f} s ({ratio * 100:+.1f}%)")
        print(f"   {clock:9s}: " + ",  ".join(parts))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1200, help="steps per setting")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    parser.add_argument("--epochs", type=int, default=0,
                        help="also time N rounds of bench_core's whole MLP epoch (default 0)")
    parser.add_argument("--block", type=int, default=60,
                        help="consecutive steps per turn, the first 10 untimed (default 60; "
                             "a multiple of 10)")
    args = parser.parse_args(argv)

    times = measure(args.steps, args.block)
    print(f"Monitor overhead: MLP {'-'.join(map(str, MLP_SIZES))} ReLU, batch {BATCH}, "
          f"SGD momentum {MOMENTUM}, {args.steps} steps per setting in rotating turns of "
          f"{args.block}, BLAS threads {os.environ.get('OPENBLAS_NUM_THREADS')}")
    headline = {}
    for column, clock in enumerate(("CPU time", "wall time")):
        base = times["unmonitored"][..., column]
        base_median = float(np.median(base))
        print(f"  {clock} (overhead = median over turns of the difference of turn means):")
        print(f"   {'unmonitored':12s} {base_median * 1e3:7.3f} ms/step (median)")
        for name, _ in SETTINGS[1:]:
            steps = times[name][..., column]
            extra = float(np.median(steps.mean(axis=1) - base.mean(axis=1)))
            headline[name, clock] = extra / base_median * 100
            print(f"   {name:12s} {np.median(steps) * 1e3:7.3f} ms/step (median)   overhead "
                  f"{extra / base_median * 100:+6.1f}%  ({extra * 1e6:+.0f} us/step)")
    if args.epochs:
        print_epochs(measure_epochs(args.epochs))
    cpu, wall = headline["every=1", "CPU time"], headline["every=1", "wall time"]
    verdict = "met" if max(cpu, wall) <= GOAL_PERCENT else "NOT met"
    print(f"Monitor(every=1) overhead per training step: {cpu:+.1f}% CPU time, {wall:+.1f}% "
          f"wall time (goal <= {GOAL_PERCENT:.0f}%: {verdict}); every=10: "
          f"{headline['every=10', 'CPU time']:+.1f}% CPU time")


if __name__ == "__main__":
    main()
