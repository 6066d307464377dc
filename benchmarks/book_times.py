"""Run the book's chapters as its build does; print each chapter's time and its headline numbers.

    ./run python benchmarks/book_times.py             # full budgets, as the published build
    ./run python benchmarks/book_times.py --quick     # quick budgets, as CI (TFVAE_QUICK=1)
    ./run python benchmarks/book_times.py 06 08       # only the chapters whose names start so

Every chapter runs in a fresh kernel, one after the other, from the book's folder. The
headline numbers are the values the chapter glues (`tfvae.notebook.glue`) for its prose to
quote, read from the executed notebook's outputs, so this prints what the pages say. The
totals are the budgets the book promises on two CPU cores in full mode: 60 minutes for
Parts I and II (chapters 00-12), and at most 30 more for Part III (13-18).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbclient
import nbformat

BOOK = Path(__file__).resolve().parents[1] / "book"
GLUE_MIME = "application/papermill.record/text/plain"  # how myst-nb stores a glued value's text
FIRST_PART_III_CHAPTER = 13  # Parts I-II (chapters 00-12) have 60 minutes; Part III may add 30 more


def glued_values(notebook) -> dict:
    """{name: text} of every value the executed notebook glued."""
    values = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name is not None:
                values[name] = output.get("data", {}).get(GLUE_MIME, "?")
    return values


def run_chapter(path: Path) -> tuple[float, dict]:
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=None, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    started = time.perf_counter()
    client.execute()
    return time.perf_counter() - started, glued_values(notebook)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", help="name prefixes of the chapters to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="quick budgets (TFVAE_QUICK=1), as CI runs them")
    args = parser.parse_args(argv)
    os.environ["TFVAE_QUICK"] = "1" if args.quick else "0"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    chapters = sorted(p for p in BOOK.glob("*.ipynb") if not args.chapters
                      or any(p.name.startswith(prefix) for prefix in args.chapters))
    if not chapters:
        print(f"no chapter in {BOOK} starts with {' or '.join(args.chapters)}", file=sys.stderr)
        return 2
    print(f"{'quick' if args.quick else 'full'} budgets, {os.cpu_count()} CPUs")
    by_part = {}
    for path in chapters:
        seconds, glued = run_chapter(path)
        part = "Part III" if int(path.stem[:2]) >= FIRST_PART_III_CHAPTER else "Parts I-II"
        by_part[part] = by_part.get(part, 0.0) + seconds
        numbers = ", ".join(f"{name} = {value}" for name, value in glued.items())
        print(f"{path.stem:32s} {seconds:7.0f} s   {numbers}", flush=True)
    for part, seconds in by_part.items():
        print(f"{part:32s} {seconds:7.0f} s ({seconds / 60:.1f} min)")
    total = sum(by_part.values())
    print(f"{'all chapters':32s} {total:7.0f} s ({total / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
