"""Data: datasets, loaders, preprocessing, synthetic problems and the 8x8 digits.

Mirrors ``torch.utils.data`` (Dataset, TensorDataset, DataLoader) and the
parts of scikit-learn a course needs (Standardizer, train_test_split,
make_moons-style generators, load_digits), with no dependency beyond NumPy.
"""
from .dataset import Dataset, IterableDataset, Subset, TensorDataset, random_split
from .digits import load_digits
from .loader import DataLoader, default_collate
from .preprocessing import MinMaxScaler, Standardizer, one_hot, train_test_split
from .synthetic import (
    hard_function,
    make_blobs,
    make_moons,
    make_regression_1d,
    make_spirals,
    make_xor,
    make_xor_table,
)

__all__ = [
    "Dataset", "IterableDataset", "TensorDataset", "Subset", "random_split", "DataLoader",
    "default_collate",
    "Standardizer", "MinMaxScaler", "one_hot", "train_test_split", "load_digits",
    "make_spirals", "make_moons", "make_blobs", "make_xor", "make_xor_table",
    "make_regression_1d", "hard_function",
]
