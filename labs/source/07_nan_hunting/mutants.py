"""Known-wrong implementations of lab 07: each must lose points (minnet labs check)."""

# the lab's original model and loss, redefined after the repaired ones (appended to a line
# that precedes training_setup's call, so the setup uses them)
ORIGINAL_MODEL_AND_LOSS = (
    "\n\n"
    "def build_model(in_features, num_classes):\n"
    "    return nn.Sequential(nn.Linear(in_features, 64), nn.ReLU(), nn.Linear(64, 64),\n"
    "                         nn.ReLU(), nn.Linear(64, num_classes), HandmadeSoftmax())\n\n\n"
    "def training_loss(output, targets):\n"
    "    return -(one_hot(targets, output.shape[1]) * output.log()).sum(dim=1).mean()\n")
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
         old="logits.detach().numpy().max(axis=dim, keepdims=True)",
         new="logits.detach().numpy().max(axis=dim)",
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
    dict(name="log-softmax borrowed from the library", file="nan_hunting.py",
         old="    return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()\n",
         new="    return nn.functional.log_softmax(logits, dim=dim)\n",
         why="stable, but not written by hand: the lab asks for the max shift and log-sum-exp"),
    # adversarial: avoiding the NaN instead of repairing it. Each keeps the lab's original
    # model (HandmadeSoftmax) and loss (log of probabilities) on cleaned inputs; with tests
    # that looked at the findings only, the first scored a point of the repaired training.
    dict(name="learning rate lowered, unstable softmax and loss kept", file="nan_hunting.py",
         old="LEARNING_RATE = 0.03\n",
         new="LEARNING_RATE = 0.003\n" + ORIGINAL_MODEL_AND_LOSS,
         why="a smaller step only postpones log(0): the loss must be computed stably"),
    dict(name="training shortened to before the first NaN", file="nan_hunting.py",
         old="batch_size=32, steps=150, seed=seed)",
         new="batch_size=32, steps=10, seed=seed)\n" + ORIGINAL_MODEL_AND_LOSS,
         why="the NaN comes back with longer training; repair its cause"),
    dict(name="gradients clipped, unstable softmax and loss kept", file="nan_hunting.py",
         old="batch_size=32, steps=150, seed=seed)",
         new="batch_size=32, steps=150, seed=seed, clip_grad_norm=0.01)\n"
             + ORIGINAL_MODEL_AND_LOSS,
         why="clipping slows the logits' growth but leaves log(softmax) unstable"),
    dict(name="a Setup subclass whose diagnose reports nothing", file="nan_hunting.py",
         old="LEARNING_RATE = 0.03\n",
         new="LEARNING_RATE = 0.03\n\n\n"
             "class _QuietSetup(Setup):\n"
             "    def diagnose(self, **options):\n"
             "        from minnet.debug.report import Report\n"
             "        return Report([])\n\n\n"
             "Setup = _QuietSetup\n" + ORIGINAL_MODEL_AND_LOSS,
         why="the tests diagnose the setup with minnet's own function and accept minnet's "
             "Setup only"),
    dict(name="log-softmax borrowed through an alias", file="nan_hunting.py",
         old="    return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()\n",
         new="    return _library_log_softmax(logits, dim=dim)\n\n\n"
             "_library_log_softmax = nn.functional.log_softmax\n",
         why="the autograd graph shows the library op, whatever name reached it"),
    dict(name="cross-entropy borrowed from the library", file="nan_hunting.py",
         old="    return -log_probabilities[np.arange(len(labels)), "
             "labels.astype(np.int64)].mean()\n",
         new="    return nn.functional.cross_entropy(logits, Tensor(labels.astype(np.int64)))\n",
         why="softmax_cross_entropy is built from the student's own stable_log_softmax"),
]
