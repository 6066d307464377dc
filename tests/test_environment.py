"""The environment files agree with each other and with what the code imports: every direct
dependency is locked with hashes, Binder pins what the lock pins, and the book's sources
leave Python environments in the checkout alone."""

import ast
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def requirement_names(text):
    names = []
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith(("-", ".")):
            names.append(re.split(r"[=<>!~\[; ]", line, maxsplit=1)[0].lower())
    return names


def locked():
    """{name: set of versions} from requirements.lock (a name can have one version per Python range)."""
    versions = {}
    for name, version in re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", (ROOT / "requirements.lock").read_text(), re.M):
        versions.setdefault(name.lower(), set()).add(version)
    return versions


def test_every_direct_dependency_is_locked_and_every_locked_package_has_hashes():
    lock = locked()
    missing = [n for n in requirement_names((ROOT / "requirements.txt").read_text()) if n not in lock]
    assert not missing, f"in requirements.txt but not in requirements.lock (run ./run lock): {missing}"
    blocks = re.split(r"\n(?=[A-Za-z0-9])", (ROOT / "requirements.lock").read_text().strip())
    unhashed = [b.split()[0] for b in blocks if not b.startswith("#") and "--hash=sha256:" not in b]
    assert not unhashed


# Top-level imports of tfvae, the tests and the book's extensions, by the distribution that provides them.
DISTRIBUTION_OF = {"tensorflow": "tensorflow", "tensorflow_probability": "tensorflow-probability", "keras": "keras",
                   "numpy": "numpy", "scipy": "scipy", "sklearn": "scikit-learn", "matplotlib": "matplotlib",
                   "PIL": "pillow", "h5py": "h5py", "tqdm": "tqdm", "IPython": "ipython", "ipywidgets": "ipywidgets",
                   "ipyevents": "ipyevents", "nbformat": "nbformat", "nbclient": "nbclient", "pytest": "pytest", "nbval": "nbval",
                   "playwright": "playwright", "psutil": "psutil", "jupyterlab": "jupyterlab", "myst_nb": "myst-nb", "myst_parser": "myst-parser", "yaml": "pyyaml", "sphinx": "sphinx", "docutils": "docutils"}


def test_every_third_party_import_is_a_declared_or_locked_dependency():
    declared = set(requirement_names((ROOT / "requirements.txt").read_text()))
    lock = locked()
    imported = set()
    for folder in ("tfvae", "tests", "benchmarks", "book/_ext"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    imported |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    imported.add(node.module.split(".")[0])
    third_party = {m for m in imported if m not in sys.stdlib_module_names and m not in {"tfvae", "conftest"}
                   and not any((ROOT / folder / f"{m}.py").exists() for folder in ("tests", "benchmarks"))}
    unknown = sorted(m for m in third_party if m not in DISTRIBUTION_OF)
    assert not unknown, f"imports with no known distribution (add them to DISTRIBUTION_OF and requirements): {unknown}"
    # The package's own imports are direct dependencies; the tests' tools may arrive through them.
    undeclared = sorted(DISTRIBUTION_OF[m] for m in third_party if DISTRIBUTION_OF[m] not in lock)
    assert not undeclared, f"imported but not locked: {undeclared}"
    package_imports = set()
    for path in (ROOT / "tfvae").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                package_imports |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                package_imports.add(node.module.split(".")[0])
    not_direct = sorted(DISTRIBUTION_OF[m] for m in package_imports
                        if m in DISTRIBUTION_OF and DISTRIBUTION_OF[m] not in declared)
    assert not not_direct, f"tfvae imports these, so requirements.txt must name them: {not_direct}"


def test_binder_pins_the_versions_the_lock_pins():
    lock = locked()
    for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            assert version in lock[name.lower()], f"binder pins {name}=={version}, the lock {lock[name.lower()]}"


@pytest.mark.parametrize("folder", [".venv", "venv", "env", ".tox", "node_modules", "_build", "runs"])
def test_the_book_excludes_environments_and_other_non_book_folders(folder):
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert folder in config["exclude_patterns"]


def test_every_chapters_install_cell_pins_the_packages_release():
    version = re.search(r'^version = "(.+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    for chapter in sorted((ROOT / "book").glob("*.ipynb")):
        installs = re.findall(r"git\+https://github\.com/[^/\s]+/[^@\s\"\\]+(@[^\s\"\\]*)?", chapter.read_text())
        assert installs == [f"@v{version}"], chapter.name


def test_without_nbval_the_unit_tests_run_and_a_notebook_is_refused_by_name():
    # pyproject.toml passes nbval's options on every run; conftest.py accepts them where nbval is missing.
    import subprocess

    run = [sys.executable, "-m", "pytest", "-p", "no:nbval", "-q"]
    units = subprocess.run([*run, "tests/test_published.py"], capture_output=True, text=True, cwd=ROOT)
    assert units.returncode == 0 and " passed" in units.stdout, units.stdout + units.stderr
    notebooks = subprocess.run([*run, "book/00_preface.ipynb"], capture_output=True, text=True, cwd=ROOT)
    assert notebooks.returncode == 1, notebooks.stdout + notebooks.stderr
    assert "the notebooks run under nbval, which is not installed" in notebooks.stdout
