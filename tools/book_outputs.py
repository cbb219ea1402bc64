"""pytest plugin: keep the notebooks nbval executed, outputs included, so the web book need not run them again.

``python -m pytest -p tools.book_outputs --book-outputs DIR --nbval-lax notebooks/`` (``make notebooks``) writes
``DIR/NN_x.ipynb`` for every notebook all of whose cells passed: the committed notebook with the outputs and
execution counts of this run, and in its metadata the fingerprint of the source cells and the environment it ran
in (:func:`fingerprint`, ``RESNET_EDU_STATIC``, ``RESNET_EDU_SCALE``). ``tools/book.py`` uses such a copy only when
the fingerprint still matches the notebook and it ran at CPU scale with static apps; otherwise it executes the
notebook itself. A notebook with a failed cell is not written (and a stale copy of it is removed).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

KEY = "resnet_edu_book"  # notebook metadata key


def fingerprint(nb: Any) -> str:
    """SHA-1 of the cells' types and sources: changes when a lesson is edited, not when it is executed."""
    cells = [[cell["cell_type"], cell["source"]] for cell in nb["cells"]]
    return hashlib.sha1(json.dumps(cells, ensure_ascii=False).encode()).hexdigest()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--book-outputs", default=None, metavar="DIR",
                     help="write each notebook nbval ran without a failure, with its outputs, into DIR (web book)")


_runs: dict[str, dict[str, Any]] = {}  # notebook path -> {"nb", "outputs": {cell_num: outputs}, "failed"}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    outcome = yield
    if item.config.getoption("book_outputs") is None or not hasattr(item, "cell_num"):
        return
    report = outcome.get_result()
    notebook = item.parent
    run = _runs.setdefault(str(notebook.path), {"nb": notebook.nb, "outputs": {}, "failed": False})
    if report.failed:
        run["failed"] = True
    elif report.skipped:  # a cell tagged nbval-skip: it has no outputs in the book either
        run["outputs"][item.cell_num] = []
    elif report.when == "call" and getattr(item, "test_outputs", None) is not None:
        run["outputs"][item.cell_num] = item.test_outputs


def pytest_sessionfinish(session: pytest.Session) -> None:
    folder = session.config.getoption("book_outputs")
    if folder is None:
        return
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    import nbformat

    for path, run in _runs.items():
        target = folder / Path(path).name
        target.unlink(missing_ok=True)
        if run["failed"]:
            continue
        nb = copy.deepcopy(run["nb"])
        code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
        if len(run["outputs"]) != len(code_cells):
            continue  # some cells did not run (deselected or skipped): not a complete execution
        for number, cell in enumerate(code_cells):
            cell.outputs = [nbformat.from_dict(dict(out)) for out in run["outputs"][number]]
            cell.execution_count = number + 1
            for out in cell.outputs:
                if out.get("output_type") == "execute_result":
                    out["execution_count"] = number + 1
        nb.metadata[KEY] = {
            "fingerprint": fingerprint(run["nb"]),
            "static": os.environ.get("RESNET_EDU_STATIC", ""),
            "scale": os.environ.get("RESNET_EDU_SCALE", ""),
            "executed_by": "nbval",
        }
        nbformat.write(nb, str(target))
