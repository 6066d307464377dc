"""Reading a pickle of numpy arrays without letting it run code.

`pickle.load` calls whatever callables the file names, so a pickle from elsewhere can run
any command. The few pickles tfvae must read (the classic `mnist.pkl.gz`, see
`tfvae.mnist_cache`) hold nothing but tuples of numpy arrays, so they go through an
unpickler that resolves only the globals numpy needs to rebuild an array and refuses
every other one before anything is called. Check the file's hash first, too: the
allow-list stops code from running, the hash stops other data from being read.
"""

from __future__ import annotations

import io
import pickle

import numpy as np

from tfvae.errors import DataFormatError


def _array_reconstructor():
    # numpy 2 moved numpy.core to numpy._core; pickles written by numpy 1 still name the old path.
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy 1
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


# (module, name) as written in the pickle -> the object it may resolve to. Nothing else resolves.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _array_reconstructor(),
    ("numpy._core.multiarray", "_reconstruct"): _array_reconstructor(),
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _ArraysOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise DataFormatError(f"refused to unpickle the global {module}.{name}: only numpy arrays are "
                                  "allowed, and this pickle names something that could run code") from None


def load_arrays(data: bytes, *, what: str = "the pickle"):
    """Unpickle `data`, which may hold only (nested tuples and lists of) numpy arrays and plain values.

    Pickles written by Python 2 (as the classic MNIST one is) are read with the latin-1
    encoding numpy needs for their byte strings.

    Raises:
      DataFormatError, naming `what`, when the pickle names any global outside numpy's
      array reconstruction, or when it is not a readable pickle at all.
    """
    try:
        return _ArraysOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()
    except DataFormatError as err:
        raise DataFormatError(f"{what}: {err}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as err:
        raise DataFormatError(f"{what} is not a readable pickle of arrays: {err}") from None
