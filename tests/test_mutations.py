"""Mutation test of the book: does each chapter's check bite when the math it derives is wrong?

A small, fixed list of plausible mistakes in `tfvae` (MUTANTS), each applied in turn to a copy of
the package. For each, the chapter that derives the equation runs under nbval in quick mode with
the copy first on PYTHONPATH, and must FAIL, in an `assert` cell: a mutant that survives means
the chapter's prose claims something its checks do not check. One control runs the unmutated
copy through a chapter and must pass, so the failures come from the mutations, not from the copy.

Every mutation is a textual replacement whose original text must occur exactly once in its
file: if a refactor moves or rewrites the code, the test fails loudly instead of testing nothing.
The copy's `__init__.py` logs where it was imported from, and whether by a Jupyter kernel
(TFVAE_IMPORT_LOG), and every run checks that the notebook's kernel imported the copy, not the
checkout's `tfvae`. PYTHONPATH wins over the venv's editable install: its finder
(`__editable___tfvae_0_1_0_finder`) is appended to the end of `sys.meta_path`, after the path
finder that searches sys.path, and nbval starts the kernel in book/, so the kernel's sys.path[0]
holds no `tfvae` either.

Mutant runs stop at the first failing cell (`-x`), so each costs a kernel start and the
chapter up to the check that kills it.

    .venv/bin/pytest tests/test_mutations.py -q -o addopts="-p no:cacheprovider"
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tfvae"
TIMEOUT = 600  # seconds for one chapter run; quick-mode chapters take 30-90 s


class Mutant(NamedTuple):
    name: str
    file: str      # path inside the package
    original: str  # must occur exactly once in the file
    mutated: str
    chapter: str   # the chapter that derives the equation, which must fail


MUTANTS = [
    Mutant("gaussian_kl without its 1/2", "objectives.py",
           "    return 0.5 * (tf.math.expm1(d) - d + tf.square(mean_q - mean_p) * tf.exp(-log_var_p))",
           "    return (tf.math.expm1(d) - d + tf.square(mean_q - mean_p) * tf.exp(-log_var_p))",
           "book/05_gaussian_kl.ipynb"),
    Mutant("standard_normal_kl without its 1/2", "objectives.py",
           "    return 0.5 * tf.reduce_sum(tf.math.expm1(log_var) - log_var + tf.square(mean), axis=-1)",
           "    return tf.reduce_sum(tf.math.expm1(log_var) - log_var + tf.square(mean), axis=-1)",
           "book/05_gaussian_kl.ipynb"),
    Mutant("gaussian_kl with the log-variance sign flipped", "objectives.py",
           "tf.math.expm1(d) - d + tf.square(mean_q - mean_p)",
           "tf.math.expm1(d) + d + tf.square(mean_q - mean_p)",
           "book/05_gaussian_kl.ipynb"),
    Mutant("standard_normal_kl with the log-variance sign flipped", "objectives.py",
           "tf.math.expm1(log_var) - log_var + tf.square(mean)",
           "tf.math.expm1(log_var) + log_var + tf.square(mean)",
           "book/05_gaussian_kl.ipynb"),
    Mutant("IWAE bound without the -log k", "objectives.py",
           "    return total - math.log(k)",
           "    return total",
           "book/08_tighter_bounds.ipynb"),
    Mutant("q(z|x) scaled by the variance instead of the standard deviation", "models/vae.py",
           "        return tfd.MultivariateNormalDiag(loc=mean, scale_diag=tf.exp(0.5 * log_var))",
           "        return tfd.MultivariateNormalDiag(loc=mean, scale_diag=tf.exp(log_var))",
           "book/06_aevb.ipynb"),
    Mutant("free bits clamped on the wrong side (min for max)", "objectives.py",
           "    total = tf.reduce_sum(tf.maximum(per_dim, free_bits))",
           "    total = tf.reduce_sum(tf.minimum(per_dim, free_bits))",
           "book/09_posterior_collapse.ipynb"),
    Mutant("GMVAE ELBO without the categorical KL", "models/gmvae.py",
           "    kl = tf.reduce_sum(q_y * kl_z, axis=-1) + kl_y",
           "    kl = tf.reduce_sum(q_y * kl_z, axis=-1)",
           "book/11_gmvae.ipynb"),
]
# The control: the unmutated copy must pass this chapter, all of it (the cheapest of the above, ~20 s in quick mode).
CONTROL_CHAPTER = "book/09_posterior_collapse.ipynb"

IMPORT_LOGGER = '''

# Added by tests/test_mutations.py to this copy only: record where the package was imported from, and by what.
import os as _os
import sys as _sys

if _os.environ.get("TFVAE_IMPORT_LOG"):
    with open(_os.environ["TFVAE_IMPORT_LOG"], "a") as _log:
        _log.write(f"{__file__}\\t{'kernel' if 'ipykernel' in _sys.modules else 'other'}\\n")
'''

_results: dict[str, str] = {}  # mutant name -> "killed by <cell>" or "survived", for the summary


class Run(NamedTuple):
    returncode: int
    output: str
    imported_from: list
    seconds: float


def copy_package(tmp_path: Path) -> Path:
    """A copy of the tfvae package in tmp_path/tfvae that logs its imports; returns tmp_path."""
    shutil.copytree(PACKAGE, tmp_path / "tfvae", ignore=shutil.ignore_patterns("__pycache__"))
    with open(tmp_path / "tfvae" / "__init__.py", "a") as f:
        f.write(IMPORT_LOGGER)
    return tmp_path


def apply(mutant: Mutant, package_root: Path) -> None:
    path = package_root / "tfvae" / mutant.file
    text = path.read_text()
    count = text.count(mutant.original)
    assert count == 1, (f"mutant {mutant.name!r}: its original text occurs {count} times in tfvae/{mutant.file}, "
                        f"not once; update the mutant to the current code:\n{mutant.original}")
    path.write_text(text.replace(mutant.original, mutant.mutated))


def run_chapter(chapter: str, package_root: Path, *, stop_at_first_failure: bool) -> Run:
    """Run one chapter under nbval in quick mode, from the repository root, with package_root first on PYTHONPATH."""
    log = package_root / "imported_from.log"
    log.unlink(missing_ok=True)
    env = dict(os.environ, TFVAE_QUICK="1", TF_CPP_MIN_LOG_LEVEL="3", TFVAE_NO_PROGRESS="1", MPLBACKEND="Agg",
               TFVAE_IMPORT_LOG=str(log),
               PYTHONPATH=os.pathsep.join([str(package_root)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf", chapter]
    if stop_at_first_failure:
        args.insert(-1, "-x")
    started = time.perf_counter()
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    imported_from = [line.split("\t") for line in log.read_text().splitlines()] if log.exists() else []
    return Run(result.returncode, result.stdout + result.stderr, imported_from, time.perf_counter() - started)


def check_imported_the_copy(run: Run, package_root: Path) -> None:
    """The notebook's kernel imported the copy (the original, in the checkout, has no logger and logs nothing)."""
    copy = (package_root / "tfvae" / "__init__.py").resolve()
    kernels = [path for path, importer in run.imported_from if importer == "kernel"]
    assert kernels, f"the kernel did not import the copy of tfvae: {run.imported_from}\n{run.output[-3000:]}"
    assert all(Path(path).resolve() == copy for path, _ in run.imported_from), run.imported_from


def failing_cells(output: str) -> list:
    """The nbval items reported as failed, with the id of the cell: ['book/05_gaussian_kl.ipynb::Cell 5 (cell-08)'].

    nbval numbers the code cells only, from 0.
    """
    failed = []
    for chapter, number in re.findall(r"^FAILED (\S+\.ipynb)::Cell (\d+)", output, flags=re.MULTILINE):
        code_cells = [c for c in json.loads((ROOT / chapter).read_text())["cells"] if c["cell_type"] == "code"]
        failed.append(f"{chapter}::Cell {number} ({code_cells[int(number)].get('id')})")
    return failed


@pytest.fixture(scope="module", autouse=True)
def summary(request):
    yield
    if not _results:
        return
    killed = sum(r.startswith("killed") for r in _results.values())
    lines = [f"mutation test: the book kills {killed} of {len(_results)} mutants"]
    lines += [f"  {name}: {result}" for name, result in _results.items()]
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        print("\n".join(lines))
        return
    with capture.global_and_fixture_disabled():  # shown even without -s
        reporter.write_line("")
        for line in lines:
            reporter.write_line(line)


def test_every_mutant_occurs_exactly_once(tmp_path):
    """Cheap, and run first: every mutation still applies to the current code (all at once, to one copy each)."""
    for i, mutant in enumerate(MUTANTS):
        apply(mutant, copy_package(tmp_path / str(i)))
    assert len({m.name for m in MUTANTS}) == len(MUTANTS)


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name.replace(" ", "_") for m in MUTANTS])
def test_the_chapter_that_derives_the_equation_kills_the_mutant(mutant, tmp_path):
    package_root = copy_package(tmp_path)
    apply(mutant, package_root)
    run = run_chapter(mutant.chapter, package_root, stop_at_first_failure=True)
    check_imported_the_copy(run, package_root)
    failed = failing_cells(run.output)
    _results[mutant.name] = (f"killed by {', '.join(failed)} ({run.seconds:.0f} s)"
                             if run.returncode != 0 and failed else f"survived ({run.seconds:.0f} s)")
    assert run.returncode != 0 and failed, f"no cell of {mutant.chapter} failed with the mutant {mutant.name!r}:\n{run.output[-3000:]}"
    # It died because a check failed, not because the mutated code crashed.
    assert "AssertionError" in run.output, f"{mutant.name!r}: {failed} failed without an AssertionError:\n{run.output[-5000:]}"


def test_control_the_unmutated_copy_passes(tmp_path):
    package_root = copy_package(tmp_path)
    run = run_chapter(CONTROL_CHAPTER, package_root, stop_at_first_failure=False)
    check_imported_the_copy(run, package_root)
    assert run.returncode == 0, f"{CONTROL_CHAPTER} failed with the unmutated copy of tfvae:\n{run.output[-5000:]}"
