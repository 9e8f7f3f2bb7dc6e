"""Known-wrong implementations of lab 01: each must lose points (minnet labs check)."""
MUTANTS = [
    dict(name="missing transpose", file="layers.py",
         old="dx = dout @ w.T", new="dx = dout @ w",
         why="dL/dx = dout @ w^T: without the transpose the shapes (N, M) @ (D, M) do not even "
             "multiply (with D == M they would, silently -- hence prime-sized test shapes)"),
    dict(name="shape fixed with reshape instead of a transpose", file="layers.py",
         old="dw = x.T @ dout", new="dw = (dout.T @ x).reshape(w.shape)",
         why="dout.T @ x is dw transposed; reshape gives the right shape with the entries in "
             "the wrong places"),
    dict(name="no sum over the batch for db", file="layers.py",
         old="db = dout.sum(axis=0)", new="db = dout[0]",
         why="b is added to every row, so its gradient sums dout over all N rows"),
    dict(name="ReLU mask taken from dout", file="layers.py",
         old="dx = dout * (x > 0)", new="dx = dout * (dout > 0)",
         why="the gradient flows where the input was positive, whatever the sign of dout"),
    dict(name="ReLU gradient 2 at exactly x = 0", file="layers.py",
         old="dx = dout * (x > 0)", new="dx = dout * ((x > 0) + 2.0 * (x == 0))",
         why="at the kink any slope from 0 to 1 is a subgradient (PyTorch takes 0, a mask "
             "x >= 0 gives 1, both accepted); 2 is none"),
    dict(name="sigmoid backward from the input instead of the output", file="layers.py",
         old="return out, out", new="return out, x",
         why="sigma'(x) = sigma(x)(1 - sigma(x)) needs the output; x(1 - x) is something else"),
    dict(name="softmax without the max shift (overflows)", file="layers.py",
         old="shifted = x - x.max(axis=1, keepdims=True)", new="shifted = x",
         why="exp(1000) overflows to inf and the loss becomes NaN"),
    dict(name="softmax shifted by the global max (underflows)", file="layers.py",
         old="shifted = x - x.max(axis=1, keepdims=True)", new="shifted = x - x.max()",
         why="a row far below the batch's largest score underflows to exp(...) = 0 everywhere: "
             "log(0) = -inf, 0/0 = nan (each row needs its own shift)"),
    dict(name="softmax gradient not divided by N", file="layers.py",
         old="dx /= n_samples", new="dx *= 1",
         why="the loss is a mean over the batch, so each sample's gradient carries 1/N"),
    dict(name="softmax loss summed instead of averaged", file="layers.py",
         old="loss = -log_probs[rows, y].mean()", new="loss = -log_probs[rows, y].sum()",
         why="the loss (a mean) and its gradient (divided by N) no longer agree"),
    dict(name="MSE gradient with the wrong sign", file="layers.py",
         old="diff = x - target", new="diff = target - x",
         why="the loss is the same, but d/dx (x - t)^2 = 2 (x - t), not 2 (t - x)"),
    dict(name="MSE gradient missing the factor 2", file="layers.py",
         old="dx = 2.0 * diff / diff.size", new="dx = diff / diff.size",
         why="d/dx (x - t)^2 = 2 (x - t)"),
    dict(name="MSE gradient taken from minnet's autograd", file="layers.py",
         old="dx = 2.0 * diff / diff.size",
         new="leaf = __import__('minnet').tensor(x, requires_grad=True)\n"
             "    ((leaf - __import__('minnet').tensor(target)) ** 2).mean().backward()\n"
             "    dx = leaf.grad.numpy()",
         why="the lab derives each backward by hand; asking minnet's autograd for it passes "
             "every gradient check and teaches nothing"),
    dict(name="db keeps the batch axis (shape (1, M))", file="layers.py",
         old="db = dout.sum(axis=0)", new="db = dout.sum(axis=0, keepdims=True)",
         why="db must have b's shape (M,): `b -= lr * db` with a (1, M) db fails, and "
             "`b = b - lr * db` silently turns b into a (1, M) array (a public CS231n solution, "
             "github.com/Deeplayer/CS231n-winter-2016)"),
    dict(name="softmax loss with log(p + 1e-5)", file="layers.py",
         old="loss = -log_probs[rows, y].mean()",
         new="loss = -np.log(np.exp(log_probs[rows, y]) + 1e-5).mean()",
         why="a constant added 'against log(0)' biases the loss (and no longer matches dx); the "
             "max shift already keeps it finite (a public CS231n solution, "
             "github.com/xavi1989/cs231n)"),
    dict(name="affine forward cast to float32", file="layers.py",
         old="    out = x @ w + b\n", new="    out = (x @ w + b).astype(np.float32)\n",
         why="a layer keeps its input's dtype; float32 outputs make the float64 gradient check "
             "rounding noise (the test says so instead of blaming the backward)"),
]
