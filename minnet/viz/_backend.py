"""Choose a headless matplotlib backend unless the user already chose one."""
import os


def user_chose_backend() -> bool:
    """True if a backend was picked by ``MPLBACKEND``, ``matplotlib.use`` or a matplotlibrc."""
    import matplotlib
    if os.environ.get("MPLBACKEND"):
        return True
    # rcParams holds a sentinel ("auto") until someone sets a backend; matplotlib
    # exposes the difference only through this private helper, so fall back to
    # "not chosen" if a future version drops it
    get_backend_or_none = getattr(matplotlib.rcParams, "_get_backend_or_none", None)
    return get_backend_or_none is not None and get_backend_or_none() is not None


def select_backend() -> None:
    """Force Agg (no display needed) unless the user's choice stands."""
    import matplotlib
    if not user_chose_backend():
        matplotlib.use("Agg")
