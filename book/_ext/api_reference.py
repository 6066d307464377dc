"""The API reference's plumbing: docstrings parsed as MyST, and links between equations and code.

* `Parser`: sphinx-autodoc2 parses tfvae's docstrings with MyST, so their
  {eq}`label` roles link to the book's equations. tfvae writes argument lists the Google
  way ("Args:", then "name: text" lines); this parser turns those sections into MyST
  definition lists before parsing, so they render as lists, not as one run-on paragraph.
* Equations link to the code: every {eq} reference inside an API entry (a function, class
  or method) is collected, and each numbered equation in the book gets a line under it,
  "Code: tfvae.objectives.gaussian_kl", linking to the entries that cite it.
* Names link to the code: an inline literal in the book that is the full name of a
  documented object (`tfvae.objectives.elbo`) becomes a link to its entry.
* `static/api_reference.css` sets the "Code:" lines in small type under their equations.

Registered in _config.yml under `sphinx: local_extensions`; autodoc2 finds the parser by
this module's name, `api_reference`, as docutils finds parsers: the module's `Parser`.
"""

from __future__ import annotations

import re
from pathlib import Path

from docutils import nodes
from myst_parser.parsers.sphinx_ import MystParser
from sphinx import addnodes
from sphinx.transforms.post_transforms import SphinxPostTransform

SECTION = re.compile(r"^(?P<indent>[ \t]*)(?P<name>Args|Arguments|Attributes|Returns|Yields|Raises):[ \t]*$")
ENTRY = re.compile(r"^(?P<term>[A-Za-z_*][\w*]*(?:, ?[A-Za-z_*][\w*]*)*)(?: \((?P<kind>[^)]*)\))?: (?P<text>.*)$")


def google_sections_to_myst(text: str) -> str:
    """Rewrite "Args:" / "Returns:" / "Raises:" blocks of a docstring as MyST.

    An "Args:" or "Attributes:" block whose lines read "name: text" becomes a definition
    list (term `name`, definition text, continuation lines joined); any other block keeps
    its text, dedented, under a bold heading.
    """
    lines = text.splitlines()
    out, i = [], 0
    while i < len(lines):
        match = SECTION.match(lines[i])
        if not match:
            out.append(lines[i])
            i += 1
            continue
        indent = len(match["indent"].expandtabs())
        block = []
        i += 1
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
            block.append(lines[i])
            i += 1
        while block and not block[-1].strip():
            i -= 1
            block.pop()
        body = [line[indent:] for line in block]
        step = min((len(b) - len(b.lstrip()) for b in body if b.strip()), default=0)
        body = [b[step:] for b in body]
        out += ["", f"**{match['name']}**", ""]
        entries = _entries(body) if match["name"] in ("Args", "Arguments", "Attributes") else None
        if entries is None:
            out += [b.strip() for b in body] + [""]
            continue
        for term, definition in entries:
            out += [f"`{term}`", f": {definition}", ""]
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def _entries(body: list[str]):
    """[(term, definition)] for lines "name: text" with indented continuations, or None."""
    entries = []
    for line in body:
        if not line.strip():
            continue
        if not line.startswith((" ", "\t")):
            match = ENTRY.match(line)
            if not match:
                return None
            term = match["term"] + (f" ({match['kind']})" if match["kind"] else "")
            entries.append([term, match["text"].strip()])
        elif entries:
            entries[-1][1] += " " + line.strip()
        else:
            return None
    return entries


class Parser(MystParser):
    """MyST, with Google-style argument sections turned into definition lists first."""

    def parse(self, inputstring: str, document) -> None:
        super().parse(google_sections_to_myst(inputstring), document)


# --- equations <-> code ------------------------------------------------------------------

def _entry_of(node):
    """The fully qualified name and anchor of the API entry (desc) that holds `node`, or None."""
    parent = node.parent
    while parent is not None:
        if isinstance(parent, addnodes.desc):
            for signature in parent.children:
                if isinstance(signature, addnodes.desc_signature) and signature.get("ids") and signature.get("fullname"):
                    module = signature.get("module")
                    name = f"{module}.{signature['fullname']}" if module else signature["fullname"]
                    return name, signature["ids"][0]
            return None
        parent = parent.parent
    return None


def collect_equation_citations(app, doctree):
    """Record, for every equation label cited inside an API entry, which entry cites it."""
    env = app.env
    citations = env.__dict__.setdefault("tfvae_equation_code", {})  # an earlier read's are purged by purge_citations
    for ref in doctree.findall(addnodes.pending_xref):
        if ref.get("refdomain") != "math" or ref.get("reftype") not in ("eq", "numref"):
            continue
        entry = _entry_of(ref)
        if entry:
            citations.setdefault(ref["reftarget"], set()).add((env.docname, entry[0], entry[1]))


def merge_citations(app, env, docnames, other):
    mine = env.__dict__.setdefault("tfvae_equation_code", {})
    for label, entries in getattr(other, "tfvae_equation_code", {}).items():
        mine.setdefault(label, set()).update(entries)


def purge_citations(app, env, docname):
    citations = env.__dict__.get("tfvae_equation_code", {})
    for label in list(citations):
        citations[label] = {e for e in citations[label] if e[0] != docname}


def link_equations_to_code(app, doctree, fromdocname):
    """Under each labelled equation, a line linking to the API entries that implement it."""
    citations = app.env.__dict__.get("tfvae_equation_code", {})
    for block in list(doctree.findall(nodes.math_block)):
        entries = sorted(citations.get(block.get("label") or "", ()), key=lambda e: e[1])
        if not entries:
            continue
        line = nodes.paragraph(classes=["equation-code"])
        line += nodes.Text("Code: ")
        for k, (docname, name, anchor) in enumerate(entries):
            if k:
                line += nodes.Text(", ")
            uri = app.builder.get_relative_uri(fromdocname, docname) + "#" + anchor
            line += nodes.reference("", "", nodes.literal(name, name), refuri=uri, internal=True)
        block.parent.insert(block.parent.index(block) + 1, line)


class LinkFullNames(SphinxPostTransform):
    """`tfvae.x.y` written as inline code in the book links to the entry documenting it."""

    default_priority = 5  # before Sphinx resolves references

    def run(self, **kwargs):
        objects = self.env.get_domain("py").objects
        for literal in list(self.document.findall(nodes.literal)):
            if isinstance(literal.parent, (nodes.reference, addnodes.pending_xref, nodes.literal_block)):
                continue
            name = literal.astext().removesuffix("()")
            if not name.startswith("tfvae.") or name not in objects:
                continue
            ref = addnodes.pending_xref("", refdomain="py", reftype="obj", reftarget=name, refexplicit=True,
                                        refwarn=True, refdoc=self.env.docname)
            literal.replace_self(ref)
            ref += literal


def add_stylesheet(app):
    app.config.html_static_path.append(str(Path(__file__).with_name("static")))


def setup(app):
    app.connect("builder-inited", add_stylesheet)
    app.add_css_file("api_reference.css")
    app.connect("doctree-read", collect_equation_citations)
    app.connect("env-merge-info", merge_citations)
    app.connect("env-purge-doc", purge_citations)
    app.connect("doctree-resolved", link_equations_to_code)
    app.add_post_transform(LinkFullNames)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
