"""Issue 24: the web book works in a real browser. Headless Chromium opens every page of ``build/book/html/``
(``make book``; ``make e2e`` builds it first), served by a plain static file server, with every request to
another host blocked (the book must need nothing from elsewhere). Per page: no console error, no failed request,
every image loaded, no Python traceback on the page, the Colab badge and the notebook download on each lesson page,
navigation to the next lesson; and each static slider, checkbox or selection of a pre-rendered app
(``resnet_edu.static``) changes the figure when moved, with a screenshot before and after in ``artifacts/book/``.

Lesson pages are discovered from ``notebooks/*.ipynb``, never listed here.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HTML = Path(os.environ.get("RESNET_EDU_BOOK_HTML", REPO / "build" / "book" / "html"))
SHOTS = REPO / "artifacts" / "book"
LESSONS = sorted(p.stem for p in (REPO / "notebooks").glob("[0-9]*.ipynb"))
PAGES = ["index", *LESSONS]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # no line per request in pytest's output
        pass


@pytest.fixture(scope="session")
def book_url() -> Iterator[str]:
    """The built book on http://127.0.0.1:<free port>/, as any static host would serve it."""
    if not (HTML / "index.html").exists():
        pytest.fail(f"the web book is not built: {HTML / 'index.html'} is missing. Build it with `make book`.",
                    pytrace=False)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(HTML)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _visible_figure(app: object) -> tuple[str, str]:
    """(alt text = the state's marker, hash of the image data) of the image an app shows now."""
    shown = app.evaluate("""root => {
        const imgs = [...root.querySelectorAll("img[data-key]")].filter(i => !i.hidden);
        const note = root.querySelector(".resnet-edu-missing");
        return {n: imgs.length, alt: imgs.length ? imgs[0].alt : "", src: imgs.length ? imgs[0].src : "",
                missing: note ? !note.hidden : false};
    }""")
    assert shown["n"] == 1, f"an app shows {shown['n']} figures at once; expected exactly one"
    assert not shown["missing"], "an app says its state is not pre-rendered after a single move"
    return shown["alt"], hashlib.sha1(shown["src"].encode()).hexdigest()


def _move(control: object, page: object) -> str:
    """Move one control the way a reader would; return what was done."""
    kind = control.evaluate("el => el.tagName === 'SELECT' ? 'select' : el.type")
    if kind == "range":
        at_max = control.evaluate("el => Number(el.value) >= Number(el.max)")
        control.focus()
        key = "ArrowLeft" if at_max else "ArrowRight"
        page.keyboard.press(key)
        page.keyboard.press(key)
        return f"{key} ×2"
    if kind == "checkbox":
        control.click()
        return "click"
    count = control.evaluate("el => el.options.length")
    index = control.evaluate("el => el.selectedIndex")
    control.select_option(index=(index + 1) % count)
    return f"select option {(index + 1) % count}"


@pytest.mark.parametrize("name", PAGES)
def test_book_page(name: str, browser, book_url: str, book_report: list[str]) -> None:
    page_file = HTML / f"{name}.html"
    assert page_file.exists(), f"[{name}] the book has no page {page_file.name}: rebuild it with `make book`"
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(book_url)
                  else (problems.append(f"request to another host: {route.request.url}"), route.abort()))
    page = context.new_page()
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error"
            else None)
    page.on("pageerror", lambda error: problems.append(f"JavaScript error: {error}"))
    page.on("requestfailed", lambda req: problems.append(f"failed request: {req.url} ({req.failure})"))
    loaded: list[int] = []  # bytes of every response: the page's weight as a reader's browser fetches it
    page.on("requestfinished", lambda req: loaded.append(req.sizes()["responseBodySize"]))
    page.on("response", lambda res: problems.append(f"HTTP {res.status}: {res.url}") if res.status >= 400
            else None)
    try:
        page.goto(book_url + page_file.name, wait_until="load")
        page.wait_for_function("[...document.images].every(i => i.complete)", timeout=30_000)
        broken = page.evaluate("[...document.images].filter(i => i.naturalWidth === 0)"
                               ".map(i => i.getAttribute('src').slice(0, 80))")
        assert not broken, f"[{name}] images that did not load: {broken}"
        text = page.inner_text("body")
        assert "Traceback (most recent call last)" not in text, f"[{name}] the page shows a Python traceback"
        assert page.locator("div.output.traceback, .output_error").count() == 0, \
            f"[{name}] the page shows an error output"
        images = page.evaluate("document.images.length")
        line = (f"{name}: {sum(loaded) / 1e6:.2f} MB loaded in {len(loaded)} files (HTML "
                f"{page_file.stat().st_size / 1e6:.2f} MB), {images} images")
        if name != "index":
            assert page.locator("a[href^='https://colab.research.google.com/github/']").count() >= 1, \
                f"[{name}] no Open-in-Colab badge on the page"
            download = page.locator("a.download[href$='.ipynb'], a[download][href$='.ipynb']").first
            assert download.count() == 1, f"[{name}] no link to download the .ipynb"
            got = page.request.get(book_url + download.get_attribute("href"))
            assert got.ok and b'"cells"' in got.body(), f"[{name}] the .ipynb download does not serve a notebook"
            if name != LESSONS[-1]:
                assert page.locator("a.right-next").count() == 1, f"[{name}] no link to the next lesson"
        apps = page.locator(".resnet-edu-static")
        moved = []
        for a in range(apps.count()):
            app = apps.nth(a)
            app.scroll_into_view_if_needed()
            controls = app.locator("[data-control]")
            for c in range(controls.count()):
                control = controls.nth(c)
                label = control.get_attribute("data-control")
                before = _visible_figure(app)
                app.screenshot(path=str(SHOTS / f"{name}-app{a}-{label}-before.png"))
                how = _move(control, page)
                after = _visible_figure(app)
                app.screenshot(path=str(SHOTS / f"{name}-app{a}-{label}-after.png"))
                assert after != before and after[1] != before[1], \
                    f"[{name}] moving {label} ({how}) did not change the figure (still {before[0]!r})"
                moved.append(f"{label}: {before[0]!r} → {after[0]!r} ({how})")
        if moved:
            line += f"; {apps.count()} static app(s): " + "; ".join(moved)
        assert not problems, f"[{name}] " + "; ".join(problems)
        book_report.append(line)
    finally:
        context.close()
