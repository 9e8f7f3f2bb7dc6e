"""Known-wrong implementations of lab 07: each must lose points (minnet labs check)."""
MUTANTS = [
    dict(name="backward outside anomaly mode", file="nan_hunting.py",
         old="                loss.backward()\n", new="            loss.backward()\n",
         why="a NaN made in the backward pass (sqrt at 0) is only caught while anomaly mode is "
             "on: run forward AND backward inside the block"),
    dict(name="steps counted from 1", file="nan_hunting.py",
         old="enumerate(batches)", new="enumerate(batches, 1)",
         why="the step is the index of the batch, 0-based, as the docstring says"),
    dict(name="every anomaly reported as a loss problem", file="nan_hunting.py",
         old='"phase": error.phase, "code": error.code}',
         new='"phase": error.phase, "code": "loss.nonfinite"}',
         why="the error's code tells data (data.nonfinite), forward (loss.nonfinite) and "
             "backward (grad.nonfinite) apart"),
    dict(name="log-softmax without the max shift", file="nan_hunting.py",
         old="shifted = logits - peak", new="shifted = logits",
         why="exp(1000) overflows to inf: the shift is what makes it stable"),
    dict(name="row maximum without keepdims", file="nan_hunting.py",
         old="logits.data.max(axis=dim, keepdims=True)", new="logits.data.max(axis=dim)",
         why="(N, C) - (N,) does not subtract each row's maximum from its row"),
    dict(name="cross-entropy summed over the batch", file="nan_hunting.py",
         old="labels.astype(np.int64)].mean()", new="labels.astype(np.int64)].sum()",
         why="cross_entropy averages over the batch"),
    dict(name="binary cross-entropy without the clamp", file="nan_hunting.py",
         old="p = probabilities.clamp(eps, 1.0 - eps)", new="p = probabilities",
         why="log(0) = -inf when a probability is exactly 0 or 1"),
    dict(name="mean of the finite values divided by all N", file="nan_hunting.py",
         old="sums / np.maximum(counts, 1)", new="sums / len(X)",
         why="the missing entries must not count: divide by the number of finite values"),
    dict(name="missing values filled with 0", file="nan_hunting.py",
         old="np.asarray(means)[None, :]", new="0.0",
         why="the given (training) column means are the fill values"),
    dict(name="the loss takes the log of a softmax", file="nan_hunting.py",
         old="    return softmax_cross_entropy(output, targets)\n",
         new="    return -(one_hot(targets, output.shape[1]) * output.softmax(dim=1).log())"
             ".sum(dim=1).mean()\n",
         why="a confident model's softmax underflows to exactly 0 for the other classes: log(0) "
             "= -inf and 0 * -inf = nan; the log must be taken stably (log-softmax)"),
]
