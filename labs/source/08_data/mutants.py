"""Known-wrong implementations of lab 08: each must lose points (minnet labs check)."""
MUTANTS = [
    dict(name="constant means 'small spread'", file="data_pipeline.py",
         old="return X.max(axis=0) == X.min(axis=0)", new="return X.std(axis=0) < 1.0",
         why="a column with a small std still carries information; constant means one value"),
    dict(name="sample std (ddof=1)", file="data_pipeline.py",
         old="mean, std = X.mean(axis=0), X.std(axis=0)",
         new="mean, std = X.mean(axis=0), X.std(axis=0, ddof=1)",
         why="the lab (and Standardizer, and scikit-learn) use the population std"),
    dict(name="no guard for std 0", file="data_pipeline.py",
         old="return mean, np.where(std > 0, std, 1.0)", new="return mean, std",
         why="a constant column then becomes 0 / 0 = NaN"),
    dict(name="standardized inputs left in float64", file="data_pipeline.py",
         old="return ((np.asarray(X, dtype=np.float64) - mean) / std).astype(np.float32)",
         new="return (np.asarray(X, dtype=np.float64) - mean) / std",
         why="the model's parameters are float32"),
    dict(name="labels encoded by subtracting 1", file="data_pipeline.py",
         old="return np.searchsorted(classes, y).astype(np.int64)",
         new="return (y - 1).astype(np.int64)",
         why="right for 1..C only; labels such as -7, 5, 12, 40 need their position in classes"),
    dict(name="unknown labels encoded silently", file="data_pipeline.py",
         old="if unknown.size:", new="if False:",
         why="searchsorted maps an unseen label to a neighbouring class without a word"),
    dict(name="balanced rows not shuffled", file="data_pipeline.py",
         old="return np.random.default_rng(seed).permutation(index).astype(np.int64)",
         new="return index.astype(np.int64)",
         why="class after class: the oversampled set is sorted by label"),
    dict(name="oversampling by random draws", file="data_pipeline.py",
         old="np.resize(np.flatnonzero(y == c), majority)",
         new="np.random.default_rng(seed).choice(np.flatnonzero(y == c), majority)",
         why="draws with replacement skip some rows entirely and repeat others many times"),
    dict(name="class weights proportional to frequency", file="data_pipeline.py",
         old="len(y) / (num_classes * np.maximum(counts, 1))", new="counts / len(y)",
         why="the rare class needs the LARGE weight: inverse frequency"),
    dict(name="loader not shuffled", file="data_pipeline.py",
         old="shuffle=True, seed=seed)", new="shuffle=False, seed=seed)",
         why="every epoch then visits the rows in their stored order"),
    dict(name="loader without its seed", file="data_pipeline.py",
         old="shuffle=True, seed=seed)", new="shuffle=True)",
         why="two runs (or two loaders) no longer see the same order: not reproducible"),
    dict(name="majority class taken from the validation labels", file="data_pipeline.py",
         old="classes, counts = np.unique(np.asarray(y_train), return_counts=True)\n"
             "    majority",
         new="classes, counts = np.unique(np.asarray(y_val), return_counts=True)\n"
             "    majority",
         why="an input-independent model only knows the training labels"),
    dict(name="too small judged by the total count", file="data_pipeline.py",
         old="return bool(counts.min() < minimum_per_class)",
         new="return bool(len(y_train) < minimum_per_class * len(counts))",
         why="the rule is per class: a large set can still have a class with 2 samples"),
    dict(name="standardizer fitted on train + validation", file="data_pipeline.py",
         old="mean, std = fit_standardizer(X_train)\n",
         new="mean, std = fit_standardizer(np.concatenate([X_train, X_val]))\n",
         why="validation statistics leak into the training inputs (data.leakage)"),
    dict(name="labels shuffled separately from the images", file="data_pipeline.py",
         old="X, y = X[rows], y[rows]",
         new="X, y = X[rows], y[np.random.default_rng(seed + 1).permutation(len(y))]",
         why="no label belongs to its image any more (data.input_independent)"),
    dict(name="rare events shuffled but not balanced", file="data_pipeline.py",
         old="rows = balanced_indices(y_train, seed)", new="rows = np.arange(len(y_train))",
         why="the rare class stays 20x rarer: the model learns to ignore it"),
    dict(name="regression targets left in kW", file="data_pipeline.py",
         old="y_train, y_val = standardize(y_train, y_mean, "
             "y_std), standardize(y_val, y_mean, y_std)",
         new="y_train, y_val = y_train, y_val",
         why="targets ~2000 +- 350: the MSE starts in the millions (data.target_scale)"),
    # adversarial: scoring without repairing (each scored points before the tests checked
    # the splits and the standardisation themselves)
    dict(name="statistics from train + validation, rescaled to hide from the detector",
         file="data_pipeline.py",
         old="    mean, std = fit_standardizer(X_train)\n"
             "    X_train, X_val = standardize(X_train, "
             "mean, std), standardize(X_val, mean, std)\n",
         new="    mean, std = fit_standardizer(np.concatenate([X_train, X_val]))\n"
             "    X_train, X_val = standardize(X_train, mean, std), standardize(X_val, mean, std)\n"
             "    X_train, X_val = X_train * np.float32(1.001), X_val * np.float32(1.001)\n",
         why="still a leak: the training inputs are not standardised with their own "
             "statistics (scored 24/24 against the detector alone)"),
    dict(name="digits setup without validation data", file="data_pipeline.py",
         old="(X_train, y_train), val_data=(X_val, y_val), batch_size=32, steps=150,",
         new="(X_train, y_train), val_data=None, batch_size=32, steps=150,",
         why="without val_data the leakage and input-independence checks cannot run"),
    dict(name="rare class dropped from training, the rest shuffled", file="data_pipeline.py",
         old="rows = balanced_indices(y_train, seed)",
         new="rows = np.flatnonzero(y_train == 0)",
         why="no imbalance left to report, and nothing rare left to learn"),
    dict(name="rare events validated on the training rows", file="data_pipeline.py",
         old="    rows = balanced_indices(y_train, seed)\n",
         new="    rows = balanced_indices(y_train, seed)\n"
             "    X_val, y_val = X_train[rows], y_train[rows]\n",
         why="the grade is on the given validation split"),
    dict(name="regression trained on train + validation", file="data_pipeline.py",
         old="    y_train, y_val = standardize(y_train, y_mean, "
             "y_std), standardize(y_val, y_mean, y_std)\n",
         new="    y_train, y_val = standardize(y_train, y_mean, "
             "y_std), standardize(y_val, y_mean, y_std)\n"
             "    x_train, y_train = np.concatenate([x_train, "
             "x_val]), np.concatenate([y_train, y_val])\n",
         why="validation rows trained on make R^2 optimistic"),
    dict(name="a Setup subclass whose diagnose reports nothing", file="data_pipeline.py",
         old="def digits_pipeline(X, y, seed=0):",
         new="class _QuietSetup(Setup):\n"
             "    def diagnose(self, **options):\n"
             "        from minnet.debug.report import Report\n"
             "        return Report([])\n\n\n"
             "Setup = _QuietSetup\n\n\n"
             "def digits_pipeline(X, y, seed=0):",
         why="the tests diagnose with minnet's own function and accept minnet's Setup only"),
    dict(name="constant pixels disguised with noise instead of dropped", file="data_pipeline.py",
         old="    keep = ~constant_columns(X_train)\n"
             "    X_train, X_val = X_train[:, keep], X_val[:, keep]\n",
         new="    X_train = X_train + 1e-3 * np.random.default_rng(seed).standard_normal("
             "X_train.shape).astype(np.float32)\n",
         why="the constant pixels are still there (now noise the model can fit)"),
    dict(name="kelvin divided by 300 instead of standardised", file="data_pipeline.py",
         old="    x_train, x_val = standardize(x_train, x_mean, "
             "x_std), standardize(x_val, x_mean, x_std)\n",
         new="    x_train, x_val = x_train / np.float32(300.0), x_val / np.float32(300.0)\n",
         why="near 1 but not centred: standardise with the training split's mean and std"),
    dict(name="rare events shuffled once, never reshuffled", file="data_pipeline.py",
         old="loader = make_loader(X_train[rows], y_train[rows], batch_size=32, seed=seed)",
         new="loader = DataLoader(TensorDataset(X_train[rows], y_train[rows]), batch_size=32, "
             "shuffle=False)",
         why="every epoch then repeats the same batches"),
    dict(name="too_small off by one (<=)", file="data_pipeline.py",
         old="return bool(counts.min() < minimum_per_class)",
         new="return bool(counts.min() <= minimum_per_class)",
         why="a class with exactly the minimum number of samples is not too small"),
]
