"""Pictures of training: what the Monitor recorded, models, LR tests, gradient checks.

``import minnet.viz`` (never ``import minnet``) loads matplotlib, with the Agg backend
unless one was already chosen, so pictures work without a display. Every function
takes the data, an optional ``ax=`` to draw into, an optional ``path=`` to save to
(atomically; format from the suffix), and returns the Figure. One file per picture
family: curves, activations, gradients, updates, weights, lr_range, boundary,
function_fit, gradcheck_map, report (the one-page diagnosis, PNG or HTML).
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
