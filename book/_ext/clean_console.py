"""Keep the built pages' JavaScript console free of errors, so the browser test can require it.

* sphinx-thebe's inline configuration (`const THEBE_JS_URL = ...`) ends up twice in every
  page built by Jupyter Book 1.0.4 with Sphinx 7.4, and the second `const` throws
  "Identifier 'THEBE_JS_URL' has already been declared". A page keeps one copy of each
  identical script.
* pydata-sphinx-theme logs "Got invalid theme mode" on a reader's first visit when its page
  template's `default_mode` is empty; pages get "auto" (follow the system setting), the mode
  it falls back to anyway.

Registered in _config.yml under `sphinx: local_extensions`.
"""


def clean_page(app, pagename, templatename, context, doctree):
    if not context.get("default_mode"):
        context["default_mode"] = "auto"
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for script in scripts:
        # An inline script's filename is None on one path into the page and "" on the other.
        key = (getattr(script, "filename", str(script)) or "",
               tuple(sorted((k, str(v)) for k, v in getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def setup(app):
    app.connect("html-page-context", clean_page)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
