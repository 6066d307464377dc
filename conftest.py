"""pytest configuration shared by the unit tests (tests/) and the notebooks (book/, under nbval).

* Quick mode: the test run shrinks every training budget (TFVAE_QUICK=1, see tfvae.config),
  unless the caller set the variable explicitly. Notebook kernels inherit it.
* Notebooks are committed without outputs and run under `--nbval-lax` (pyproject.toml), so
  nbval checks that every cell runs without an error, and the chapters' own `assert` cells
  check their claims; no output is compared.
"""

import os

import pytest

os.environ.setdefault("TFVAE_QUICK", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TFVAE_NO_PROGRESS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

# The nbval options pyproject.toml passes on every run (they are nbval's).
NBVAL_OPTIONS = {"--nbval-lax": dict(action="store_true"), "--nbval-current-env": dict(action="store_true"),
                 "--nbval-cell-timeout": dict(type=float)}


def pytest_addoption(parser, pluginmanager):
    # Without nbval, pytest would stop at pyproject.toml's nbval options with "unrecognized
    # arguments". Accept them, so the unit tests run; a notebook is then refused by name below.
    if not pluginmanager.hasplugin("nbval"):
        group = parser.getgroup("nbval (not installed)")
        for option, kwargs in NBVAL_OPTIONS.items():
            group.addoption(option, help="accepted and ignored: nbval is not installed", **kwargs)


class NotebookWithoutNbval(pytest.Item):
    """A notebook collected where nbval is missing: it fails with one line saying so."""

    def runtest(self):
        raise pytest.UsageError("the notebooks run under nbval, which is not installed; install the test "
                                "dependencies (./run setup)")

    def repr_failure(self, excinfo):
        return str(excinfo.value)

    def reportinfo(self):
        return self.path, None, self.name


def pytest_collect_file(file_path, parent):
    if file_path.suffix == ".ipynb" and not parent.config.pluginmanager.hasplugin("nbval"):
        return NotebookWithoutNbval.from_parent(parent, name=file_path.name, path=file_path)
    return None
