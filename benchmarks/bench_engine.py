"""The autograd engine's own costs (minnet/engine.py), measured in one process, alternated.

    python benchmarks/bench_engine.py [--rounds 12]
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_engine.py

1. per node: forward + backward of a 200-op chain on 16-element tensors (the arrays
   are tiny, so the time is the framework's: graph recording and the engine's loop);
2. the copy-avoiding fast path (engine._returns_new_arrays): bench_core's MLP and CNN
   training steps with it on and off (off: every leaf's first gradient is copied),
   CPU time per step, median of the per-round ratios.

Prints; asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import minnet  # noqa: E402
from minnet import engine, nn, optim  # noqa: E402

import bench_core  # noqa: E402  (the MLP, the CNN, their data, alternate())

CHAIN_OPS = 200


def chain(repeats: int = 20) -> None:
    """``repeats`` times: 100 x (mul, add) on a 16-element tensor, then backward."""
    x = minnet.tensor(np.linspace(0.1, 1.0, 16, dtype=np.float32), requires_grad=True)
    for _ in range(repeats):
        h = x
        for _ in range(CHAIN_OPS // 2):
            h = h * 1.01 + 0.001
        h.sum().backward()
        x.grad = None


def per_node(rounds: int) -> None:
    chain()
    cpu = []
    for _ in range(rounds):
        start = time.process_time()
        chain()
        cpu.append(time.process_time() - start)
    nodes = 20 * (CHAIN_OPS + 1)
    print(f"1. chain of {CHAIN_OPS} ops on 16 floats, forward + backward: "
          f"{1e6 * min(cpu) / nodes:.2f} us CPU per node (best of {rounds})")


def training_block(model, feature_shape: tuple, batch: int, steps: int):
    X, y = bench_core.random_data(batch * steps, feature_shape)
    batches = [(minnet.tensor(X[i * batch:(i + 1) * batch]),
                minnet.tensor(y[i * batch:(i + 1) * batch])) for i in range(steps)]
    optimizer = optim.SGD(model.parameters(), lr=bench_core.LR, momentum=bench_core.MOMENTUM)
    loss_fn = nn.CrossEntropyLoss()

    def block():
        for features, labels in batches:
            optimizer.zero_grad()
            loss_fn(model(features), labels).backward()
            optimizer.step()
    return block


def fast_path_off(block):
    def run():
        kept = engine._returns_new_arrays
        engine._returns_new_arrays = lambda node: False
        try:
            block()
        finally:
            engine._returns_new_arrays = kept
    return run


def fast_path(rounds: int) -> None:
    print(f"2. fast path on/off, BLAS threads {bench_core.blas_threads()} (CPU time per step, "
          f"{rounds} alternated rounds):")
    for name, model, shape, batch, steps in (
            ("MLP", bench_core.minnet_mlp(), (bench_core.MLP_SIZES[0],), bench_core.MLP_BATCH, 40),
            ("CNN", bench_core.minnet_cnn(), (1, 28, 28), bench_core.CNN_BATCH, 15)):
        block = training_block(model, shape, batch, steps)
        block()  # warm-up (Numba kernels)
        times = bench_core.alternate({"on": block, "off": fast_path_off(block)}, rounds)
        on, off = times["on"][1], times["off"][1]
        ratios = [a / b for a, b in zip(on, off)]
        print(f"   {name}: on {1e3 * float(np.median(on)) / steps:.3f} ms, off "
              f"{1e3 * float(np.median(off)) / steps:.3f} ms; on/off median "
              f"{float(np.median(ratios)):.3f}, best/best {min(on) / min(off):.3f}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12)
    args = parser.parse_args(argv)
    per_node(args.rounds)
    fast_path(args.rounds)


if __name__ == "__main__":
    main()
