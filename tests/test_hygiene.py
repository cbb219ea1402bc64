"""Project hygiene: notebooks committed clean and in the lesson skeleton; requirements agree with environment.yml."""

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import colab  # noqa: E402  (tools/colab.py: the set-up cell and the badge, one place for both)

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]*_*.ipynb"))
NUMBER = re.compile(r"\d\d[a-z]?(?=_)")  # a lesson's number: two digits and an optional letter (03, 03b)


def lesson_number(name: str) -> str:
    """"03" for ``03_gradient_path.ipynb``, "03b" for ``03b_gradient_norms.ipynb``."""
    return NUMBER.match(name).group(0)


def requirement_lines(path: Path) -> set[str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return {line.replace(" ", "") for line in lines if line and not line.startswith("-r")}


def test_there_are_lessons():
    assert NOTEBOOKS, "no notebooks/NN_*.ipynb found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stripped(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name} cell {i} has outputs: strip them before committing"
            assert cell.get("execution_count") is None, f"{path.name} cell {i} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_starts_with_the_skeleton(path):
    """Cell 1: '# NN · Title' with the Colab badge; cell 2: the one shared set-up cell of tools/colab.py, word for
    word, so that every lesson (present and future) installs and starts the same way (issue 12)."""
    cells = json.loads(path.read_text())["cells"]
    title, setup = cells[0], cells[1]
    text = "".join(title["source"])
    assert title["cell_type"] == "markdown" and re.match(rf"# {lesson_number(path.name)} · ", text), (
        "cell 1: '# NN · Title'")
    repo = colab.current_repo()
    badge = colab.badge(repo, path.name)
    fix = "run `make colab-links` (tools/colab.py), which writes the badge and the set-up cell into every notebook"
    assert badge in text, f"cell 1 of {path.name} needs the Open-in-Colab badge {badge}: {fix}"
    assert setup["cell_type"] == "code" and "".join(setup["source"]) == colab.setup_cell(repo), (
        f"cell 2 of {path.name} is not the shared set-up cell of tools/colab.py: {fix}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_check_cells_and_exercises(path):
    cells = json.loads(path.read_text())["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    assert any("assert " in c or "expect(" in c for c in code), f"{path.name} has no check cell (assert/expect)"
    if path.name != "00_start_here.ipynb":
        assert sum("edu.exercises.check_" in c for c in code) >= 2, f"{path.name} needs >= 2 exercise checkers"
        hidden = [c for c in cells if c.get("metadata", {}).get("jupyter", {}).get("source_hidden")]
        assert hidden, f"{path.name} needs a collapsed solutions cell"
        assert all(c["metadata"]["jupyter"].get("outputs_hidden") for c in hidden), "collapse outputs too"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_check_cells_read_like_a_lesson(path):
    """Issue 27: one to three assertions per check cell (the other bounds live in tests/)."""
    import re

    cells = json.loads(path.read_text())["cells"]
    for cell in cells:
        source = "".join(cell["source"]) if cell["cell_type"] == "code" else ""
        n = len(re.findall(r"(?m)^\s*assert\b|\bexpect\(", source))
        assert n <= 3, f"{path.name}, cell {cell.get('id')}: {n} assertions; a check cell holds one to three"


def test_requirements_agree_with_environment_yml():
    wanted = requirement_lines(ROOT / "requirements.txt") | requirement_lines(ROOT / "requirements-dev.txt")
    env = (ROOT / "environment.yml").read_text().split("- pip:", 1)[1]
    pip_lines = {m.replace(" ", "") for m in re.findall(r"^\s+- (\S[^\n#]*?)\s*$", env, re.M)}
    assert wanted == pip_lines, (
        f"environment.yml's pip list and requirements*.txt differ: only in requirements {sorted(wanted - pip_lines)}, "
        f"only in environment.yml {sorted(pip_lines - wanted)}"
    )


def test_no_hard_pins():
    for name in ("requirements.txt", "requirements-dev.txt"):
        pins = [r for r in requirement_lines(ROOT / name) if "==" in r]
        assert not pins, f"{name} hard-pins {pins}: use ranges (hard pins break on Colab)"


# --- names in docstrings and notebooks point at things that exist -------------------------------------------------

SOURCES = sorted((ROOT / "resnet_edu").rglob("*.py"))
LESSON_NAME = re.compile(r"\b[Ll]essons?\s+(\d\d[a-z]?(?:\s*(?:,|and|or|–|-|to)\s*\d\d[a-z]?)*)\b")
# Lessons of DESIGN.md's lesson map being written now: text may announce them before their notebook lands; once
# notebooks/NN_*.ipynb exists it is checked like every other lesson. Delete an entry when its notebook has landed.
IN_PROGRESS: set[str] = set()
ROLE = re.compile(r":(?:func|class|meth|data|attr|mod):`~?([\w.]+)`")


def named_lessons(text: str) -> set[str]:
    """The lesson numbers in "lesson 03", "lesson 03b", "lessons 02 and 03", "lessons 01–05" (ranges of two-digit
    numbers expanded)."""
    found = set()
    for match in LESSON_NAME.finditer(text):
        parts = re.split(r"\s*(,|and|or|–|-|to)\s*", match.group(1))
        numbers, separators = parts[0::2], parts[1::2]
        found.update(numbers)
        for a, sep, b in zip(numbers, separators, numbers[1:]):
            if sep in ("–", "-", "to") and a.isdigit() and b.isdigit():
                found.update(f"{i:02d}" for i in range(int(a), int(b) + 1))
    return found


def notebook_text(path: Path) -> str:
    return "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])


def test_named_lessons_parse():
    assert named_lessons("lesson 03; lessons 01–04 and 06; Lessons 02, 05") == {"01", "02", "03", "04", "05", "06"}
    assert named_lessons("lesson 03b; lessons 03 and 03b") == {"03", "03b"}


@pytest.mark.parametrize("path", SOURCES + NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_lesson_named_exists(path):
    existing = {lesson_number(p.name) for p in (ROOT / "notebooks").glob("[0-9][0-9]*_*.ipynb")}  # read at test time
    text = notebook_text(path) if path.suffix == ".ipynb" else path.read_text()
    missing = named_lessons(text) - existing - IN_PROGRESS
    assert not missing, f"{path.name} names lesson(s) {sorted(missing)}, but there is no notebooks/NN_*.ipynb for them"


def _resolve(name: str, module: object) -> bool:
    """Whether a Sphinx role's target exists: absolute, relative to the module, to the package, or a member of one
    of the module's classes (``:meth:`draw``` inside a class docstring)."""
    import importlib
    import inspect

    for dotted in (name, f"{module.__name__}.{name}", f"resnet_edu.{name}"):
        parts = dotted.split(".")
        for i in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:i]))
            except ImportError:
                continue
            try:
                for part in parts[i:]:
                    obj = getattr(obj, part)
                return True
            except AttributeError:
                break
    classes = [c for _, c in inspect.getmembers(module, inspect.isclass)]
    return "." not in name and any(hasattr(c, name) for c in classes)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_docstrings_name_things_that_exist(path):
    import importlib

    dotted = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    module = importlib.import_module(dotted)
    gone = [name for name in ROLE.findall(path.read_text()) if not _resolve(name, module)]
    assert not gone, f"{path.name} names {gone}, which do not exist (renamed or deleted?)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_call_what_exists(path):
    import resnet_edu as edu

    text = notebook_text(path)
    names = set(re.findall(r"\bedu\.(\w+(?:\.\w+)*)", text))
    for alias, module in re.findall(r"^(\w+) = edu\.(\w+(?:\.\w+)?)$", text, flags=re.M):  # V = edu.lessons.X
        names.update(f"{module}.{name}" for name in re.findall(rf"(?<![\w.]){alias}\.(\w+(?:\.\w+)*)", text))
    gone = []
    for name in names:
        obj = edu
        for part in name.split("."):
            if not hasattr(obj, part):
                gone.append(name)
                break
            obj = getattr(obj, part)
    assert not gone, f"{path.name} uses edu.{gone}, which do not exist"


def test_notebook_aliases_are_resolved_too():
    # lesson 07 writes `V = edu.lessons.lesson07_variants` and then `V.block(...)`: those names must exist as well
    text = notebook_text(ROOT / "notebooks" / "07_variants.ipynb")
    assert re.search(r"^V = edu\.lessons\.lesson07_variants$", text, flags=re.M), \
        "lesson 07 no longer aliases its module as V"


# --- core vs lessons: the toolkit never imports a lesson ---------------------------------------------------------

def _unit(parts: list[str]) -> str:
    """What the import rule is about: ``lessons.lesson01_degradation`` for a lesson module, else the top module."""
    if parts[0] == "lessons" and len(parts) > 1 and parts[1] != "__init__":
        return f"lessons.{parts[1]}"
    return parts[0]


def imported_modules(path: Path, package_root: Path = ROOT) -> set[str]:
    """Every ``resnet_edu`` module a file imports, anywhere in it (top level or inside a function), as its unit
    (:func:`_unit`): ``from .. import nets`` in ``resnet_edu/train/loop.py`` → "nets", ``import resnet_edu.viz`` →
    "viz", ``from ..lessons.lesson05_ode_view import FlowResult`` → "lessons.lesson05_ode_view"."""
    import ast

    package = list(path.relative_to(package_root).with_suffix("").parts[:-1])  # e.g. ["resnet_edu", "train"]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name.split(".") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = base + (node.module.split(".") if node.module else [])
            targets = [module + [alias.name] for alias in node.names]
        else:
            continue
        for parts in targets:
            if parts[:1] == ["resnet_edu"] and len(parts) > 1:
                found.add(_unit(parts[1:]))
    return found


def _module_unit(path: Path) -> str:
    return _unit(list(path.relative_to(ROOT / "resnet_edu").with_suffix("").parts))


def _is_lesson(unit: str) -> bool:
    return unit.startswith("lessons") or unit == "exercises"


def test_the_rule_is_the_folder():
    """No list of core modules to keep in step: everything outside lessons/ and exercises/ is core (issue 27)."""
    import resnet_edu as edu

    modules = {_module_unit(p) for p in SOURCES} - {"__init__"}
    assert not hasattr(edu, "CORE") and not hasattr(edu, "LESSONS"), "the rule is the folder, not a tuple"
    assert {m for m in modules if not m.startswith("_") and "." not in m} <= set(edu.__all__)
    assert {"lessons", "exercises", "nets", "gradients", "train"} <= set(edu.__all__)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_core_never_imports_a_lesson(path):
    if _is_lesson(_module_unit(path)):
        return
    leaks = {m for m in imported_modules(path) if _is_lesson(m)}
    assert not leaks, (f"{path.relative_to(ROOT)} is core but imports the lesson module(s) {sorted(leaks)}; move what "
                       "it needs down into a core module (nothing outside resnet_edu/lessons/ imports from it)")


def test_the_import_check_finds_every_kind_of_import(tmp_path):
    pkg = tmp_path / "resnet_edu" / "train"
    pkg.mkdir(parents=True)
    src = pkg / "loop.py"
    src.write_text("import torch\nfrom . import config\nfrom .. import nets\nfrom ..zoo import block\n"
                   "import resnet_edu.viz\nfrom resnet_edu import data as d\n"
                   "def f():\n    from ..lessons.lesson05_ode_view import FlowResult\n"
                   "    from ..lessons import lesson07_variants, lesson06_blocks\n")
    assert imported_modules(src, tmp_path) == {"train", "nets", "zoo", "viz", "data", "lessons.lesson05_ode_view",
                                               "lessons.lesson07_variants", "lessons.lesson06_blocks"}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_lesson_never_imports_another_lesson(path):
    unit = _module_unit(path)
    if not unit.startswith("lessons."):  # the checkers in exercises/lessonNN.py call lesson NN's module
        return
    leaks = {m for m in imported_modules(path) if _is_lesson(m)} - {unit}
    assert not leaks, (f"{path.relative_to(ROOT)} (a lesson) imports {sorted(leaks)}: what two lessons share belongs "
                       "in a core module")



# --- each notebook calls its own lesson; each checker module imports its own lesson ---------------------------

def _lesson_number(unit: str) -> str:
    """"03" for ``lessons.lesson03_gradient_path`` or ``exercises.lesson03``, "03b" for
    ``lessons.lesson03b_gradient_norms`` or ``exercises.lesson03b``."""
    return re.search(r"lesson(\d\d[a-z]?)(?![a-z])", unit).group(1)


def _checker_names(number: str) -> set[str]:
    """What ``edu.exercises`` exports from ``exercises/lessonNN.py``, plus the shared helpers of ``_core``."""
    import importlib

    import resnet_edu.exercises as ex

    module = importlib.import_module(f"resnet_edu.exercises.lesson{number}")
    own = {n for n in ex.__all__ if getattr(getattr(ex, n), "__module__", None) == module.__name__ or n in
           getattr(module, "__all__", ())}
    shared = {n for n in ex.__all__ if getattr(getattr(ex, n), "__module__", "").endswith("exercises._core")}
    return own | shared


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_notebook_calls_only_its_own_lesson(path):
    """Notebook NN uses ``edu.lessons.lessonNN_…`` and core, and only lesson NN's checkers
    (``exercises/lessonNN.py``)."""
    text = notebook_text(path)
    number = lesson_number(path.name)
    lessons = set(re.findall(r"\bedu\.lessons\.(\w+)", text))
    others = sorted(name for name in lessons if not name.startswith(f"lesson{number}_"))
    assert not others, f"{path.name} calls {others}: a notebook calls its own lesson module (lesson{number}_…) and core"
    checkers = set(re.findall(r"\bedu\.exercises\.(\w+)", text))
    foreign = sorted(checkers - _checker_names(number))
    assert not foreign, (f"{path.name} calls edu.exercises.{foreign}, which are not in exercises/lesson{number}.py; "
                         "each notebook uses its own lesson's checkers")


def test_checker_names_are_per_lesson():
    assert "check_bn_plain_direction" in _checker_names("03b")
    assert "check_bn_plain_direction" not in _checker_names("03")
    assert "verdict" in _checker_names("01") and "solution_branch_scale" in _checker_names("03b")
    assert "check_path_count" in _checker_names("03") and "check_path_count" not in _checker_names("03b")


EXERCISES = sorted((ROOT / "resnet_edu" / "exercises").glob("lesson[0-9][0-9]*.py"))


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.name)
def test_a_checker_module_imports_only_its_own_lesson(path):
    number = path.stem.removeprefix("lesson")
    lessons = {m for m in imported_modules(path) if m.startswith("lessons")}
    others = sorted(m for m in lessons if m == "lessons" or _lesson_number(m) != number)
    assert not others, f"exercises/{path.name} imports {others}; it may import lesson {number}'s module and core only"
