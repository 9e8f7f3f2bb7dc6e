"""Timings for minnet's kernels and for a whole small-CNN epoch (prints; asserts nothing).

    python benchmarks/bench_kernels.py            # everything (about a minute)
    python benchmarks/bench_kernels.py --quick    # fewer repeats, a shorter epoch

Sections:
1. each Numba kernel against its NumPy reference, at the course CNN's shapes
   (on one thread);
2. the conv and pooling kernels on one thread and on ``threads.num_threads()``
   threads (chunks of the batch, ``minnet/kernels/threads.py``): wall and CPU time;
3. the CNN 1x28x28 -> conv 8 3x3 pad 1 -> ReLU -> maxpool 2 -> conv 16 3x3 pad 1
   -> ReLU -> maxpool 2 -> linear 10, batch 64, one SGD epoch on 10,000 random
   images: minnet with kernels, minnet with MINNET_NO_JIT=1, and PyTorch on the
   same number of threads when it is installed (benchmarks/bench_core.py runs
   the comparison with PyTorch in a process of its own);
4. how long the cross-entropy loss takes inside that step (does fusing pay?).

Every figure is the best of several repeats: the machine may be busy.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import minnet  # noqa: E402
from minnet import kernels, nn, optim  # noqa: E402
from minnet.kernels import threads  # noqa: E402

BATCH = 64
N_SAMPLES = 10_000


def best_time(function, repeats=5, number=10) -> float:
    """Best-of-``repeats`` mean seconds per call (first call warms up / compiles)."""
    function()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            function()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:8.3f} ms"


# --------------------------------------------------------------------------
# 1. kernels vs references
# --------------------------------------------------------------------------
CONV_LAYERS = [  # (name, N, C, H, F): the two convolutions of the course CNN
    ("conv1 1->8 @28x28", BATCH, 1, 28, 8),
    ("conv2 8->16 @14x14", BATCH, 8, 14, 16),
]


def conv_cases(rng, n, c, size, n_filters):
    """The kernel calls of one conv layer of the course CNN (3x3, padding 1)."""
    x = rng.standard_normal((n, c, size, size)).astype(np.float32)
    weight_matrix = rng.standard_normal((n_filters, c * 9)).astype(np.float32)
    bias = np.zeros(n_filters, dtype=np.float32)
    geometry = (3, 3, 1, 1, 1, 1, size, size)
    out, cols = kernels.kernel("conv2d_forward", jit=False)(x, weight_matrix, bias, *geometry)
    grad_out = rng.standard_normal(out.shape).astype(np.float32)
    return {
        "im2col": (x, *geometry),
        "col2im": (cols, n, c, size, size, *geometry),
        "conv2d_forward": (x, weight_matrix, bias, *geometry),
        "conv2d_backward": (grad_out, cols, weight_matrix, size, size, *geometry[:6],
                            c > 1, True, True),  # the first layer needs no dL/dx
    }


def pool_cases(rng, n, c, size):
    """The kernel calls of one 2x2 max pooling of the course CNN (and average pooling)."""
    feature_map = rng.standard_normal((n, c, size, size)).astype(np.float32)
    geometry = (2, 2, 2, 2, 0, 0, size // 2, size // 2)
    pooled, argmax = kernels.kernel("max_pool2d_forward", jit=False)(feature_map, *geometry)
    return {
        "max_pool2d_forward": (feature_map, *geometry),
        "max_pool2d_backward": (pooled, argmax, size, size),
        "avg_pool2d_forward": (feature_map, *geometry, True, 0),
        "avg_pool2d_backward": (pooled, size, size, *geometry[:6], True, 0),
    }


def layer_cases():
    rng = np.random.default_rng(0)
    for name, n, c, size, n_filters in CONV_LAYERS:
        yield name, {**conv_cases(rng, n, c, size, n_filters),
                     **pool_cases(rng, n, n_filters, size)}


def bench_kernels(repeats):
    print("1. Numba kernel vs NumPy reference (float32, course CNN shapes, one thread)")
    saved = threads.num_threads()
    threads.set_num_threads(1)
    try:
        for name, cases in layer_cases():
            for kernel_name, args in cases.items():
                jit = best_time(lambda: kernels.kernel(kernel_name, jit=True)(*args), repeats)
                ref = best_time(lambda: kernels.kernel(kernel_name, jit=False)(*args), repeats)
                print(f"   {name:20s} {kernel_name:20s} numba {ms(jit)}  numpy {ms(ref)}  "
                      f"x{ref / jit:5.1f}")
    finally:
        threads.set_num_threads(saved)
    rows = np.random.default_rng(1).integers(0, 1000, 5000)
    values = np.ones((5000, 64), dtype=np.float32)
    jit = best_time(lambda: kernels.kernel("scatter_add", jit=True)((1000, 64), rows, values),
                    repeats)
    ref = best_time(lambda: kernels.kernel("scatter_add", jit=False)((1000, 64), rows, values),
                    repeats)
    print(f"   {'(1000, 64)[5000 ids]':20s} {'scatter_add':20s} numba {ms(jit)}  "
          f"np.add.at {ms(ref)}  x{ref / jit:5.1f}")


# --------------------------------------------------------------------------
# 2. the kernels on one thread and on several
# --------------------------------------------------------------------------
def best_wall_and_cpu(function, repeats=5, number=10) -> tuple:
    function()
    wall = cpu = float("inf")
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        for _ in range(number):
            function()
        wall = min(wall, (time.perf_counter() - start) / number)
        cpu = min(cpu, (time.process_time() - start_cpu) / number)
    return wall, cpu


def bench_threads(repeats):
    many = threads.num_threads()
    print(f"\n2. conv and pooling kernels on 1 thread vs {many} (chunks of the batch; "
          f"wall time, CPU time of all threads in brackets)")
    for name, cases in layer_cases():
        for kernel_name, args in cases.items():
            if kernel_name in ("im2col", "col2im"):
                continue  # whole-batch helpers; the conv kernels run them per chunk
            function = kernels.kernel(kernel_name, jit=True)
            timings = []
            for thread_count in (1, many):
                threads.set_num_threads(thread_count)
                timings.append(best_wall_and_cpu(lambda: function(*args), repeats))
            threads.set_num_threads(many)
            (one, one_cpu), (several, several_cpu) = timings
            print(f"   {name:20s} {kernel_name:20s} 1 thread {ms(one)} ({ms(one_cpu)})  "
                  f"{many} threads {ms(several)} ({ms(several_cpu)})  x{one / several:4.2f}")


# --------------------------------------------------------------------------
# 3. the whole CNN epoch
# --------------------------------------------------------------------------
def make_data(n_samples):
    rng = np.random.default_rng(0)
    images = rng.standard_normal((n_samples, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, n_samples)
    return images, labels


def minnet_cnn():
    rng = np.random.default_rng(0)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, generator=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1, generator=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 7 * 7, 10, generator=rng))


def minnet_epoch(images, labels, model=None):
    """Seconds for one SGD epoch of the CNN with minnet, and the last loss."""
    model = model or minnet_cnn()
    optimizer = optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    for first in range(0, len(images), BATCH):
        batch = minnet.tensor(images[first:first + BATCH])
        target = minnet.tensor(labels[first:first + BATCH])
        loss = loss_fn(model(batch), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start, loss.item()


def torch_epoch(images, labels):
    import torch
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(16 * 7 * 7, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    images, labels = torch.from_numpy(images), torch.from_numpy(labels)
    start = time.perf_counter()
    for first in range(0, len(images), BATCH):
        loss = torch.nn.functional.cross_entropy(model(images[first:first + BATCH]),
                                                 labels[first:first + BATCH])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start, loss.item()


def one_thread_epoch(images, labels):
    """A minnet epoch with the conv and pooling kernels on one thread."""
    saved = threads.num_threads()
    threads.set_num_threads(1)
    try:
        return minnet_epoch(images, labels)
    finally:
        threads.set_num_threads(saved)


def runs(times) -> str:
    return f"{min(times):7.3f} s  (all runs: {', '.join(f'{t:.2f}' for t in times)})"


def bench_epoch(n_samples, repeats):
    """Alternate the contenders epoch by epoch, keep each one's best: fair on a busy machine.

    Contenders: minnet as shipped (its conv and pooling kernels on
    ``threads.num_threads()`` threads), minnet with those kernels on one thread,
    and PyTorch on all cores when it is installed.
    """
    print(f"\n3. CNN epoch: {n_samples} samples, batch {BATCH}, SGD, {os.cpu_count()} cores")
    images, labels = make_data(n_samples)
    try:
        import torch
        torch.set_num_threads(os.cpu_count())
        torch_epoch(images[:BATCH * 2], labels[:BATCH * 2])
    except ImportError:
        torch = None
    minnet_epoch(images[:BATCH * 2], labels[:BATCH * 2])  # compile / load the kernels
    with_jit, one_thread, reference = [], [], []
    for _ in range(repeats):
        with_jit.append(minnet_epoch(images, labels)[0])
        one_thread.append(one_thread_epoch(images, labels)[0])
        if torch is not None:
            reference.append(torch_epoch(images, labels)[0])
    print(f"   BLAS inside conv: {kernels.info()['blas_threads']}")
    print(f"   minnet, kernels on {threads.num_threads()} threads {runs(with_jit)}")
    print(f"   minnet, kernels on 1 thread  {runs(one_thread)}")
    os.environ["MINNET_NO_JIT"] = "1"
    try:
        subset = max(BATCH, n_samples // 10)
        no_jit = minnet_epoch(images[:subset], labels[:subset])[0] * n_samples / subset
    finally:
        del os.environ["MINNET_NO_JIT"]
    print(f"   minnet, MINNET_NO_JIT=1      {no_jit:7.3f} s  (extrapolated from {subset})")
    if torch is None:
        print("   PyTorch not installed: no comparison")
        return
    print(f"   PyTorch {torch.__version__}, {torch.get_num_threads()} threads {runs(reference)}")
    print(f"   minnet / PyTorch = {min(with_jit) / min(reference):.2f} (target: at most 1.5)")


# --------------------------------------------------------------------------
# 4. the loss inside one step
# --------------------------------------------------------------------------
def bench_loss(repeats):
    print("\n4. Does a fused softmax-cross-entropy kernel pay? (one training step, batch 64)")
    images, labels = make_data(BATCH)
    model = minnet_cnn()
    loss_fn = nn.CrossEntropyLoss()
    batch, target = minnet.tensor(images), minnet.tensor(labels)
    logits_data = model(batch).numpy()

    def step():
        model.zero_grad()
        loss_fn(model(batch), target).backward()

    def loss_only():
        logits = minnet.tensor(logits_data, requires_grad=True)
        loss_fn(logits, target).backward()

    whole, loss_part = best_time(step, repeats), best_time(loss_only, repeats)
    print(f"   whole step {ms(whole)}; cross-entropy forward + backward {ms(loss_part)} "
          f"({100 * loss_part / whole:.1f}% of the step)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, 2,000 samples")
    args = parser.parse_args()
    repeats = 2 if args.quick else 5
    print(f"minnet kernels: {kernels.info()}\n")
    bench_kernels(repeats)
    bench_threads(repeats)
    bench_epoch(2_000 if args.quick else N_SAMPLES, 1 if args.quick else 3)
    bench_loss(repeats)


if __name__ == "__main__":
    main()
