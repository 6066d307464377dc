"""Page helpers (tfvae.notebook): tables print every kind of float with two decimals."""

import numpy as np
import IPython.display

from tfvae import notebook


def test_tables_round_numpy_and_python_floats_alike_and_leave_integers(monkeypatch):
    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    notebook.show_table([["a", np.float32(3.98548), 2.0, np.int64(7), 1234.5]], ["name", "x", "y", "n", "z"])
    (markdown,) = shown
    assert markdown.data.splitlines()[-1] == "| a | 3.99 | 2.00 | 7 | 1,234.50 |"
