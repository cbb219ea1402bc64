"""Issues 5 and 12: the interactive lessons work in a real browser, the way a learner uses them, in two front ends:
JupyterLab 4 with ipywidgets 8, and Colab's widget protocol — ipywidgets 7.7.1 (Colab's version) in the classic
Notebook with widgetsnbextension 3.6, the front end built for it (Colab's own renderer cannot run here).

For lesson 03b (depth slider) and lesson 05 (step slider): open the notebook in JupyterLab in headless Chromium,
wait for an idle kernel, Run → Run All Cells, wait for the slider app to draw, then move the slider with the
keyboard (focus + arrow keys) and with a mouse drag, and each time wait until the plot is redrawn *for the
slider's new readout* (the ``rendered depth=N ...`` marker SliderApp prints under the plot, and a new image).
Each redraw's time (the marker's ``(… ms, … ms CPU)``) is reported, with how long after the input the page showed
it, and must stay ≤ 0.5 s (issue 33; a move slower than that is tried again, see REDRAW_RETRIES).
nbval cannot see any of this: it runs cells in a kernel without a page.

The lessons run one after the other (not side by side), so that their own timing checks see an unshared CPU.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from labdriver import ClassicPage, Lesson, LessonPage, StepFailed

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = Path(os.environ.get("RESNET_EDU_E2E_NOTEBOOKS", REPO / "notebooks"))
RUN_TIMEOUT = float(os.environ.get("RESNET_EDU_E2E_RUN_TIMEOUT", "240"))
# What a redraw may take (the marker's "(… ms, … ms CPU)"); both are reported. Issue 33: a redraw above 0.5 s fails.
# The wall time also counts other programs on a shared machine (574-818 ms at load 4-5 for a redraw using 130-230 ms of
# CPU), so a move whose redraw is slower than the bound is repeated, up to REDRAW_RETRIES times, and the fastest of
# them must be within it: an app that cannot follow the slider is slow every time, a busy moment only once. Every
# redraw's CPU time (the kernel's drawing thread) must be within the bound too. The tight targets live in
# benchmarks/slider_latency.py and ode_slider_latency.py.
REDRAW_LIMIT_MS = int(os.environ.get("RESNET_EDU_E2E_REDRAW_LIMIT_MS", "500"))
REDRAW_CPU_LIMIT_MS = int(os.environ.get("RESNET_EDU_E2E_REDRAW_CPU_LIMIT_MS", "500"))
REDRAW_RETRIES = int(os.environ.get("RESNET_EDU_E2E_REDRAW_RETRIES", "3"))

LESSONS = [
    Lesson("03b_gradient_norms.ipynb", parameter="depth"),
    Lesson("05_ode_view.ipynb", parameter="steps"),
]

# (name, server fixture, page class): JupyterLab 4 + ipywidgets 8, then Colab's versions in the classic Notebook.
FRONT_ENDS = {
    "lab4-ipywidgets8": ("lab_server", LessonPage),
    "notebook6-ipywidgets7": ("colab_server", ClassicPage),
}


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.stem for lesson in LESSONS])
@pytest.mark.parametrize("front_end", list(FRONT_ENDS))
def test_slider_redraws_the_plot_for_the_new_value(front_end: str, lesson: Lesson, request, browser, artifacts,
                                                  screenshots, walkthroughs) -> None:
    source = NOTEBOOKS / lesson.notebook
    if not source.exists():
        pytest.fail(f"[{lesson.notebook}] lesson missing: {source} does not exist", pytrace=False)
    fixture, page_class = FRONT_ENDS[front_end]
    server = request.getfixturevalue(fixture)
    shutil.copy2(source, server.root_dir / "notebooks" / lesson.notebook)  # a scratch copy: the checkout stays clean

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = page_class(context.new_page(), server, lesson, artifacts)
    start, failed = time.monotonic(), ""
    try:
        page.open()
        page.wait_for_idle_kernel()
        page.click_run_all()
        run_seconds = page.wait_for_run_all(timeout=RUN_TIMEOUT)
        first = page.wait_for_widget()

        def until_fast(before, move, shot: str) -> list:
            """Make the move (it returns how it is named) and wait for its redraw; while the redraw is slower than
            the bound, make the move again, up to REDRAW_RETRIES times (a busy moment on a shared machine)."""
            states = [page.expect_redraw(before, move(), shot)]
            while ((states[-1].redraw_ms is None or states[-1].redraw_ms > REDRAW_LIMIT_MS)
                   and len(states) <= REDRAW_RETRIES):
                states.append(page.expect_redraw(states[-1], f"{move(again=True)}, again", f"{shot}-{len(states)}"))
            return states

        def arrows(again: bool = False) -> str:
            key = page.arrow_key_away_from_the_end()
            times = 1 if again else 2
            page.press_arrows(key, times=times)
            return f"keyboard ({key} ×{times})"

        def drag(again: bool = False) -> str:
            page.drag_across()  # to the other side of the track each time
            return "mouse drag"

        keyboard = until_fast(first, arrows, "2-keyboard")
        dragged = until_fast(keyboard[-1], drag, "3-drag")
    except StepFailed as failure:
        failed = str(failure)
    except Exception as error:  # a browser error outside the polling loops: still name the step
        failed = str(page.fail(page.step, f"{type(error).__name__}: {error}"))
    finally:
        screenshots.extend(page.screenshots)
        context.close()
        server.shutdown_kernels()  # the next lesson gets the CPU to itself
    if failed:  # outside the except block, so pytest prints the step's message alone, not a chained traceback
        pytest.fail(failed, pytrace=False)

    values = [first.value, keyboard[0].value, dragged[0].value]
    assert len(set(values)) == 3, f"[{lesson.notebook}] the slider visited {values}: expected three values"
    redraws = {"keyboard": keyboard, "mouse drag": dragged}

    def said(states) -> str:
        return " then ".join(f"{s.redraw_ms} ms, {s.redraw_cpu_ms} ms CPU (on the page {s.seen_s:.2f} s after the "
                             f"input)" for s in states)

    times = ", ".join(f"{how} {said(states)}" for how, states in redraws.items())
    walkthroughs.append(
        f"{front_end} {lesson.notebook}: {lesson.parameter} {first.value} → {keyboard[0].value} (keyboard, ×2) → "
        f"{dragged[0].value} (mouse drag), each redrawn for its value; redraw {times}; Run All Cells "
        f"{run_seconds:.0f} s, whole lesson {time.monotonic() - start:.0f} s"
    )
    for how, states in redraws.items():  # issue 33: a loose bound for shared machines; benchmarks/ hold the tight ones
        for state in states:
            assert state.redraw_ms is not None and state.redraw_cpu_ms is not None, (
                f"[{lesson.notebook}] the marker after the {how} shows no redraw time")
            assert state.redraw_cpu_ms <= REDRAW_CPU_LIMIT_MS, (
                f"[{lesson.notebook}] the redraw after the {how} used {state.redraw_cpu_ms} ms of CPU, above "
                f"{REDRAW_CPU_LIMIT_MS} ms")
        fastest = min(state.redraw_ms for state in states)
        assert fastest <= REDRAW_LIMIT_MS, (
            f"[{lesson.notebook}] every redraw after a {how} took more than {REDRAW_LIMIT_MS} ms "
            f"({', '.join(str(s.redraw_ms) for s in states)} ms in {len(states)} tries)")
