"""Small helpers for the book's pages (and anyone's notebook)."""

from __future__ import annotations

import numbers


def show_notice(dataset):
    """Display, visibly in the page, which data the page ran on.

    A page that ran on a substitute (for example Fashion-MNIST in place of MNIST on a
    machine with no network) shows a warning box saying so; otherwise a note.
    """
    from IPython.display import Markdown, display

    kind = "warning" if dataset.substitute_for else "note"
    display(Markdown(f":::{{{kind}}}\n{dataset.notice()}\n:::"))


def show_table(rows, headers):
    """Display a small table (rows of values) as Markdown, numbers with 2 decimals."""
    from IPython.display import Markdown, display

    def cell(v):
        # numpy's floating types count as numbers.Real; booleans and integers print as they are.
        return f"{v:,.2f}" if isinstance(v, numbers.Real) and not isinstance(v, numbers.Integral) else str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    display(Markdown("\n".join(lines)))


def glue(name: str, value, *, display: bool = False):
    """Name a value computed in the page so its prose can quote it, as ``{glue:text}`name` `` (MyST-NB).

    The book's prose never types a number that a cell computes or that `tfvae.published`
    holds: it quotes the glued value, so the two cannot disagree. Outside a Jupyter Book
    build (Colab, or Jupyter without myst-nb) there is no prose to quote into, and this
    does nothing. Returns `value`.
    """
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return value
    myst_glue(name, value, display=display)
    return value
