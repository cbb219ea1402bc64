"""The web book (issue 24): every lesson as a static page, with its outputs, figures and pre-rendered sliders.

``python tools/book.py build`` (``make book``):

1. takes each ``notebooks/*.ipynb`` executed at CPU scale with static apps (``RESNET_EDU_STATIC=1``): the copy
   ``make notebooks`` saved in ``build/book/executed/`` (``tools/book_outputs.py``) when it matches the notebook,
   else it executes the notebook here (nbclient, one kernel per lesson). Any cell error fails the build;
2. writes the Sphinx source folder ``build/book/src/``: an index (an introduction and README's lesson table, the one
   copy of the lesson map) and each executed lesson with a "download the notebook" line under its title;
3. runs Sphinx (myst-nb + sphinx-book-theme, ``book/conf.py``) into ``build/book/html/`` and prints each page's
   weight (the HTML with its embedded figures plus the images it links; the theme's shared files once).

Open it with ``python -m http.server -d build/book/html`` and http://localhost:8000; any static host serves the
folder as it is.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
from book_outputs import KEY, fingerprint  # noqa: E402

NOTEBOOKS = REPO / "notebooks"
BUILD = REPO / "build" / "book"
CONF = REPO / "book"
BOOK_ENV = {"RESNET_EDU_STATIC": "1", "RESNET_EDU_SCALE": "cpu", "PYTHONHASHSEED": "0"}
CELL_TIMEOUT = 900
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"  # as tools/colab.py writes it
LOCAL_BADGE = "colab-badge.svg"  # book/colab-badge.svg: the book loads nothing from elsewhere

INTRO = """\
# resnet-edu: ResNets, explained by running them

This is the web book of [resnet-edu]({repo}): every lesson notebook, executed on a CPU (the *cpu* scale), with
all its outputs, figures, measured numbers and ✅ check lines, to read before installing anything. The sliders
and checkboxes of lessons with an interactive app work here without a kernel: every state they can reach was
rendered when the book was built, and moving a control shows that figure. To run a lesson yourself, open it in
Colab with the badge at its top, or download the notebook from its page and run it with `make lab`.

"""


def lessons(folder: Path = NOTEBOOKS) -> list[Path]:
    """Every lesson notebook, in order (discovered, never a fixed list)."""
    found = sorted(folder.glob("[0-9]*.ipynb"))
    if not found:
        raise SystemExit(f"no lesson notebooks (NN_name.ipynb) in {folder}")
    return found


def lesson_table(readme: Path = REPO / "README.md") -> str:
    """README's "## Lessons" section (table and footnote), its links pointed at the book's pages."""
    text = readme.read_text(encoding="utf-8")
    found = re.search(r"^## Lessons\n(.*?)(?=^## )", text, re.S | re.M)
    if not found:
        raise SystemExit("README.md has no '## Lessons' section to take the lesson map from")
    section = found.group(1).strip()
    return re.sub(r"\]\(notebooks/([0-9][^)]*\.ipynb)\)", r"](\1)", section)


def reusable(executed: Path, source: Any) -> str:
    """'' when ``executed`` is a complete CPU-scale, static-app execution of ``source``, else why not."""
    import nbformat

    if not executed.exists():
        return "no saved execution"
    nb = nbformat.read(str(executed), as_version=4)
    meta = nb.metadata.get(KEY, {})
    if meta.get("fingerprint") != fingerprint(source):
        return "the saved execution is of an older version of the notebook"
    if meta.get("static") != "1" or meta.get("scale") != "cpu":
        return "the saved execution did not run with RESNET_EDU_STATIC=1 and RESNET_EDU_SCALE=cpu"
    return ""


def execute(source: Any, path: Path) -> Any:
    """Run one notebook in a fresh kernel with the book's environment; a cell error raises."""
    from nbclient import NotebookClient

    env = {**os.environ, **BOOK_ENV}
    env.pop("MPLBACKEND", None)  # the kernel's inline backend: figures become outputs
    client = NotebookClient(source, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=env)  # the kernel gets the book's environment
    source.metadata[KEY] = {"fingerprint": fingerprint(source), "static": "1", "scale": "cpu",
                            "executed_by": "tools/book.py"}
    return source


def errors(nb: Any) -> list[str]:
    """Error outputs and tracebacks in an executed notebook (a book with one must not be built)."""
    found = []
    for number, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append(f"code cell {number}: {out.get('ename')}: {out.get('evalue')}")
            elif "Traceback (most recent call last)" in out.get("text", ""):
                found.append(f"code cell {number}: a traceback printed on {out.get('name')}")
            elif str(out.get("data", {}).get("text/plain", "")).startswith("VBox("):
                found.append(f"code cell {number}: a slider app shown as a live widget, which a static page "
                             "cannot run (was RESNET_EDU_STATIC=1 set?)")
    return found


def download_cell(path: Path, src: Path) -> Any:
    import nbformat

    relative = os.path.relpath(path, src)
    return nbformat.v4.new_markdown_cell(
        f"{{download}}`Download this lesson as a notebook (.ipynb) <{relative}>` · run it on Colab with the badge "
        "above, or locally with `make lab`.")


def prepare(executed_dir: Path, src: Path) -> list[Path]:
    """Write the Sphinx source folder; return the lesson pages written. Executes what cannot be reused."""
    import nbformat

    src.mkdir(parents=True, exist_ok=True)
    for old in src.glob("*.ipynb"):
        old.unlink()
    pages = []
    for path in lessons():
        source = nbformat.read(str(path), as_version=4)
        saved = executed_dir / path.name
        why = reusable(saved, source)
        if why:
            print(f"[book] executing {path.name} ({why})", flush=True)
            start = time.perf_counter()
            from nbclient.exceptions import CellExecutionError

            try:
                nb = execute(source, path)
            except CellExecutionError as error:
                message = f"[book] {path.name} failed: a cell raised, so the book is not built.\n{error}"
                raise SystemExit(message) from None
            executed_dir.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, str(saved))
            print(f"[book] {path.name} executed in {time.perf_counter() - start:.0f} s", flush=True)
        else:
            nb = nbformat.read(str(saved), as_version=4)
            print(f"[book] {path.name}: reusing the execution saved by nbval", flush=True)
        problems = errors(nb)
        if problems:
            raise SystemExit(f"[book] {path.name} has errors in its outputs, so the book is not built: "
                             + "; ".join(problems))
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = cell.source.replace(BADGE_IMAGE, LOCAL_BADGE)
        first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
        nb.cells.insert(min(1, first_code), download_cell(path, src))
        nbformat.write(nb, str(src / path.name))
        pages.append(src / path.name)
    (src / LOCAL_BADGE).write_bytes((CONF / LOCAL_BADGE).read_bytes())
    stems = [p.stem for p in pages]
    toctree = "\n".join(["```{toctree}", ":hidden:", ":maxdepth: 1", "", *stems, "```", ""])
    import importlib.util

    spec = importlib.util.spec_from_file_location("book_conf", CONF / "conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    (src / "index.md").write_text(INTRO.format(repo=conf.REPO_URL) + "## Lessons\n\n" + lesson_table() + "\n\n"
                                  + toctree, encoding="utf-8")
    return pages


def sphinx(src: Path, html: Path) -> None:
    from sphinx.cmd.build import build_main

    code = build_main(["-b", "html", "-q", "-W", "--keep-going", "-c", str(CONF), "-d", str(src.parent / "doctrees"),
                       str(src), str(html)])
    if code:
        raise SystemExit(f"[book] Sphinx failed (exit {code}); see the warnings above")


def page_weights(html: Path, stems: list[str]) -> dict[str, int]:
    """Bytes per lesson page: the HTML (figures of the static apps are embedded in it) plus the local images it
    links. The theme's CSS/JS/fonts are shared by every page and counted apart (key '_shared')."""
    weights = {}
    for stem in stems:
        page = html / f"{stem}.html"
        text = page.read_text(encoding="utf-8")
        total = page.stat().st_size
        for src in set(re.findall(r'<img[^>]+src="(?!data:)([^"]+)"', text)):
            target = (page.parent / src).resolve()
            if target.is_file():
                total += target.stat().st_size
        weights[stem] = total
    weights["_shared"] = sum(f.stat().st_size for f in (html / "_static").rglob("*") if f.is_file()
                             and "mathjax" not in f.parts)
    weights["_mathjax"] = sum(f.stat().st_size for f in (html / "_static" / "mathjax").rglob("*") if f.is_file())
    return weights


def build(executed_dir: Path = BUILD / "executed", out: Path = BUILD) -> Path:
    start = time.perf_counter()
    src, html = out / "src", out / "html"
    pages = prepare(executed_dir, src)
    prepared = time.perf_counter()
    sphinx(src, html)
    done = time.perf_counter()
    weights = page_weights(html, [p.stem for p in pages])
    print(f"[book] built {len(pages)} lesson pages + index into {html.relative_to(REPO)} in {done - start:.0f} s "
          f"(notebooks {prepared - start:.0f} s, Sphinx {done - prepared:.0f} s)")
    for stem, size in weights.items():
        if not stem.startswith("_"):
            print(f"[book]   {stem}: {size / 1e6:.2f} MB")
    print(f"[book]   theme files shared by every page: {weights['_shared'] / 1e6:.2f} MB; MathJax (loaded by "
          f"pages with formulas, only the parts they need): {weights['_mathjax'] / 1e6:.1f} MB on disk")
    print(f"[book] open it: python -m http.server -d {html.relative_to(REPO)}  then http://localhost:8000")
    return html


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("build", help="build the book into build/book/html/")
    command.add_argument("--executed", type=Path, default=BUILD / "executed",
                         help="folder of executed notebooks to reuse (make notebooks writes them)")
    command.add_argument("--out", type=Path, default=BUILD, help="build folder (src/, html/ go under it)")
    args = parser.parse_args(argv)
    build(args.executed.resolve(), args.out.resolve())


if __name__ == "__main__":
    main()
