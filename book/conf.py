"""Sphinx configuration of the web book (issue 24): ``make book`` (``tools/book.py``) writes the source folder
(the executed lessons and an index) and runs Sphinx with this file. Nothing is fetched at build or view time:
notebooks are not executed by Sphinx (tools/book.py hands them over executed), and MathJax is served from the
site itself (sphinx-mathjax-offline)."""

import re
from pathlib import Path

_init = (Path(__file__).resolve().parents[1] / "resnet_edu" / "__init__.py").read_text()
REPO_URL = re.search(r'^REPO_URL = "([^"]+)"', _init, re.M).group(1)

project = "resnet-edu"
author = "resnet-edu contributors"
html_title = "resnet-edu: ResNets, explained by running them"
extensions = ["myst_nb", "sphinx-mathjax-offline"]
myst_enable_extensions = ["dollarmath", "amsmath"]
nb_execution_mode = "off"  # tools/book.py executes (or reuses nbval's execution) and fails on any cell error
nb_merge_streams = True
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
html_theme = "sphinx_book_theme"
html_theme_options = {
    "repository_url": REPO_URL,
    "use_repository_button": True,
    "use_download_button": False,  # each page links its own .ipynb (the committed notebook, without outputs)
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
}
html_static_path: list = []
html_show_sourcelink = False
html_copy_source = False
# Live widgets (tqdm's progress bars) need a kernel or saved widget state and scripts from a CDN: the book shows
# their text instead, and loads no widget script. The lessons' sliders are static HTML there (resnet_edu.static).
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]
nb_ipywidgets_js: dict = {}
# The figures are drawn on white: the light theme by default (an empty mode is a console error in the theme).
html_context = {"default_mode": "light"}
