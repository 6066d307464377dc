"""pytest configuration shared by the unit tests (tests/) and the notebooks (book/, under nbval).

* Quick mode: the test run shrinks every training budget (TFVAE_QUICK=1, see tfvae.config),
  unless the caller set the variable explicitly. Notebook kernels inherit it.
* TensorFlow writes to stderr on import whatever the log level; stderr is never part of a
  notebook's checked output.
"""

import os

os.environ.setdefault("TFVAE_QUICK", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TFVAE_NO_PROGRESS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

try:
    from nbval.plugin import IPyNbCell
except ImportError:  # nbval not installed: only the unit tests run
    IPyNbCell = None

if IPyNbCell is not None:
    _compare_outputs = IPyNbCell.compare_outputs

    def _compare_without_stderr(self, test, ref, skip_compare=None):
        def keep(outputs):
            return [o for o in outputs if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
        return _compare_outputs(self, keep(test), keep(ref), skip_compare)

    IPyNbCell.compare_outputs = _compare_without_stderr
