"""Write the intersphinx inventories the API reference links with, for the build to read offline.

The book is built where only the package registries can be reached, so the projects' own
objects.inv files cannot be downloaded at build time. These inventories name the few
outside objects that tfvae's signatures and docstrings refer to, each at the address of
its page in that project's documentation; intersphinx reads them from here and links
there. Run this script after adding a name, and commit the .inv files it writes.

    ./run python book/_inventories/make_inventories.py
"""

import zlib
from pathlib import Path

# project -> (documentation root, version, {object name: (role, page relative to the root)})
INVENTORIES = {
    "python": ("https://docs.python.org/3/", "3.11", {
        "pathlib.Path": ("py:class", "library/pathlib.html#pathlib.Path"),
        "os.PathLike": ("py:class", "library/os.html#os.PathLike"),
        "pickle.Unpickler": ("py:class", "library/pickle.html#pickle.Unpickler"),
        "argparse.ArgumentParser": ("py:class", "library/argparse.html#argparse.ArgumentParser"),
    }),
    "numpy": ("https://numpy.org/doc/stable/", "stable", {
        "numpy.ndarray": ("py:class", "reference/generated/numpy.ndarray.html#numpy.ndarray"),
    }),
    "tensorflow": ("https://www.tensorflow.org/api_docs/python/", "2.21", {
        "tensorflow.Tensor": ("py:class", "tf/Tensor"),
        "tensorflow.distribute.Strategy": ("py:class", "tf/distribute/Strategy"),
    }),
    "keras": ("https://keras.io/api/", "3", {
        "keras.Model": ("py:class", "models/model/"),
        "keras.Sequential": ("py:class", "models/sequential/"),
        "keras.layers.Layer": ("py:class", "layers/base_layer/"),
        "keras.callbacks.Callback": ("py:class", "callbacks/base_callback/"),
    }),
    "tensorflow_probability": ("https://www.tensorflow.org/probability/api_docs/python/", "0.25", {
        "tensorflow_probability.distributions.Distribution": ("py:class", "tfp/distributions/Distribution"),
        "tensorflow_probability.distributions.Logistic": ("py:class", "tfp/distributions/Logistic"),
        "tensorflow_probability.bijectors.Bijector": ("py:class", "tfp/bijectors/Bijector"),
    }),
    "sklearn": ("https://scikit-learn.org/stable/", "stable", {
        "sklearn.cluster.KMeans": ("py:class", "modules/generated/sklearn.cluster.KMeans.html"),
    }),
}


def inventory(project: str, version: str, objects: dict) -> bytes:
    """The bytes of a version-2 objects.inv: a plain header, then zlib-compressed lines."""
    header = (f"# Sphinx inventory version 2\n# Project: {project}\n# Version: {version}\n"
              "# The remainder of this file is compressed using zlib.\n").encode()
    lines = "".join(f"{name} {role} 1 {page} -\n" for name, (role, page) in sorted(objects.items()))
    return header + zlib.compress(lines.encode())


if __name__ == "__main__":
    here = Path(__file__).parent
    for project, (_, version, objects) in INVENTORIES.items():
        (here / f"{project}.inv").write_bytes(inventory(project, version, objects))
        print(f"wrote {project}.inv ({len(objects)} names)")
