"""One place for the repository the lessons point at, and for every notebook's set-up cell (issue 12).

``python tools/colab.py links [owner/name]`` (``make colab-links REPO=owner/name``) points the lessons at a
repository: every "Open in Colab" badge, the set-up cells' default pip source, the README's links,
``resnet_edu.REPO_URL`` and pyproject's URL. Without a repository it keeps the current one and only (re)writes
each notebook's badge and set-up cell — run it after adding a notebook. ``tests/test_colab.py`` checks that
everything agrees.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE_INIT = "resnet_edu/__init__.py"  # where REPO_URL lives; the files below name the repository too
LINKED_FILES = (PACKAGE_INIT, "pyproject.toml", "README.md")
BRANCH = "main"
NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
REPO_URL_LINE = re.compile(r'^REPO_URL = "https://github\.com/([^"]+)"$', re.M)
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
BADGE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\(https://colab\.research\.google\.com/github/[^)]*\)")

# Every notebook's cell 2, word for word (tests/test_hygiene.py requires exactly this text). On Colab it installs
# resnet-edu once per runtime from SOURCE; RESNET_EDU_SOURCE overrides it with any pip source (a fork's
# git+https URL, a local clone's path, a wheel).
SETUP_CELL = """\
# Set-up: on Colab this installs resnet-edu (only what Colab lacks); everywhere it imports it and says where it runs.
import os
import sys
from importlib.util import find_spec
SOURCE = os.environ.get("RESNET_EDU_SOURCE", "git+https://github.com/{repo}")
if "google.colab" in sys.modules and find_spec("resnet_edu") is None:
    %pip install -q "{{SOURCE}}"
import resnet_edu as edu
seed = edu.runtime.seed_everything()  # 0, or RESNET_EDU_SEED: every random draw below derives from it
edu.runtime.describe()"""


def current_repo(root: Path = REPO_ROOT) -> str:
    """``owner/name`` from ``resnet_edu.REPO_URL`` (read as text: the package need not be importable)."""
    found = REPO_URL_LINE.search((root / PACKAGE_INIT).read_text())
    if not found:
        raise SystemExit(f'{PACKAGE_INIT} has no line REPO_URL = "https://github.com/owner/name"')
    return found.group(1)


def setup_cell(repo: str) -> str:
    return SETUP_CELL.format(repo=repo)


def badge(repo: str, notebook: str, branch: str = BRANCH) -> str:
    url = f"https://colab.research.google.com/github/{repo}/blob/{branch}/notebooks/{notebook}"
    return f"[![Open In Colab]({BADGE_IMAGE})]({url})"


def check_repo(repo: str) -> str:
    if not isinstance(repo, str) or not NAME.match(repo):
        raise SystemExit(f"REPO must be a GitHub owner/name such as my-school/resnet-edu; got {repo!r}")
    return repo


def source_lines(text: str) -> list[str]:
    """A cell's source as notebooks store it: lines that keep their newline, the last one without."""
    return text.splitlines(keepends=True)


def write_notebook(path: Path, repo: str) -> bool:
    """Badge in cell 1 (replaced, or added under the title) and the set-up cell as cell 2 (replaced when cell 2
    is a set-up cell, inserted otherwise). Plain JSON in and out, keys in their order, so that nothing else in
    the file changes. Returns whether the file changed."""
    before = path.read_text()
    nb = json.loads(before)
    cells = nb["cells"]
    title = "".join(cells[0]["source"]) if cells and cells[0]["cell_type"] == "markdown" else None
    if title is None:
        raise SystemExit(f"{path.name}: cell 1 must be the markdown title cell ('# NN · Title')")
    wanted = badge(repo, path.name)
    if BADGE.search(title):
        title = BADGE.sub(lambda _: wanted, title, count=1)
    else:
        head, _, rest = title.partition("\n")
        title = f"{head}\n\n{wanted}\n{rest}"
    cells[0]["source"] = source_lines(title)
    setup = source_lines(setup_cell(repo))
    second = cells[1] if len(cells) > 1 else None
    if second is not None and second["cell_type"] == "code" and "import resnet_edu as edu" in "".join(second["source"]):
        second["source"] = setup
    else:
        cells.insert(1, {"cell_type": "code", "execution_count": None, "id": f"setup-{path.stem[:2]}",
                         "metadata": {}, "outputs": [], "source": setup})
    after = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    if after != before:
        path.write_text(after)
    return after != before


def links(new: str | None, root: Path = REPO_ROOT) -> list[Path]:
    """Point everything at ``new`` (owner/name; None keeps the current one). Returns the files changed."""
    old = current_repo(root)
    new = check_repo(new) if new else old
    mention = re.compile(rf"github\.com/{re.escape(old)}(?=[/\")\s#\\]|$)", re.M)  # not github.com/old-other
    notebooks = sorted((root / "notebooks").glob("[0-9][0-9]*_*.ipynb"))
    changed = []
    for path in [*(root / name for name in LINKED_FILES), *notebooks]:
        text = path.read_text()
        if new != old:  # every link, including ones in lesson text
            path.write_text(mention.sub(f"github.com/{new}", text))
        if path.suffix == ".ipynb":
            write_notebook(path, new)
        if path.read_text() != text:
            changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["links"])
    parser.add_argument("repo", nargs="?", help="GitHub owner/name (default: keep the current one)")
    args = parser.parse_args(argv)
    changed = links(args.repo or None)
    repo = current_repo()
    print(f"lessons point at https://github.com/{repo} (badges, set-up cells, README, resnet_edu.REPO_URL)")
    for path in changed:
        print(f"  rewrote {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
