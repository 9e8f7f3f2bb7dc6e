"""Pictures of training: what the Monitor recorded, models, LR tests, gradient checks.

``import minnet.viz`` (never ``import minnet``) loads matplotlib. Unless you
already chose a backend (``MPLBACKEND``, ``matplotlib.use(...)`` or a
matplotlibrc), the non-interactive Agg backend is selected, so pictures work
on servers and in tests without a display.

Every function takes the data, an optional ``ax=`` to draw into (otherwise it
makes its own Figure), an optional ``path=`` to save the picture (atomically;
the format comes from the suffix) and returns the Figure.

One file per picture family:

* ``curves.py``      loss and metric curves (train/val, log scale, smoothing)
* ``activations.py`` activation histograms over time, dead-unit fraction
* ``gradients.py``   gradient norms per layer over time
* ``updates.py``     update/parameter ratio per layer, with the 1e-3 target band
* ``weights.py``     weight histograms of a model
* ``lr_range.py``    the LR range test (``minnet.optim.lr_find``)
* ``boundary.py``    decision regions of a 2-D classifier
* ``function_fit.py`` a 1-D fit and each hidden unit's contribution
* ``gradcheck_map.py`` relative error per entry of a gradient check
* ``report.py``      the one-page diagnosis report (PNG or self-contained HTML)
"""
from ._backend import select_backend as _select_backend

_select_backend()

from .activations import plot_activation_histograms, plot_dead_fraction  # noqa: E402
from .boundary import plot_decision_boundary  # noqa: E402
from .curves import plot_curves, plot_loss  # noqa: E402
from .function_fit import plot_function_fit  # noqa: E402
from .gradcheck_map import plot_gradcheck  # noqa: E402
from .gradients import plot_grad_norms  # noqa: E402
from .lr_range import plot_lr_find  # noqa: E402
from .report import render_report  # noqa: E402
from .updates import plot_update_ratio  # noqa: E402
from .weights import plot_weight_histograms  # noqa: E402

__all__ = [
    "plot_curves", "plot_loss", "plot_activation_histograms", "plot_dead_fraction",
    "plot_grad_norms", "plot_update_ratio", "plot_weight_histograms", "plot_lr_find",
    "plot_decision_boundary", "plot_function_fit", "plot_gradcheck", "render_report",
]
