"""Fixtures of the browser test (issues 5 and 12): Chromium, one server per front end and session, the artifacts
folder. Front ends: JupyterLab 4 from the project's venv (ipywidgets 8), and the classic Notebook 6.5 with
widgetsnbextension 3.6 from the Colab-like venv ``.venv-colab`` (ipywidgets 7.7.1, Colab's versions; its kernels
import the stand-in ``google.colab``, so the set-up cell takes its Colab branch).

Run with ``make e2e`` (installs Debian's chromium when apt is available) or ``.venv/bin/pytest tests/e2e``.
Without /usr/bin/chromium the tests are skipped, with the reason in pytest's summary.

Environment knobs: ``RESNET_EDU_E2E_NOTEBOOKS`` (folder to take the lessons from, default ``notebooks/``),
``RESNET_EDU_E2E_RUN_TIMEOUT`` (seconds "Run All Cells" may take per lesson, default 240),
``RESNET_EDU_E2E_REDRAW_LIMIT_MS`` (the wall time a slider's redraw may take, default 500: issue 33's bound),
``RESNET_EDU_E2E_REDRAW_RETRIES`` (how often a move whose redraw was slower is repeated, default 3: the fastest
counts) and ``RESNET_EDU_E2E_REDRAW_CPU_LIMIT_MS`` (the CPU time of the kernel's drawing thread, default 500).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from labdriver import CHROMIUM, CHROMIUM_FLAGS, ClassicNotebookServer, JupyterLabServer, StepFailed, venv_bin

REPO = Path(__file__).resolve().parents[2]
COLAB_VENV = REPO / ".venv-colab"
ARTIFACTS = REPO / "artifacts" / "e2e"
SCREENSHOTS = pytest.StashKey[list]()
WALKTHROUGHS = pytest.StashKey[list]()
BOOK_PAGES = pytest.StashKey[list]()


@pytest.fixture(scope="session")
def artifacts(request: pytest.FixtureRequest) -> Path:
    """artifacts/e2e/ (git-ignored), emptied of the previous run's screenshots and logs."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in [*ARTIFACTS.glob("*.png"), *ARTIFACTS.glob("*.log")]:
        old.unlink()
    request.config.stash[SCREENSHOTS] = []
    request.config.stash[WALKTHROUGHS] = []
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium driven by Python playwright (never ``playwright install``: no browser download)."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"browser test skipped: Chromium is not installed at {CHROMIUM}. Install Debian's package with "
            "`apt-get install -y --no-install-recommends chromium` (`make e2e` does it where apt is available)."
        )
    sync_api = pytest.importorskip("playwright.sync_api", reason="browser test skipped: Python playwright is "
                                   "not installed (it is in requirements-dev.txt)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def lab_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder JupyterLab serves: a scratch copy of the lessons is put in its notebooks/ by the test."""
    return tmp_path_factory.mktemp("lab-root")


def serve(server: JupyterLabServer, artifacts: Path, log_name: str) -> Iterator[JupyterLabServer]:
    failed = ""
    try:
        server.start()
    except StepFailed as error:
        failed = str(error)
    if failed:
        if server.log_path.exists():
            shutil.copy2(server.log_path, artifacts / log_name)
        pytest.fail(failed, pytrace=False)
    try:
        yield server
    finally:
        server.stop()
        shutil.copy2(server.log_path, artifacts / log_name)


@pytest.fixture(scope="session")
def lab_server(browser: object, lab_root: Path, artifacts: Path,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLabServer]:
    """JupyterLab on 127.0.0.1:<free port>, empty token, isolated Jupyter dirs; kernels run at CPU scale."""
    (lab_root / "notebooks").mkdir(exist_ok=True)
    server = JupyterLabServer(
        root_dir=lab_root,
        work_dir=tmp_path_factory.mktemp("jupyter"),
        venv_bin=venv_bin(REPO),
        kernel_env={"RESNET_EDU_SCALE": "cpu", "PYTHONPATH": str(REPO)},  # this checkout, also from a worktree
    )
    yield from serve(server, artifacts, "jupyter-server.log")


@pytest.fixture(scope="session")
def colab_server(browser: object, artifacts: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClassicNotebookServer]:
    """The classic Notebook of the Colab-like venv, its widget extension checked; kernels take the Colab branch
    and install resnet-edu from this checkout (RESNET_EDU_SOURCE) if the venv does not have it yet."""
    if not (COLAB_VENV / "bin" / "jupyter-notebook").exists():
        pytest.skip(f"the Colab-like front end needs {COLAB_VENV}: build it with `make colab-env`")
    sys.path.insert(0, str(REPO / "tools"))
    import colab_env

    root = tmp_path_factory.mktemp("notebook-root")
    (root / "notebooks").mkdir()
    server = ClassicNotebookServer(
        root_dir=root,
        work_dir=tmp_path_factory.mktemp("jupyter-classic"),
        venv_bin=COLAB_VENV / "bin",
        kernel_env={"RESNET_EDU_SCALE": "cpu", "RESNET_EDU_SOURCE": str(REPO), **colab_env.kernel_env(COLAB_VENV)},
    )
    problem = server.widgets_enabled()
    if problem:
        pytest.fail(f"widgetsnbextension is not installed and enabled in {COLAB_VENV}: the classic Notebook would "
                    f"show each widget as a bare text line. `jupyter nbextension list` said:\n{problem}",
                    pytrace=False)
    yield from serve(server, artifacts, "notebook-server.log")


@pytest.fixture(scope="session")
def screenshots(request: pytest.FixtureRequest, artifacts: Path) -> list[Path]:
    """Screenshots a test took: listed at the end of pytest's report."""
    return request.config.stash[SCREENSHOTS]


@pytest.fixture(scope="session")
def walkthroughs(request: pytest.FixtureRequest, artifacts: Path) -> list[str]:
    """One line per lesson that passed: the slider values it visited and the times; listed at the end."""
    return request.config.stash[WALKTHROUGHS]


@pytest.fixture(scope="session")
def book_report(request: pytest.FixtureRequest) -> list[str]:
    """One line per web-book page that passed (test_book_in_browser.py): its weight and the moves it checked."""
    return request.config.stash.setdefault(BOOK_PAGES, [])


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    pages = config.stash.get(BOOK_PAGES, [])
    if pages:
        terminalreporter.section("web book in the browser: pages and static apps")
        for line in pages:
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"screenshots before/after each move: {REPO / 'artifacts' / 'book'}")
    shots = config.stash.get(SCREENSHOTS, [])
    lines = config.stash.get(WALKTHROUGHS, [])
    if shots or lines:
        terminalreporter.section("browser test: slider states and screenshots")
        for line in lines:
            terminalreporter.write_line(line)
        for shot in shots:
            terminalreporter.write_line(str(shot))
        for log in (ARTIFACTS / "jupyter-server.log", ARTIFACTS / "notebook-server.log"):
            if log.exists():
                terminalreporter.write_line(f"server log: {log}")
