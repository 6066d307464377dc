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


def test_glue_names_the_value_for_the_prose_and_returns_it(monkeypatch):
    import myst_nb

    recorded = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=False: recorded.update({name: (value, display)}))
    assert notebook.glue("burda_vae_nll", 86.76) == 86.76
    assert recorded == {"burda_vae_nll": (86.76, False)}
