"""Known-wrong implementations of lab 11: each must lose points (minnet labs check)."""
MUTANTS = [
    dict(name="stride off by one in the output size", file="conv_layers.py",
         old="return (size + 2 * pad - kernel) // stride + 1",
         new="return (size + 2 * pad - kernel + 1) // stride",
         why="right for stride 1, one window short (or long) for larger strides"),
    dict(name="padding applied on one side only", file="conv_layers.py",
         old="np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))",
         new="np.pad(x, ((0, 0), (0, 0), (0, 2 * pad), (0, 2 * pad)))",
         why="the right size, but every window is shifted by pad: zeros belong on both sides"),
    dict(name="kernel flipped (true convolution instead of cross-correlation)",
         file="conv_layers.py",
         old="out[n, f, i, j] = np.sum(window * w[f]) + b[f]",
         new="out[n, f, i, j] = np.sum(window * w[f, :, ::-1, ::-1]) + b[f]",
         why="deep-learning 'convolution' multiplies the window with the kernel as it is"),
    dict(name="dw overwritten instead of summed over the batch and positions (= for +=)",
         file="conv_layers.py",
         old="dw[f] += xp[n, :, top:top + kh, left:left + kw] * grad",
         new="dw[f] = xp[n, :, top:top + kh, left:left + kw] * grad",
         why="the same filter is used at every position of every image: its gradient sums "
             "all of them"),
    dict(name="padding cut off from the wrong side in the naive backward", file="conv_layers.py",
         old="dx = dxp[:, :, pad:pad + H, pad:pad + W]",
         new="dx = dxp[:, :, :H, :W]",
         why="the input sits at offset pad inside the padded array"),
    dict(name="transposed H/W axes in im2col", file="conv_layers.py",
         old="xp[:, :, rows, columns].transpose(1, 0, 2, 3)",
         new="xp[:, :, rows, columns].transpose(1, 0, 3, 2)",
         why="(N, C, OH, OW) -> (C, N, OH, OW) keeps OH before OW; with OH == OW the swap "
             "would even go unnoticed by the shapes"),
    dict(name="col2im overwrites instead of adding (= for +=)", file="conv_layers.py",
         old="dxp[:, :, rows, columns] += patches[:, di, dj].transpose(1, 0, 2, 3)",
         new="dxp[:, :, rows, columns] = patches[:, di, dj].transpose(1, 0, 2, 3)",
         why="an entry covered by several windows gets the sum of their gradients"),
    dict(name="conv output reshaped instead of transposed", file="conv_layers.py",
         old="out = out_rows.reshape(F, N, out_h, out_w).transpose(1, 0, 2, 3)",
         new="out = out_rows.reshape(N, F, out_h, out_w)",
         why="the rows of w @ cols are filters: (F, N*OH*OW) needs a transpose to (N, F, ...)"),
    dict(name="fast dw transposed and fixed with reshape", file="conv_layers.py",
         old="dw = (dout_rows @ cols.T).reshape(w.shape)",
         new="dw = (cols @ dout_rows.T).reshape(w.shape)",
         why="(C*kh*kw, F) reshaped to (F, C, kh, kw) puts the entries in the wrong places"),
    dict(name="max-pool backward routes the gradient to every tied maximum", file="conv_layers.py",
         old="dx[n, c, row + di, col + dj] += dout[n, c, i, j]",
         new="dx[n, c, row:row + pool_h, col:col + pool_w] += "
             "(window == window.max()) * dout[n, c, i, j]",
         why="the maximum is one entry (the first of the ties): the others did not produce "
             "the output"),
    dict(name="max-pool backward to the wrong index (output position, not input)",
         file="conv_layers.py",
         old="dx[n, c, row + di, col + dj] += dout[n, c, i, j]",
         new="dx[n, c, i + di, j + dj] += dout[n, c, i, j]",
         why="the window of output (i, j) starts at (i * stride, j * stride) in x"),
    dict(name="max-pool backward overwrites shared maxima (= for +=)", file="conv_layers.py",
         old="dx[n, c, row + di, col + dj] += dout[n, c, i, j]",
         new="dx[n, c, row + di, col + dj] = dout[n, c, i, j]",
         why="with overlapping windows one entry can be the maximum of several windows"),
    dict(name="fast forward borrowed from minnet's conv2d", file="conv_layers.py",
         old="out = out_rows.reshape(F, N, out_h, out_w).transpose(1, 0, 2, 3)",
         new="from minnet.nn.functional import conv2d as builtin_conv2d\n"
             "    out = builtin_conv2d(__import__('minnet').tensor(x), "
             "__import__('minnet').tensor(w), __import__('minnet').tensor(b), "
             "stride=stride, padding=pad).detach().numpy()",
         why="the lab is writing the convolution; calling minnet's (the tests' expected "
             "answer) learns nothing"),
    dict(name="output size borrowed from minnet", file="conv_layers.py",
         old="return (size + 2 * pad - kernel) // stride + 1",
         new="from minnet.ops.conv import conv_output_size as minnet_size\n"
             "    return minnet_size(size, kernel, stride, pad)",
         why="the test compares with minnet's formula: calling it scores without knowing it"),
    dict(name="naive convolution that calls the fast one", file="conv_layers.py",
         old="""    out = np.empty((N, F, out_h, out_w))
    for n in range(N):
        for f in range(F):
            for i in range(out_h):
                for j in range(out_w):
                    top, left = i * stride, j * stride
                    window = xp[n, :, top:top + kh, left:left + kw]     # (C, kh, kw)
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
""",
         new="    out = conv_forward_fast(x, w, b, stride, pad)[0]\n",
         why="part 2 is the convolution written with loops, one window at a time: the values "
             "match, the lesson is skipped"),
    dict(name="naive convolution that calls the fast one through a helper, its loops dead code",
         file="conv_layers.py",
         old='def conv_forward_naive(x, w, b, stride=1, pad=0):\n'
             '    """x (N, C, H, W), w (F, C, kh, kw), b (F,) -> out (N, F, OH, OW), cache.\n',
         new='def _via_matrix(x, w, b, stride, pad):\n'
             '    return conv_forward_fast(x, w, b, stride, pad)[0]\n\n\n'
             'def conv_forward_naive(x, w, b, stride=1, pad=0):\n'
             '    return _via_matrix(x, w, b, stride, pad), (x, w, stride, pad)\n'
             '    """x (N, C, H, W), w (F, C, kh, kw), b (F,) -> out (N, F, OH, OW), cache.\n',
         why="the loops test follows the file's own helpers: a detour through one is still "
             "the fast convolution"),
    dict(name="fast convolution that loops over the windows", file="conv_layers.py",
         old="""    out_rows = w.reshape(F, -1) @ cols + b[:, None]              # (F, N*OH*OW)
""",
         new="""    out_rows = np.stack([w.reshape(F, -1).dot(cols[:, k]) for k in range(cols.shape[1])],
                        axis=1) + b[:, None]
""",
         why="the vectorised convolution is one matrix product, not a Python loop over the "
             "N * OH * OW windows"),
    dict(name="padding cut off with pad:-pad (empty when pad = 0)", file="conv_layers.py",
         old="dx = dxp[:, :, pad:pad + H, pad:pad + W]",
         new="dx = dxp[:, :, pad:-pad, pad:-pad]",
         why="right for pad >= 1, but -0 is 0: with pad = 0 the slice is empty. In 9 of the "
             "20 public CS231n solutions whose naive convolution ran, measured on 6 Dec (e.g. github.com/7forz/"
             "CS231n_assignments, github.com/kantarcise/cs231n)"),
    dict(name="pool output width computed from the pool height", file="conv_layers.py",
         old="conv_output_size(W, pool_w, stride, 0)",
         new="conv_output_size(W, pool_h, stride, 0)",
         why="unseen with square pools; a 3 x 2 pool then has the wrong number of columns "
             "(a public CS231n solution, github.com/Aneureka/cs231n-assignments-2018)"),
    dict(name="naive conv output allocated as float32", file="conv_layers.py",
         old="    out = np.empty((N, F, out_h, out_w))\n    for n in range(N):",
         new="    out = np.empty((N, F, out_h, out_w), dtype=np.float32)\n    for n in range(N):",
         why="values within 1e-6, but the layer no longer keeps float64: its finite differences "
             "are rounding noise, so its backward cannot be checked (the test says so instead of "
             "blaming the backward)"),
]
