"""The API reference (book/api/, book/_ext/api_reference.py): docstrings render as lists, every
module has a page, every equation a docstring cites exists, and the link inventories are current."""

import importlib.util
import json
import pkgutil
import re
import sys
from pathlib import Path

import pytest

import tfvae

ROOT = Path(__file__).resolve().parents[1]
API_PAGES = sorted((ROOT / "book" / "api").glob("*.md"))


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def api_reference():
    pytest.importorskip("myst_parser")
    return load(ROOT / "book" / "_ext" / "api_reference.py", "api_reference")


def test_an_args_section_becomes_a_definition_list_with_its_continuations_joined(api_reference):
    text = """Train a model.

    Args:
      model: a tfvae model, built
        inside the strategy scope.
      epochs (int): total number of epochs.

    Returns:
      The history: a dict of per-epoch lists.
    """
    out = api_reference.google_sections_to_myst(text)
    assert "**Args**" in out and "**Returns**" in out
    assert "`model`\n: a tfvae model, built inside the strategy scope." in out
    assert "`epochs (int)`\n: total number of epochs." in out
    # Returns is prose, not "name: text" entries: it stays a paragraph, dedented.
    assert "\nThe history: a dict of per-epoch lists." in out
    assert "Args:" not in out


def test_a_block_that_is_not_a_list_of_names_stays_text(api_reference):
    text = "Summary.\n\nArgs:\n  This is free prose, not an entry list\n  spread over two lines.\n"
    out = api_reference.google_sections_to_myst(text)
    assert "This is free prose, not an entry list" in out and "\n: " not in out


def test_text_without_sections_is_unchanged(api_reference):
    text = "KL = 1/2 sum_j [ exp(d_j) - 1 - d_j ]\n\n    an indented formula block\n"
    assert api_reference.google_sections_to_myst(text) == text


def documented_names() -> set:
    names = set()
    for page in API_PAGES:
        names |= set(re.findall(r"```\{autodoc2-(?:object|docstring)\} (\S+)", page.read_text()))
    return names


def test_every_module_of_tfvae_has_a_place_on_an_api_page():
    modules = {"tfvae"} | {m.name for m in pkgutil.walk_packages(tfvae.__path__, "tfvae.")}
    missing = sorted(modules - documented_names() - {"tfvae"})
    assert not missing, f"modules on no page of book/api/: {missing}"
    unknown = sorted(documented_names() - modules)
    assert not unknown, f"book/api/ names modules that do not exist: {unknown}"


def test_every_equation_a_docstring_cites_is_labelled_in_the_book():
    labels = set()
    for notebook in (ROOT / "book").glob("*.ipynb"):
        for cell in json.loads(notebook.read_text())["cells"]:
            labels |= set(re.findall(r"\$\$\s*\((eq-[\w-]+)\)", "".join(cell["source"])))
    assert len(labels) > 20
    cited = {}
    for source in (ROOT / "tfvae").rglob("*.py"):
        for label in re.findall(r"\{eq\}`([\w-]+)`", source.read_text()):
            cited.setdefault(label, source.relative_to(ROOT))
    unknown = {label: str(where) for label, where in cited.items() if label not in labels}
    assert not unknown, f"cited but not labelled in any chapter: {unknown}"


def test_the_committed_inventories_are_the_ones_the_script_writes():
    script = load(ROOT / "book" / "_inventories" / "make_inventories.py", "make_inventories")
    for project, (_, version, objects) in script.INVENTORIES.items():
        committed = (ROOT / "book" / "_inventories" / f"{project}.inv").read_bytes()
        assert committed == script.inventory(project, version, objects), f"{project}.inv is stale; rerun the script"


def test_docstrings_use_no_myst_role_but_eq():
    """The API reference parses docstrings as MyST: any other role ({glue:text}, {cite}, ...) would
    run there, so an example of one belongs in double-backtick code."""
    import ast
    found = []
    for source in (ROOT / "tfvae").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node) or ""
                outside_code = re.sub(r"``.*?``", "", doc, flags=re.S)
                found += [f"{source.relative_to(ROOT)}: {role}" for role in re.findall(r"\{[\w:-]+\}`", outside_code)
                          if role != "{eq}`"]
    assert not found, found
