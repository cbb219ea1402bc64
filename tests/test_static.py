"""resnet_edu.static (issue 24): slider apps as static pages for the web book; and tools/book.py's pure parts."""

import re
import sys
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

import ipywidgets as W  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402

from resnet_edu import static, widgets  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import book_outputs  # noqa: E402

import book  # noqa: E402


def _render(k, on=False):
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, k + 1], [0, (k + 1) * (2 if on else 1)], color="red" if on else "blue")
    return fig


def _app(value=2):
    controls = {"k": W.IntSlider(value=value, min=0, max=8, step=2, description="k"), "on": W.Checkbox(value=False)}
    return widgets.SliderApp(controls, _render, title="test app")


@pytest.mark.parametrize("value, expected", [("", False), ("0", False), ("no", False), ("1", True), ("true", True)])
def test_enabled_reads_the_switch(monkeypatch, value, expected):
    monkeypatch.setenv(static.ENV, value)
    assert static.enabled() is expected


def test_enabled_rejects_other_values(monkeypatch):
    monkeypatch.setenv(static.ENV, "maybe")
    with pytest.raises(ValueError, match="RESNET_EDU_STATIC must be 1"):
        static.enabled()


def test_controls_are_read_generically():
    slider = static.control_of("depth", W.IntSlider(value=20, min=8, max=32, step=6))
    assert (slider.kind, slider.values, slider.initial) == ("range", (8, 14, 20, 26, 32), 2)
    box = static.control_of("bn", W.Checkbox(value=True, description="BatchNorm"))
    assert (box.kind, box.values, box.initial, box.label) == ("checkbox", (False, True), 1, "BatchNorm")
    toggle = static.control_of("kind", W.ToggleButtons(options=[("plain", False), ("residual", True)], value=True))
    assert (toggle.kind, toggle.values, toggle.labels, toggle.initial) == ("select", (False, True),
                                                                          ("plain", "residual"), 1)
    with pytest.raises(TypeError, match="FloatSlider"):
        static.control_of("x", W.FloatSlider())


def test_reachable_is_every_state_when_few_and_the_nearest_ones_when_many():
    small = [static.control_of("k", W.IntSlider(value=0, min=0, max=3)), static.control_of("b", W.Checkbox())]
    states, total = static.reachable(small)
    assert total == 8 and len(states) == 8
    boxes = [static.control_of(f"b{i}", W.Checkbox()) for i in range(8)]  # 256 states
    states, total = static.reachable(boxes, limit=40)
    assert total == 256 and len(states) == 1 + 8 + 28, "every set of at most two ticked boxes"
    assert all(sum(s) <= 2 for s in states) and (0,) * 8 in states
    states, _ = static.reachable(boxes, limit=5)
    assert states == [(0,) * 8], "at least the initial state"
    many = [static.control_of(f"b{i}", W.Checkbox(value=i == 0)) for i in range(40)]  # 2**40 states
    states, total = static.reachable(many)
    assert total == 2**40 and len(states) == 1 + 40 and (1,) + (0,) * 39 in states, "never enumerates them all"
    with pytest.raises(ValueError, match="limit must be a positive int"):
        static.reachable(boxes, limit=0)


def test_render_page_holds_every_state_and_shows_the_initial_one():
    app = _app()
    page, rendered, total = static.render_page(app)
    assert (rendered, total) == (10, 10)
    keys = re.findall(r'data-key="([^"]+)"', page)
    assert sorted(keys) == sorted(f"{k}-{b}" for k in range(5) for b in range(2))
    visible = re.findall(r'<img data-key="([^"]+)" alt="([^"]+)" style="max-width:100%" src=', page)
    assert visible == [("1-0", "rendered k=2 on=False")], "only the initial state is visible at first"
    assert app.last_marker == "rendered k=2 on=False"
    assert len(set(re.findall(r"base64,([^\"]+)", page))) == 10, "each state has its own figure"
    assert "<script>" in page and "src=\"http" not in page and "<script src" not in page, "no external script"
    assert 'type="range"' in page and 'min="0" max="8" step="2" value="2"' in page and 'type="checkbox"' in page


def test_small_png_is_smaller_and_still_a_png():
    fig = _render(3, True)
    app = _app()
    png = app._image(fig).data
    small = static.small_png(png)
    assert small[:8] == b"\x89PNG\r\n\x1a\n" and len(small) <= len(png)


def test_show_is_static_under_the_switch_and_live_without(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *objs, **kw: shown.extend(objs))
    monkeypatch.setenv(static.ENV, "1")
    app = _app()
    assert app.show() is app
    assert len(shown) == 1 and "resnet-edu-static" in shown[0].data
    monkeypatch.delenv(static.ENV)
    shown.clear()
    app.show()
    assert shown[0] is app.widget, "without the switch the live ipywidgets app is displayed"


def test_book_lesson_table_links_to_pages():
    table = book.lesson_table()
    assert "| notebook |" in table and "](notebooks/" not in table
    for stem in (p.stem for p in book.lessons()):
        assert f"]({stem}.ipynb)" in table, f"README's lesson table has no row for {stem}"


def test_book_reuses_only_a_matching_static_cpu_execution(tmp_path):
    source = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    saved = tmp_path / "x.ipynb"
    assert book.reusable(saved, source) == "no saved execution"
    done = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    done.metadata[book_outputs.KEY] = {"fingerprint": book_outputs.fingerprint(source), "static": "1", "scale": "cpu"}
    nbformat.write(done, str(saved))
    assert book.reusable(saved, source) == ""
    edited = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 2")])
    assert "older version" in book.reusable(saved, edited)
    done.metadata[book_outputs.KEY]["static"] = ""
    nbformat.write(done, str(saved))
    assert "RESNET_EDU_STATIC=1" in book.reusable(saved, source)


def test_book_refuses_errors_tracebacks_and_live_apps():
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="❌ wrong", traceback=[]),
                    nbformat.v4.new_output("stream", name="stderr", text="Traceback (most recent call last):\n"),
                    nbformat.v4.new_output("display_data", data={"text/plain": "VBox(children=(HTML(value=''),))"})]
    found = book.errors(nbformat.v4.new_notebook(cells=[cell]))
    assert len(found) == 3 and "AssertionError" in found[0] and "live widget" in found[2]


def test_book_execution_fails_on_a_failed_check_cell(tmp_path):
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("assert 1 + 1 == 3, '❌ not what you saw'")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    with pytest.raises(CellExecutionError, match="not what you saw"):
        book.execute(nb, tmp_path / "x.ipynb")


def test_nbval_plugin_saves_passing_notebooks_with_outputs_and_not_failing_ones(tmp_path):
    import os
    import subprocess

    ok = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# ok"),
                                         nbformat.v4.new_code_cell("print(6 * 7)")])
    bad = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("assert False, '❌'"),
                                          nbformat.v4.new_code_cell("print('after')")])
    for name, nb in (("ok.ipynb", ok), ("bad.ipynb", bad)):
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, str(tmp_path / name))
    out = tmp_path / "executed"
    out.mkdir()
    (out / "bad.ipynb").write_text("stale")
    env = {**os.environ, "RESNET_EDU_STATIC": "1", "RESNET_EDU_SCALE": "cpu"}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "tools.book_outputs", "--book-outputs", str(out),
                          "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider", str(tmp_path / "ok.ipynb"),
                          str(tmp_path / "bad.ipynb")], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert "1 failed" in run.stdout, run.stdout[-2000:]
    assert not (out / "bad.ipynb").exists(), "a notebook with a failed cell is not saved (and a stale copy goes)"
    saved = nbformat.read(str(out / "ok.ipynb"), as_version=4)
    assert saved.cells[1].outputs[0]["text"] == "42\n" and saved.cells[1].execution_count == 1
    assert book.reusable(out / "ok.ipynb", ok) == ""
