"""Serve MathJax from the built book itself, so pages render math with no network.

When MathJax 3 has been installed from npm (`npm install` at the repository root, see
package.json), the combined TeX/MathML + CommonHTML component and what it loads on demand
(TeX extensions, fonts, accessibility and menu parts) are copied into the HTML output's
`_static/mathjax/`, and `mathjax_path` points there. Without it the book keeps the CDN URL
set in _config.yml.

Registered in _config.yml under `sphinx: local_extensions: {local_mathjax: book/_ext}`.
"""

import shutil
from pathlib import Path

ENTRY = "tex-mml-chtml.js"


def mathjax_source(srcdir) -> Path | None:
    """node_modules/mathjax/es5 in the book's folder or in this repository's root."""
    for root in (Path(srcdir), Path(__file__).resolve().parents[2]):
        es5 = root / "node_modules" / "mathjax" / "es5"
        if (es5 / ENTRY).is_file():
            return es5
    return None


def _unused(folder, names):
    # The other combined components and the SVG output are never loaded by tex-mml-chtml.js.
    if Path(folder).name == "es5":
        return [n for n in names if n.endswith(".js") and n != ENTRY] + ["node-main.js"]
    if Path(folder).name == "output":
        return [n for n in names if n.startswith("svg")]
    return []


def use_local_mathjax(app, config):
    if mathjax_source(app.srcdir) is not None:
        config.mathjax_path = f"mathjax/{ENTRY}"  # relative paths are relative to _static


def copy_mathjax(app, exception):
    source = mathjax_source(app.srcdir)
    if exception is not None or source is None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / "mathjax"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=_unused)


def setup(app):
    app.connect("config-inited", use_local_mathjax)
    app.connect("build-finished", copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
