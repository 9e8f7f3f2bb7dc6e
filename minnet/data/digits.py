"""The 8x8 handwritten digits, shipped with minnet (no download).

1,797 images of 0-9, each pixel a count in 0..16 (the "on" pixels of a 4x4 block of
the 32x32 original): the test set of UCI's "Optical Recognition of Handwritten Digits"
(Alpaydin and Kaynak, 1998) as distributed with scikit-learn, CC BY 4.0; source in
``datasets/README.md``. Pixels are returned unscaled, in [0, 16]: unnormalised inputs
are one of the failures this course studies (use `Standardizer` or divide by 16).
"""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np

DIGITS_PATH = Path(__file__).parent / "datasets" / "digits.npz"

#: SHA-256 of the uint8 image bytes followed by the uint8 label bytes.
DIGITS_SHA256 = "87ff0c9e40dc7e2c0e34e7257799c2e3f3aec1a016363bb11cad869ec428a826"

N_SAMPLES, IMAGE_SIZE, N_CLASSES = 1797, 8, 10


class Bunch(dict):
    """A dict whose keys are also attributes: ``digits.data`` == ``digits["data"]``."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __dir__(self):
        return list(self.keys())


def digits_checksum(images: np.ndarray, labels: np.ndarray) -> str:
    """SHA-256 hex digest of the raw uint8 images and labels (to detect a corrupted file)."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
    digest.update(np.ascontiguousarray(labels, dtype=np.uint8).tobytes())
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def _read_raw() -> tuple:
    """The stored uint8 arrays, read once, checked, and made read-only."""
    if not DIGITS_PATH.exists():
        raise FileNotFoundError(f"load_digits: the data file {DIGITS_PATH} is missing. Hint: it "
                                "ships inside the minnet package; reinstall minnet.")
    with np.load(DIGITS_PATH) as archive:
        images, labels = archive["images"], archive["labels"]
    expected = ((N_SAMPLES, IMAGE_SIZE, IMAGE_SIZE), (N_SAMPLES,))
    if (images.shape, labels.shape) != expected or digits_checksum(images, labels) != DIGITS_SHA256:
        raise RuntimeError(f"load_digits: {DIGITS_PATH} is corrupted (shapes "
                           f"{images.shape}, {labels.shape} or checksum do not match). "
                           "Hint: reinstall minnet.")
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def load_digits(return_X_y: bool = False, as_float: bool = True):
    """Load the 8x8 digits: ``X`` (1797, 64) pixels in [0, 16], ``y`` (1797,) int64 labels 0..9.

    ``return_X_y``: return ``(X, y)``; ``as_float``: pixels as float32 (default) or the stored
    uint8. Otherwise a `Bunch`: ``data`` (1797, 64), ``target`` (1797,), ``images`` (1797, 8,
    8), ``images_2d`` (1797, 1, 8, 8) for conv nets, ``target_names``, ``DESCR``. ``data``,
    ``images`` and ``images_2d`` are views of one array; every call returns fresh arrays.
    """
    images, labels = _read_raw()
    pixels = images.astype(np.float32) if as_float else images.copy()
    X = pixels.reshape(N_SAMPLES, IMAGE_SIZE * IMAGE_SIZE)
    y = labels.astype(np.int64)
    if return_X_y:
        return X, y
    return Bunch(
        data=X,
        target=y,
        images=X.reshape(N_SAMPLES, IMAGE_SIZE, IMAGE_SIZE),
        images_2d=X.reshape(N_SAMPLES, 1, IMAGE_SIZE, IMAGE_SIZE),
        target_names=np.arange(N_CLASSES),
        DESCR=__doc__,
    )
