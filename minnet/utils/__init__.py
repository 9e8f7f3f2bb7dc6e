"""PyTorch's ``torch.utils`` names that tutorial code imports: ``minnet.utils.data``.

    from minnet.utils.data import DataLoader, Dataset, TensorDataset, random_split

``minnet.utils.device`` holds the (CPU-only) device API that ``minnet`` exports
at top level: ``minnet.device``, ``minnet.cuda``, ``minnet.accelerator``, ...
"""
from . import data, device  # noqa: F401
