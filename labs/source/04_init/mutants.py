"""Known-wrong implementations of lab 04 (initialisation): each must lose points
(`minnet labs check --lab 04_init`)."""
MUTANTS = [
    dict(name="He with fan_out", file="initialisation.py",
         old="return math.sqrt(2.0 / fan_in)", new="return math.sqrt(2.0 / fan_out)",
         why="He keeps the forward variance: it divides by the inputs each unit sums, fan_in"),
    dict(name="He without the gain of 2", file="initialisation.py",
         old="return math.sqrt(2.0 / fan_in)", new="return math.sqrt(1.0 / fan_in)",
         why="a ReLU zeroes half its inputs; without the factor 2 the signal halves in "
             "variance at every layer"),
    dict(name="Glorot without the square root", file="initialisation.py",
         old="return math.sqrt(2.0 / (fan_in + fan_out))", new="return 2.0 / (fan_in + fan_out)",
         why="2 / (fan_in + fan_out) is the variance, the std is its square root"),
    dict(name="Glorot with fan_in only", file="initialisation.py",
         old="return math.sqrt(2.0 / (fan_in + fan_out))", new="return math.sqrt(1.0 / fan_in)",
         why="Glorot averages fan_in and fan_out: that is LeCun, equal only for square layers"),
    dict(name="tanh initialised like ReLU", file="initialisation.py",
         old='if activation in ("relu", "leaky_relu", "elu"):',
         new='if activation in ("relu", "leaky_relu", "elu", "tanh"):',
         why="tanh does not zero half its inputs: the He gain saturates it"),
    dict(name="weight shape read as (fan_in, fan_out)", file="initialisation.py",
         old="fan_out, fan_in = layer.weight.shape", new="fan_in, fan_out = layer.weight.shape",
         why="a Linear weight is (out_features, in_features), PyTorch's layout"),
    dict(name="biases left at their default init", file="initialisation.py",
         old="            nn.init.zeros_(layer.bias)\n    return model",
         new="    return model",
         why="the schemes assume zero biases; Linear's default bias is random"),
    dict(name="output bias at the frequencies, not their log", file="initialisation.py",
         old="layer.bias.data[...] = np.log(counts / counts.sum())",
         new="layer.bias.data[...] = counts / counts.sum()",
         why="softmax exponentiates the bias: it must hold log frequencies"),
    dict(name="regression bias at the target median", file="initialisation.py",
         old="layer.bias.data[...] = y.astype(np.float64).mean()",
         new="layer.bias.data[...] = np.median(y.astype(np.float64))",
         why="the MSE-optimal constant prediction is the mean"),
    dict(name="per-unit std averaged", file="initialisation.py",
         old="stds.append(float(x.numpy().std()))",
         new="stds.append(float(x.numpy().std(axis=0).mean()))",
         why="the activation scale is the std of all entries; averaging per-unit stds drops "
             "the spread between units' means"),
    dict(name="histograms of every layer", file="initialisation.py",
         old="return viz.plot_activation_histograms(monitor, layers=activations, path=path)",
         new="return viz.plot_activation_histograms(monitor, path=path)",
         why="the Linear layers' panels scale to their own data, so a vanished signal still "
             "looks spread"),
    dict(name="output bias forgotten in the repaired model", file="initialisation.py",
         old='    set_output_bias_(model[-1], y_train, "classification")\n',
         new="",
         why="on imbalanced classes the first iterations only learn the bias"),
    dict(name="returns an already-trained model", file="initialisation.py",
         old='    set_output_bias_(model[-1], y_train, "classification")\n',
         new='    set_output_bias_(model[-1], y_train, "classification")\n'
             '    X_fit, y_fit = load_imbalanced_digits()[:2]\n'
             '    train(model, X_fit, y_fit, steps=150)\n'
             '    set_output_bias_(model[-1], y_train, "classification")\n',
         why="build_digits_model returns the model initialised, not trained: a pre-trained "
             "model makes the graded training run say nothing about the initialisation"),
]
