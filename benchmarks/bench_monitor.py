"""Overhead of ``minnet.debug.Monitor`` on the core MLP benchmark setting.

    python benchmarks/bench_monitor.py              # 1,200 steps per setting
    python benchmarks/bench_monitor.py --steps 3000

MLP 784-256-128-10 (ReLU), batch 128, SGD momentum 0.9, random data (as in
bench_core.py). Three identical trainers run side by side: unmonitored, with
``Monitor(every=1)`` and with ``Monitor(every=10)``. They take turns of
``--block`` consecutive steps (default 20, the order rotating), so a slow
period of a busy machine hits all three alike, while each trainer's arrays
stay as warm in the caches as in a real run (step-by-step turns measured each
trainer right after two others had evicted its parameters: about 100 us/step
more overhead than a lone run sees). The overhead is the median over turns of
(mean monitored step time - mean unmonitored step time of the same turn), in %
of the median unmonitored step: a mean over a block, so every=10's recorded
steps count as often as they happen.
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


def measure(steps: int, block: int = 20, n_batches: int = 16) -> dict:
    """Step times (seconds, shape (turns, block, 2): CPU, wall) of each setting.

    The settings take turns of ``block`` consecutive steps, the order rotating.
    """
    batches = random_batches(n_batches)
    loss_fn = nn.CrossEntropyLoss()
    trainers = {}
    for name, every in SETTINGS:
        model, optimizer = build()
        monitor = Monitor(model, optimizer, every=every) if every else None
        trainers[name] = (model, optimizer, monitor)
    names = [name for name, _ in SETTINGS]
    turns = max(steps // block, 1)
    times = {name: np.empty((turns, block, 2)) for name in names}
    for turn in range(-1, turns):  # one warm-up turn
        order = names[turn % 3:] + names[:turn % 3]
        for name in order:
            for i in range(block):
                X, y = batches[(turn * block + i) % n_batches]
                seconds = one_step(*trainers[name], loss_fn, X, y)
                if turn >= 0:
                    times[name][turn, i] = seconds
    for _, _, monitor in trainers.values():
        if monitor is not None:
            monitor.detach()
    return times


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1200, help="steps per setting")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    parser.add_argument("--block", type=int, default=20,
                        help="consecutive steps per turn (default 20; a multiple of 10)")
    args = parser.parse_args(argv)

    times = measure(args.steps, args.block)
    print(f"Monitor overhead: MLP {'-'.join(map(str, MLP_SIZES))} ReLU, batch {BATCH}, "
          f"SGD momentum {MOMENTUM}, {args.steps} steps per setting in rotating turns of "
          f"{args.block}, BLAS threads {os.environ.get('OPENBLAS_NUM_THREADS')}")
    for column, clock in enumerate(("CPU time", "wall time")):
        base = times["unmonitored"][..., column]
        base_median = float(np.median(base))
        print(f"  {clock} (overhead = median over turns of the difference of turn means):")
        print(f"   {'unmonitored':12s} {base_median * 1e3:7.3f} ms/step (median)")
        for name, _ in SETTINGS[1:]:
            steps = times[name][..., column]
            extra = float(np.median(steps.mean(axis=1) - base.mean(axis=1)))
            print(f"   {name:12s} {np.median(steps) * 1e3:7.3f} ms/step (median)   overhead "
                  f"{extra / base_median * 100:+6.1f}%  ({extra * 1e6:+.0f} us/step)")
    print("   targets: every=1 <= 15%, every=10 negligible")


if __name__ == "__main__":
    main()
