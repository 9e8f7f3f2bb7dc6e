"""Known-wrong implementations of lab 03: each must lose points (minnet labs check)."""

# build_classifier with the planted initialisation bug left in (the Softmax removed)
OVERCONFIDENT_CLASSIFIER = (
    "def build_classifier(in_features, num_classes, hidden=128):\n"
    "    model = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(),\n"
    "                          nn.Linear(hidden, num_classes))\n"
    "    nn.init.normal_(model[2].weight, std=1.0)\n"
    "    return model\n\n\n")
MUTANTS = [
    dict(name="entropy in bits (log2)", file="loss_sanity.py",
         old="return float(-(present * np.log(present)).sum())",
         new="return float(-(present * np.log2(present)).sum())",
         why="cross_entropy uses the natural log: the expected loss is ln C, not log2 C"),
    dict(name="always ln C, whatever the label frequencies", file="loss_sanity.py",
         old="return float(-(present * np.log(present)).sum())",
         new="return float(np.log(num_classes))",
         why="ln C holds only for balanced classes; in general it is the entropy of the labels"),
    dict(name="mean(y^2) instead of var(y)", file="loss_sanity.py",
         old="return float(((y - y.mean(axis=0)) ** 2).mean())",
         new="return float((y ** 2).mean())",
         why="that is the MSE of predicting 0, not of the best constant prediction (the mean)"),
    dict(name="MSE without bringing the target to the prediction's shape", file="loss_sanity.py",
         old="target = target.reshape(prediction.shape)", new="target = target",
         why="(N, 1) - (N,) broadcasts to (N, N): every prediction against every target"),
    dict(name="MSE summed instead of averaged", file="loss_sanity.py",
         old="return (diff * diff).mean()", new="return (diff * diff).sum()",
         why="a sum grows with the batch size (and so does its gradient)"),
    dict(name="repeat ratio upside down", file="loss_sanity.py",
         old="return float(twice / once)", new="return float(once / twice)",
         why="the question is how much the loss grows when the batch doubles"),
    dict(name="batch repeated along axis 1", file="loss_sanity.py",
         old="Tensor(np.concatenate([output, output])),\n"
             "                    Tensor(np.concatenate([target, target])))",
         new="Tensor(np.concatenate([output, output], axis=1)),\n"
             "                    Tensor(np.concatenate([target, target], axis=1)))",
         why="the samples are axis 0: along axis 1 each sample gets longer, the batch does not "
             "grow (a mean over every entry still gives 1.0, a sum 2.0)"),
    dict(name="weights proportional to the terms", file="loss_sanity.py",
         old="return {name: 1.0 / float(value) for name, value in initial_terms.items()}",
         new="return {name: float(value) for name, value in initial_terms.items()}",
         why="multiplying a large term by its own size makes the imbalance worse"),
    dict(name="the final Softmax kept (double softmax)", file="loss_setups.py",
         old="nn.Linear(hidden, num_classes))",
         new="nn.Linear(hidden, num_classes), nn.Softmax(dim=1))",
         why="cross_entropy applies log-softmax itself: it needs logits"),
    dict(name="Softmax removed but the output layer still initialised with std 1",
         file="loss_setups.py",
         old="    return model\n",
         new="    nn.init.normal_(model[2].weight, std=1.0)\n    return model\n",
         why="logits with a large spread make the initial loss several times ln C"),
    dict(name="targets reshaped with a hard-coded sample count", file="loss_setups.py",
         old="targets = y.reshape(-1, 1)", new="targets = y.reshape(200, 1)",
         why="works on the lab's 200 samples only"),
    dict(name="sum divided by a fixed batch size", file="loss_setups.py",
         old="return F.mse_loss(output, target)\n",
         new="return F.mse_loss(output, target, reduction=\"sum\") / 64\n",
         why="still a sum: the last, smaller batch (and any other batch size) is scaled "
             "differently; divide by the actual batch, i.e. take the mean"),
    dict(name="the other term's weight mistyped (1e-3)", file="loss_setups.py",
         old="sine=1.0, cosine=1.0,", new="sine=1.0, cosine=1e-3,",
         why="now the cosine task is the one ignored"),
    # adversarial: scoring without repairing. Each keeps the std-1 output layer (which
    # still trains to >= 85%) and hides the finding; with tests that trusted setup.diagnose
    # or their own helpers blindly, the first scored 22/22.
    dict(name="a Setup subclass whose diagnose reports nothing", file="loss_setups.py",
         old="def classifier_setup(X, y, seed=0):",
         new="class _QuietSetup(Setup):\n"
             "    def diagnose(self, **options):\n"
             "        from minnet.debug.report import Report\n"
             "        return Report([])\n\n\n"
             + OVERCONFIDENT_CLASSIFIER +
             "Setup = _QuietSetup\n\n\n"
             "def classifier_setup(X, y, seed=0):",
         why="the setup itself is graded: the tests diagnose it with minnet's own function "
             "and accept minnet's Setup only"),
    dict(name="the grading helpers patched at import", file="loss_setups.py",
         old="def classifier_setup(X, y, seed=0):",
         new="import sys as _sys\n"
             "for _module in list(_sys.modules.values()):\n"
             "    if hasattr(_module, "
             "'expect_no_finding') and hasattr(_module, 'DIAGNOSE_STEPS'):\n"
             "        _module.expect_no_finding = _module.expect_no_errors = "
             "_module.expect = lambda *a, **k: None\n\n\n"
             + OVERCONFIDENT_CLASSIFIER +
             "def classifier_setup(X, y, seed=0):",
         why="every graded part checks that the student's code replaced nothing grading "
             "relies on"),
    dict(name="minnet's Report emptied at import", file="loss_setups.py",
         old="def classifier_setup(X, y, seed=0):",
         new="import minnet.debug.report as _report\n"
             "_report_init = _report.Report.__init__\n"
             "_report.Report.__init__ = lambda self, findings, *a, **k: "
             "_report_init(self, [], *a, **k)\n\n\n"
             + OVERCONFIDENT_CLASSIFIER +
             "def classifier_setup(X, y, seed=0):",
         why="patching the library is detected; the findings stay the library's"),
    dict(name="classifier trained on other data (first 100 rows)", file="loss_setups.py",
         old="    return Setup(model, F.cross_entropy, "
             "optim.Adam(model.parameters(), lr=1e-3), (X, y),",
         new="    X, y = X[:100], y[:100]\n"
             "    return Setup(model, F.cross_entropy, "
             "optim.Adam(model.parameters(), lr=1e-3), (X, y),",
         why="the setup must train on the data it is given"),
    dict(name="a debugger threshold raised at import", file="loss_setups.py",
         old="def classifier_setup(X, y, seed=0):",
         new="import dataclasses as _dataclasses\n"
             "from minnet.debug import thresholds as _thresholds\n"
             "from minnet.debug.checks import load_all as _load_all\n"
             "_load_all()\n"
             "_thresholds.DEFINED['initial_loss_factor'] = _dataclasses.replace(\n"
             "    _thresholds.DEFINED['initial_loss_factor'], value=1e9)\n\n\n"
             + OVERCONFIDENT_CLASSIFIER +
             "def classifier_setup(X, y, seed=0):",
         why="editing the debugger's tables in place is detected too (it scored 22/22 "
             "before)"),
    dict(name="the test's number of diagnosis steps lowered", file="loss_setups.py",
         old="def classifier_setup(X, y, seed=0):",
         new="import sys as _sys\n"
             "for _module in list(_sys.modules.values()):\n"
             "    if hasattr(_module, 'DIAGNOSE_STEPS'):\n"
             "        _module.DIAGNOSE_STEPS = 1\n\n\n"
             "def classifier_setup(X, y, seed=0):",
         why="every name of the test is watched, not only its functions"),
]
