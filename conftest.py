"""pytest configuration shared by the unit tests (tests/) and the notebooks (book/, under nbval).

* Quick mode: the test run shrinks every training budget (TFVAE_QUICK=1, see tfvae.config),
  unless the caller set the variable explicitly. Notebook kernels inherit it.
* Notebooks are committed without outputs and run under `--nbval-lax` (pyproject.toml), so
  nbval checks that every cell runs without an error, and the chapters' own `assert` cells
  check their claims; no output is compared.
"""

import os

os.environ.setdefault("TFVAE_QUICK", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TFVAE_NO_PROGRESS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
