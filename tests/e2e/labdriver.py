"""Drive JupyterLab in headless Chromium the way a learner does (issue 5: the browser test of lessons 03 and 05).

Two pieces, used by ``conftest.py`` and ``test_lessons_in_browser.py``:

* :class:`JupyterLabServer` starts ``jupyter lab`` from the project's venv on 127.0.0.1 with a free port, an
  empty token, isolated ``JUPYTER_CONFIG_DIR`` / ``JUPYTER_DATA_DIR`` / ``JUPYTER_RUNTIME_DIR`` and a settings
  override that silences the news/update toast, and stops it by its PID.
* :class:`LessonPage` opens one lesson, waits for an idle kernel, runs all cells through the menu, finds the
  :class:`resnet_edu.widgets.SliderApp` by the ``rendered name=value`` marker it prints after every redraw, and
  moves its slider with the keyboard and with the mouse. Every locator is scoped to the visible notebook panel.

Every step raises :class:`StepFailed` with the step's name ("kernel never idle", "widget never rendered", ...),
a sentence about what was seen, and the path of a full-page screenshot taken at that moment.
"""

from __future__ import annotations

import atexit
import contextlib
import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

try:
    from playwright.sync_api import Error as PlaywrightError
except ImportError:  # conftest skips the tests with a reason; this module must still import
    PlaywrightError = Exception

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

# JupyterLab settings for the test's isolated app-settings dir: no news/update toast over the page (it would
# cover the notebook), all cells attached to the DOM (no virtual scrolling hiding the widget), no autosave.
LAB_OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension:plugin": {"autosave": False},
}


class StepFailed(AssertionError):
    """A named step of the learner's walk-through failed; the message says which and what was seen."""

    def __init__(self, step: str, detail: str, screenshot: Path | None = None) -> None:
        self.step = step
        message = f"{step}: {detail}"
        if screenshot is not None:
            message += f"\n  screenshot of the page at that moment: {screenshot}"
        super().__init__(message)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get_json(url: str, timeout: float = 5.0) -> object:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read().decode())


@dataclass
class JupyterLabServer:
    """``jupyter lab`` serving ``root_dir`` from the venv in ``venv_bin``, everything else under ``work_dir``."""

    root_dir: Path
    work_dir: Path
    venv_bin: Path
    kernel_env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    landing: str = "/lab"  # a page that hands out the _xsrf cookie

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.work_dir / "jupyter-server.log"

    def log_tail(self, lines: int = 25) -> str:
        if not self.log_path.exists():
            return "(no server log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def environment(self) -> dict[str, str]:
        # Nothing from the caller's Jupyter set-up, and no MPLBACKEND (`make test` exports Agg for nbval): with
        # it the kernel would skip the inline backend and display(fig) would print "<Figure ...>", not a plot.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("JUPYTER", "JPY_")) and k != "MPLBACKEND"}
        for name in ("config", "data", "runtime", "ipython"):
            (self.work_dir / name).mkdir(parents=True, exist_ok=True)
        env.update(
            JUPYTER_CONFIG_DIR=str(self.work_dir / "config"),
            JUPYTER_DATA_DIR=str(self.work_dir / "data"),
            JUPYTER_RUNTIME_DIR=str(self.work_dir / "runtime"),
            IPYTHONDIR=str(self.work_dir / "ipython"),
            PATH=f"{self.venv_bin}{os.pathsep}{env.get('PATH', '')}",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.kernel_env)  # kernels inherit the server's environment
        return env

    def command(self) -> list[str]:
        settings = self.work_dir / "app-settings"
        settings.mkdir(parents=True, exist_ok=True)
        (settings / "overrides.json").write_text(json.dumps(LAB_OVERRIDES, indent=2))
        return [
            str(self.venv_bin / "jupyter"),
            "lab",
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.root_dir}",
            "--IdentityProvider.token=",  # ServerApp.token='' under its jupyter-server 2 name: no token
            "--PasswordIdentityProvider.hashed_password=",  # and no password (ServerApp.password='')
            f"--LabApp.app_settings_dir={settings}",
            "--LabApp.extension_manager=readonly",
        ]

    def start(self, timeout: float = 90.0) -> JupyterLabServer:
        """Start the server and wait until ``/api/status`` answers; StepFailed("server did not start") if not."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        log = self.log_path.open("wb")
        try:
            self.process = subprocess.Popen(
                self.command(), env=self.environment(), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, cwd=self.root_dir,
            )
        finally:
            log.close()
        atexit.register(self.stop)  # a second net under the fixture's teardown: never leave a server behind
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StepFailed(
                    "server did not start",
                    f"jupyter lab exited with code {self.process.returncode}; end of its log "
                    f"({self.log_path}):\n{self.log_tail()}",
                )
            with contextlib.suppress(OSError, ValueError):
                _get_json(f"{self.url}/api/status", timeout=2.0)
                return self
            time.sleep(0.5)
        self.stop()
        raise StepFailed(
            "server did not start",
            f"no answer from {self.url}/api/status within {timeout:.0f} s; end of its log:\n{self.log_tail()}",
        )

    def kernels(self) -> list[dict[str, object]]:
        with contextlib.suppress(OSError, ValueError):
            answer = _get_json(f"{self.url}/api/kernels")
            if isinstance(answer, list):
                return answer
        return []

    def shutdown_kernels(self) -> None:
        """DELETE every kernel, with the _xsrf cookie the server hands out (as the page's own requests do)."""
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        with contextlib.suppress(OSError):
            opener.open(f"{self.url}{self.landing}", timeout=10).close()
        xsrf = next((cookie.value for cookie in jar if cookie.name == "_xsrf"), "")
        for kernel in self.kernels():
            request = urllib.request.Request(f"{self.url}/api/kernels/{kernel['id']}", method="DELETE",
                                             headers={"X-XSRFToken": xsrf})
            with contextlib.suppress(OSError):
                opener.open(request, timeout=15).close()

    def stop(self, timeout: float = 20.0) -> None:
        """Shut the kernels down through the REST API, then stop the server by its PID (TERM, then KILL)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        self.shutdown_kernels()
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=timeout)


@dataclass
class Lesson:
    """One lesson under test: its notebook and the name its SliderApp prints in the marker."""

    notebook: str
    parameter: str

    @property
    def stem(self) -> str:
        return Path(self.notebook).stem


@dataclass
class SliderState:
    value: str
    image: str  # the src of the plot's <img>: a data URL, different for a different figure
    screenshot: Path
    redraw_ms: int | None = None  # what the marker says the redraw took: "rendered steps=7 (123 ms, 98 ms CPU)"
    redraw_cpu_ms: int | None = None  # ... and how much CPU time of the kernel's drawing thread it used
    seen_s: float | None = None  # seconds from the last key press / mouse release to the new plot on the page


class LessonPage:
    """One lesson open in JupyterLab 4 (ipywidgets 8) in one browser page. Methods are the steps of the
    walk-through, in order; the class attributes are what differs in another front end (:class:`ClassicPage`)."""

    FRONT_END = "lab4"  # prefix of the screenshots' names
    PANEL = ".jp-NotebookPanel"
    CODE_CELL = ".jp-CodeCell"
    OUTPUT_AREA = ".jp-OutputArea"
    WIDGET_OUTPUT = ".widget-output"  # an ipywidgets Output widget
    HANDLE = ".noUi-handle"  # ipywidgets 8 draws sliders with noUiSlider
    TRACK = ".noUi-base"

    def __init__(self, page, server: JupyterLabServer, lesson: Lesson, artifacts: Path) -> None:
        self.page = page
        self.server = server
        self.lesson = lesson
        self.artifacts = artifacts
        self.screenshots: list[Path] = []
        self.panel = page.locator(self.PANEL).filter(visible=True)
        self.marker = re.compile(rf"rendered {re.escape(lesson.parameter)}=(\S+)")
        self.redraw_time = re.compile(rf"rendered {re.escape(lesson.parameter)}=\S+.*?\((\d+) ms(?:, (\d+) ms CPU)?\)")
        self.last_input = 0.0  # time.monotonic() of the last key press or mouse release
        self.run_started = 0.0
        self.step = "lesson did not open"  # the step under way, named by how it fails

    # -- failure reporting ------------------------------------------------------------------------------------
    def fail(self, step: str, detail: str) -> StepFailed:
        shot = self.artifacts / f"{self.FRONT_END}-{self.lesson.stem}-FAILED.png"
        try:
            self.page.screenshot(path=str(shot), full_page=True)
            self.screenshots.append(shot)
        except Exception:
            shot = None
        return StepFailed(f"[{self.lesson.notebook}] {step}", detail, shot)

    def wait_until(self, step: str, condition, timeout: float, describe, poll: float = 0.25):
        """Poll ``condition()`` until truthy (returned); else StepFailed(step, describe())."""
        deadline = time.monotonic() + timeout
        self.step = step
        while True:
            try:
                result = condition()
            except PlaywrightError:  # the DOM changed under a locator while the page redraws: look again
                result = None
            if result:
                return result
            if time.monotonic() > deadline:
                try:
                    detail = describe()
                except PlaywrightError as error:
                    detail = f"gave up after {timeout:.0f} s (the page could not be inspected: {error})"
                raise self.fail(step, detail)
            time.sleep(poll)

    # -- steps ------------------------------------------------------------------------------------------------
    def open(self, timeout: float = 90.0) -> None:
        """Open ``/lab/tree/notebooks/<lesson>?reset`` and accept the kernel dialog if JupyterLab shows one."""
        url = f"{self.server.url}/lab/tree/notebooks/{self.lesson.notebook}?reset"
        try:
            self.page.goto(url, timeout=timeout * 1000)
            self.panel.wait_for(state="visible", timeout=timeout * 1000)
        except Exception as error:
            raise self.fail("lesson did not open", f"no visible notebook panel at {url}: {error}") from None

    def wait_for_idle_kernel(self, timeout: float = 90.0) -> None:
        """A notebook without kernel metadata asks which kernel to use: answer with the preselected one."""
        dialog_accept = self.page.locator(".jp-Dialog .jp-mod-accept").filter(visible=True)
        kernel_name = self.panel.locator(".jp-Toolbar-kernelName")
        indicator = self.panel.locator(".jp-Notebook-ExecutionIndicator")

        def idle() -> bool:
            if dialog_accept.count():
                with contextlib.suppress(Exception):
                    dialog_accept.first.click(timeout=2000)
                return False
            name = kernel_name.inner_text(timeout=2000).strip() if kernel_name.count() else ""
            status = indicator.get_attribute("data-status", timeout=2000) if indicator.count() else None
            return bool(name) and name != "No Kernel" and status == "idle"

        def describe() -> str:
            name = kernel_name.inner_text().strip() if kernel_name.count() else "(no kernel name shown)"
            status = indicator.get_attribute("data-status") if indicator.count() else "(no status shown)"
            states = [k.get("execution_state") for k in self.server.kernels()]
            return (f"after {timeout:.0f} s the toolbar shows kernel {name!r} with status {status!r} "
                    f"(server reports kernels in states {states}); end of the server log:\n"
                    f"{self.server.log_tail(10)}")

        self.wait_until("kernel never idle", idle, timeout, describe)

    def kernel_idle(self) -> bool:
        indicator = self.panel.locator(".jp-Notebook-ExecutionIndicator")
        return indicator.get_attribute("data-status", timeout=2000) == "idle"

    def prompts(self) -> list[str]:
        """The input prompt of each code cell ("[3]:", "[*]:", "[ ]:"); "" for an empty cell, which JupyterLab
        skips. Read from the DOM text, so a collapsed (source-hidden) cell counts too."""
        return self.panel.locator(self.CODE_CELL).evaluate_all(
            """cells => cells.map(cell => {
                const source = cell.querySelector('.jp-InputArea-editor .cm-content');
                if (source && !source.textContent.trim()) return '';
                const prompt = cell.querySelector('.jp-InputPrompt');
                return prompt ? prompt.textContent.trim() : '';
            })"""
        )

    def click_run_all(self) -> None:
        """Run → Run All Cells from the menu bar, as a learner does; the clock for :meth:`wait_for_run_all` starts."""
        self.step = "could not run all cells"
        self.page.bring_to_front()
        try:
            self.page.get_by_role("menuitem", name="Run", exact=True).click(timeout=10_000)
            self.page.get_by_role("menuitem", name="Run All Cells", exact=True).click(timeout=10_000)
        except Exception as error:
            raise self.fail("could not run all cells", f"menu Run → Run All Cells was not clickable: {error}") \
                from None
        self.run_started = time.monotonic()

    def wait_for_run_all(self, timeout: float) -> float:
        """Wait until every code cell has an execution count and the kernel is idle; return the run's seconds.

        ``timeout`` counts from the click. A cell that raised stops the run: StepFailed names that cell and
        quotes the end of its output.
        """
        executed = re.compile(r"^(\[\d+\]:)?$")  # a count, or an empty cell
        left = max(1.0, self.run_started + timeout - time.monotonic())

        def settled() -> bool:
            prompts = self.prompts()
            return bool(prompts) and not any("*" in p for p in prompts) and self.kernel_idle()

        def describe() -> str:
            prompts = self.prompts()
            running = [i + 1 for i, p in enumerate(prompts) if "*" in p]
            return (f"still running {timeout:.0f} s after Run All Cells: code cells {running} of {len(prompts)} "
                    f"show [*] (RESNET_EDU_E2E_RUN_TIMEOUT sets this limit)")

        self.wait_until("run all cells did not finish", settled, left, describe, poll=0.5)
        seconds = time.monotonic() - self.run_started
        time.sleep(0.5)  # a second look: the queue may have been between two cells
        self.wait_until("run all cells did not finish", settled, max(1.0, left - seconds), describe, poll=0.5)
        prompts = self.prompts()
        not_run = [i for i, p in enumerate(prompts) if not executed.match(p)]
        cells = self.panel.locator(self.CODE_CELL)
        if not_run:  # JupyterLab stops "Run All" at the cell that raised; the cells after it keep "[ ]:"
            last = max(0, not_run[0] - 1)
            output = cells.nth(last).locator(self.OUTPUT_AREA).first.inner_text()
            raise self.fail(
                "a cell raised during run all",
                f"code cell {last + 1} of {len(prompts)} stopped the run (cells {[i + 1 for i in not_run]} "
                f"never ran); end of its output:\n{output[-1500:]}",
            )
        output = cells.last.locator(self.OUTPUT_AREA).first.inner_text()
        if "Traceback (most recent call last)" in output:  # the last cell raised: nothing after it to stop
            raise self.fail("a cell raised during run all",
                            f"the last code cell ({len(prompts)}) raised; end of its output:\n{output[-1500:]}")
        return seconds

    def app(self):
        """The SliderApp box: the innermost widget box holding a slider and an output with our marker."""
        output = self.page.locator(self.WIDGET_OUTPUT, has_text=self.marker)
        return self.panel.locator(".widget-vbox").filter(has=output).filter(
            has=self.page.locator(".widget-slider")).last

    def slider(self):
        """The app's slider for the lesson's parameter: the one labelled with its name, else the only one."""
        sliders = self.app().locator(".widget-slider")
        named = sliders.filter(has=self.page.locator(".widget-label", has_text=self.lesson.parameter))
        if named.count() or sliders.count() > 1:
            return named.first  # with several unlabelled sliders, fail on this one rather than guess
        return sliders.first

    def readout(self) -> str:
        slider = self.slider()
        return slider.locator(".widget-readout").inner_text(timeout=5000).strip() if slider.count() else ""

    def rendered(self) -> tuple[str, str] | None:
        """(value in the marker, plot image src) of the app's output, or None while it is being redrawn."""
        output = self.app().locator(self.WIDGET_OUTPUT)
        if not output.count():
            return None
        found = self.marker.search(output.first.inner_text(timeout=5000))
        images = output.first.locator("img")
        if not found or not images.count():
            return None
        return found.group(1), images.first.get_attribute("src", timeout=5000) or ""

    def wait_for_widget(self, timeout: float = 60.0) -> SliderState:
        """The app is on screen: a slider, a plot and the marker for the slider's current readout."""
        self.page.bring_to_front()

        def drawn():
            if not self.app().count() or not self.slider().count():
                return None
            state = self.rendered()
            return state if state and state[0] == self.readout() else None

        def describe() -> str:
            outputs = self.panel.locator(self.WIDGET_OUTPUT).all_inner_texts()
            return (f"no widget box with a slider and a plot marked 'rendered {self.lesson.parameter}=<readout>' "
                    f"within {timeout:.0f} s; widget outputs seen: {[o[-200:] for o in outputs]}")

        value, image = self.wait_until("widget never rendered", drawn, timeout, describe)
        self.app().scroll_into_view_if_needed()
        whole = self.artifacts / f"{self.FRONT_END}-{self.lesson.stem}-0-window-{self.lesson.parameter}{value}.png"
        self.page.screenshot(path=str(whole))  # the whole window: nothing covers the lesson
        self.screenshots.append(whole)
        return SliderState(value, image, self.shoot("1-rendered", value))

    def shoot(self, state: str, value: str) -> Path:
        path = self.artifacts / f"{self.FRONT_END}-{self.lesson.stem}-{state}-{self.lesson.parameter}{value}.png"
        self.app().screenshot(path=str(path))
        self.screenshots.append(path)
        return path

    def position(self) -> float:
        """Where the handle sits on its track, 0 (min) to 1 (max), from its ARIA attributes."""
        handle = self.slider().locator(self.HANDLE)
        low, high, now = (float(handle.get_attribute(a) or 0) for a in
                          ("aria-valuemin", "aria-valuemax", "aria-valuenow"))
        return (now - low) / (high - low) if high > low else 0.0

    def arrow_key_away_from_the_end(self) -> str:
        return "ArrowRight" if self.position() < 0.5 else "ArrowLeft"

    def press_arrows(self, key: str, times: int) -> None:
        """Focus the slider's handle (Tab-reachable, role=slider) and press an arrow key ``times`` times."""
        self.step = "keyboard did not move the slider"
        handle = self.slider().locator(self.HANDLE)
        handle.focus()
        for i in range(times):
            if i:
                time.sleep(0.15)
            self.page.keyboard.press(key)
        self.last_input = time.monotonic()

    def drag_across(self) -> None:
        """Drag the handle to 80 % of the track (or to 20 % when it is in the right half)."""
        self.drag_to(0.8 if self.position() < 0.5 else 0.2)

    def drag_to(self, fraction: float) -> None:
        """Press the mouse on the handle, move it in small steps to ``fraction`` of the track, release."""
        self.step = "mouse drag did not move the slider"
        track = self.slider().locator(self.TRACK).bounding_box()
        handle = self.slider().locator(self.HANDLE).bounding_box()
        if not track or not handle:
            raise self.fail("mouse drag did not move the slider", "the slider's track or handle has no size")
        y = handle["y"] + handle["height"] / 2
        mouse = self.page.mouse
        mouse.move(handle["x"] + handle["width"] / 2, y)
        mouse.down()
        mouse.move(track["x"] + fraction * track["width"], y, steps=12)
        mouse.up()
        self.last_input = time.monotonic()

    def expect_redraw(self, before: SliderState, how: str, state: str, timeout: float = 60.0) -> SliderState:
        """The readout moved away from ``before`` and the plot redrew for exactly the new readout."""
        moved = self.wait_until(
            f"{how} did not move the slider",
            lambda: (r := self.readout()) != before.value and r,
            10.0,
            lambda: f"the readout still shows {before.value!r} after the {how}",
        )

        def redrawn():
            current = self.readout()  # read it again: a key repeat can still be landing
            got = self.rendered()
            return got if got and got[0] == current and got[1] != before.image else None

        def describe() -> str:
            got = self.rendered()
            shown = f"marker for {got[0]!r}" if got else "no marker (output empty or still redrawing)"
            same = " and the same image as before" if got and got[1] == before.image else ""
            return (f"slider readout is {self.readout()!r} (moved from {before.value!r} to {moved!r}) but the "
                    f"plot shows {shown}{same} after {timeout:.0f} s")

        value, image = self.wait_until(f"plot did not change after the {how}", redrawn, timeout, describe, poll=0.05)
        seen = time.monotonic() - self.last_input
        return SliderState(value, image, self.shoot(state, value), *self.redraw_ms(), seen_s=seen)

    def redraw_ms(self) -> tuple[int | None, int | None]:
        """(wall, CPU) ms of the redraw that the marker under the plot reports (None where it shows none)."""
        output = self.app().locator(self.WIDGET_OUTPUT)
        found = self.redraw_time.search(output.first.inner_text(timeout=5000)) if output.count() else None
        if not found:
            return None, None
        return int(found.group(1)), (int(found.group(2)) if found.group(2) else None)


@dataclass
class ClassicNotebookServer(JupyterLabServer):
    """The classic ``jupyter notebook`` (6.5, what Colab carries) from the Colab-like venv, with its
    widgetsnbextension 3.6 enabled: the front end built for ipywidgets 7.7.1's side of the widget protocol."""

    landing: str = "/tree"

    def command(self) -> list[str]:
        return [
            str(self.venv_bin / "jupyter"),
            "notebook",
            "--no-browser",
            "--allow-root",
            "--NotebookApp.ip=127.0.0.1",
            f"--NotebookApp.port={self.port}",
            "--NotebookApp.port_retries=0",
            f"--NotebookApp.notebook_dir={self.root_dir}",
            "--NotebookApp.token=",
            "--NotebookApp.password=",
        ]

    def widgets_enabled(self) -> str:
        """'' when widgetsnbextension's nbextension is installed and enabled, else what ``jupyter nbextension
        list`` said (a front end without it shows a widget as a bare text line, silently)."""
        listing = subprocess.run([str(self.venv_bin / "jupyter"), "nbextension", "list"], env=self.environment(),
                                 capture_output=True, text=True, timeout=60)
        text = listing.stdout + listing.stderr
        ok = re.search(r"jupyter-js-widgets/extension\s+.*enabled", text) and "OK" in text
        return "" if ok else text


class ClassicPage(LessonPage):
    """One lesson in the classic Notebook with ipywidgets 7 (jQuery UI sliders): the same steps as
    :class:`LessonPage`, found through the classic page's own elements and its ``Jupyter.notebook`` object."""

    FRONT_END = "nb6-ipywidgets7"
    PANEL = "#notebook-container"
    CODE_CELL = ".cell.code_cell"
    OUTPUT_AREA = ".output_wrapper"
    WIDGET_OUTPUT = ".jupyter-widgets-output-area"
    HANDLE = ".ui-slider-handle"  # ipywidgets 7 draws sliders with jQuery UI
    TRACK = ".ui-slider"

    def open(self, timeout: float = 90.0) -> None:
        url = f"{self.server.url}/notebooks/notebooks/{self.lesson.notebook}"
        try:
            self.page.goto(url, timeout=timeout * 1000)
            self.panel.wait_for(state="visible", timeout=timeout * 1000)
        except Exception as error:
            raise self.fail("lesson did not open", f"no visible notebook at {url}: {error}") from None

    def kernel_idle(self) -> bool:
        return bool(self.page.evaluate("""() => {
            const nb = window.Jupyter && Jupyter.notebook;
            return !!(nb && nb.kernel && nb.kernel.is_connected() &&
                      document.querySelector('#kernel_indicator_icon.kernel_idle_icon'));
        }"""))

    def wait_for_idle_kernel(self, timeout: float = 90.0) -> None:
        def describe() -> str:
            icon = self.page.locator("#kernel_indicator_icon")
            classes = icon.get_attribute("class") if icon.count() else "(no kernel indicator)"
            return (f"after {timeout:.0f} s the kernel indicator has classes {classes!r}; end of the server log:\n"
                    f"{self.server.log_tail(10)}")

        self.wait_until("kernel never idle", self.kernel_idle, timeout, describe)

    def prompts(self) -> list[str]:
        """Each code cell's prompt as "[3]:", "[*]:" or "[ ]:" ("" for an empty cell), from Jupyter.notebook."""
        return self.page.evaluate("""() => Jupyter.notebook.get_cells()
            .filter(cell => cell.cell_type === 'code')
            .map(cell => {
                if (!cell.get_text().trim()) return '';
                const n = cell.input_prompt_number;
                return n === '*' ? '[*]:' : (typeof n === 'number' ? `[${n}]:` : '[ ]:');
            })""")

    def click_run_all(self) -> None:
        """Cell → Run All from the menu bar, as a learner does."""
        self.step = "could not run all cells"
        self.page.bring_to_front()
        try:
            self.page.locator("#menus a.dropdown-toggle", has_text=re.compile(r"^\s*Cell\s*$")).click(timeout=10_000)
            self.page.locator("#run_all_cells > a").click(timeout=10_000)
        except Exception as error:
            raise self.fail("could not run all cells", f"menu Cell → Run All was not clickable: {error}") from None
        self.run_started = time.monotonic()

    def position(self) -> float:
        """Where the jQuery UI handle sits, 0 (min) to 1 (max): its ``left`` style is the percentage."""
        handle = self.slider().locator(self.HANDLE)
        return float(handle.evaluate("h => parseFloat(h.style.left || '0') / 100"))


def venv_bin(repo: Path) -> Path:
    """The project's ``.venv/bin`` (where ``make`` installs JupyterLab), else the bin/ of this interpreter."""
    project = repo / ".venv" / "bin"
    return project if (project / "jupyter").exists() else Path(sys.executable).parent
