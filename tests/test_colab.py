"""Issue 12, Colab for real: requirement ranges that never upgrade what Colab preinstalls, one place for the
repository the lessons point at (badges, set-up cells, README, ``resnet_edu.REPO_URL``), the GPU advice of the set-up
cell, and the pieces of the Colab-like test environment (``make colab-notebooks`` runs the notebooks there)."""

import re
import shutil
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")
from packaging.requirements import Requirement
from packaging.version import Version

import resnet_edu as edu

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import colab  # noqa: E402
import colab_env  # noqa: E402

CONSTRAINTS = ROOT / "tests" / "colab" / "constraints.txt"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]*_*.ipynb"))


def colab_versions() -> dict[str, Version]:
    """Colab's preinstalled versions: the constraint lines, plus the ``colab: name==version`` comment lines of the
    packages the Colab-like env does not constrain (torch, torchvision, setuptools)."""
    found = re.findall(r"^(?:#\s+colab:\s+)?([A-Za-z0-9_.-]+)==(\S+)\s*$", CONSTRAINTS.read_text(), re.M)
    return {colab_env.normalized(name): Version(version) for name, version in found}


def requirements(path: Path) -> list[Requirement]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


def pyproject_dependencies() -> list[Requirement]:
    return [Requirement(r) for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]]


def test_constraints_say_when_and_where_they_were_taken():
    head = CONSTRAINTS.read_text()[:600]
    assert re.search(r"Taken on \d{4}-\d{2}-\d{2} from googlecolab/backend-info", head), head
    versions = colab_versions()
    for name, version in {"ipywidgets": "7.7.1", "ipykernel": "6.17.1", "ipython": "7.34.0", "traitlets": "5.7.1",
                          "jupyter-client": "7.4.9", "torch": "2.11.0", "numpy": "2.1.3"}.items():
        assert versions[name] == Version(version), f"constraints.txt: {name} {versions.get(name)}"


@pytest.mark.parametrize("source", ["requirements.txt", "requirements-dev.txt", "pyproject.toml"])
def test_no_range_upgrades_what_colab_preinstalls(source):
    reqs = pyproject_dependencies() if source == "pyproject.toml" else requirements(ROOT / source)
    versions = colab_versions()
    upgrades = [f"{r} (Colab has {versions[colab_env.normalized(r.name)]})" for r in reqs
                if colab_env.normalized(r.name) in versions
                and not r.specifier.contains(versions[colab_env.normalized(r.name)], prereleases=True)]
    assert not upgrades, f"{source}: these ranges would make pip change Colab's preinstalled packages: {upgrades}"


def test_widgets_range_admits_colab_7_and_current_8():
    (widgets,) = [r for r in pyproject_dependencies() if r.name == "ipywidgets"]
    for version in ("7.7.1", "8.0.0", "8.1.5"):
        assert widgets.specifier.contains(version), f"ipywidgets{widgets.specifier} must admit {version}"
    assert not widgets.specifier.contains("9.0.0")


def test_package_dependencies_are_the_runtime_requirements():
    """What the set-up cell installs on Colab (pyproject's dependencies) is requirements.txt without JupyterLab,
    which only `make lab` needs."""
    runtime = {str(r) for r in requirements(ROOT / "requirements.txt") if r.name != "jupyterlab"}
    assert {str(r) for r in pyproject_dependencies()} == runtime


def test_badges_setup_cells_readme_and_package_agree():
    repo = colab.current_repo()
    assert edu.REPO_URL == f"https://github.com/{repo}"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["urls"]["Repository"] == edu.REPO_URL
    readme = (ROOT / "README.md").read_text()
    assert f"git+{edu.REPO_URL}" in readme and colab.badge(repo, "00_start_here.ipynb") in readme
    texts = {path.name: path.read_text() for path in NOTEBOOKS} | {"README.md": readme}
    for name, text in texts.items():
        for where in re.findall(r"colab\.research\.google\.com/github/([^/]+/[^/]+)/", text):
            assert where == repo, f"{name} has a Colab link to {where}, not {repo}: run `make colab-links`"
        for where in re.findall(r"git\+https://github\.com/([\w.-]+/[\w.-]+)", text):
            assert where == repo, f"{name} installs from {where}, not {repo}: run `make colab-links`"
    assert f'"RESNET_EDU_SOURCE", "git+{edu.REPO_URL}"' in colab.setup_cell(repo)  # test_hygiene: in every notebook


def test_colab_links_points_everything_at_a_fork_and_back(tmp_path):
    for name in (*colab.LINKED_FILES, "notebooks"):
        source, target = ROOT / name, tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(source, target) if source.is_dir() else shutil.copy2(source, target)
    original = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    old = colab.current_repo(tmp_path)

    changed = colab.links("a-teacher/resnet-edu-fork", tmp_path)
    assert {p.name for p in changed} >= {"README.md", "pyproject.toml", "__init__.py", *(p.name for p in NOTEBOOKS)}
    assert colab.current_repo(tmp_path) == "a-teacher/resnet-edu-fork"
    for path in original:
        assert f"github.com/{old}" not in path.read_text(), f"{path.name} still names {old}"
    for path in tmp_path.glob("notebooks/*.ipynb"):
        text = path.read_text()
        assert "colab.research.google.com/github/a-teacher/resnet-edu-fork/blob/main/notebooks/" + path.name in text
        assert "git+https://github.com/a-teacher/resnet-edu-fork\\\"" in text

    colab.links(old, tmp_path)
    assert {p: p.read_bytes() for p in original} == original, "rewriting back must restore every file exactly"


@pytest.mark.parametrize("bad", ["resnet-edu", "https://github.com/a/b", "a/b/c", "-a/b", ""])
def test_colab_links_refuses_what_is_not_owner_slash_name(bad):
    with pytest.raises(SystemExit, match="REPO must be a GitHub owner/name"):
        colab.check_repo(bad)


def test_a_new_notebook_gets_the_badge_and_the_setup_cell(tmp_path):
    import json

    path = tmp_path / "42_new.ipynb"
    cells = [{"cell_type": "markdown", "id": "t", "metadata": {}, "source": ["# 42 · New\n", "\n", "Text."]},
             {"cell_type": "code", "execution_count": None, "id": "c", "metadata": {}, "outputs": [],
              "source": ["import resnet_edu as edu\n", "edu.runtime.describe()"]}]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1))
    assert colab.write_notebook(path, "o/n")
    cells = json.loads(path.read_text())["cells"]
    assert len(cells) == 2 and "".join(cells[1]["source"]) == colab.setup_cell("o/n")
    assert colab.badge("o/n", "42_new.ipynb") in "".join(cells[0]["source"])
    assert not colab.write_notebook(path, "o/n"), "a second run changes nothing"


def test_gpu_advice_on_colab_without_gpu(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", type(sys)("google.colab"))
    monkeypatch.setattr(edu.runtime.torch.cuda, "is_available", lambda: False)
    assert "Runtime → Change runtime type" in edu.runtime.gpu_advice()


def test_gpu_advice_outside_colab_without_gpu_is_silent(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr(edu.runtime.torch.cuda, "is_available", lambda: False)
    assert edu.runtime.gpu_advice() == ""


def test_gpu_advice_names_the_gpu(monkeypatch):
    class Props:
        name, total_memory, major, minor = "Tesla T4", 15 * 2**30, 7, 5

    monkeypatch.setattr(edu.runtime.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(edu.runtime.torch.cuda, "get_device_properties", lambda _: Props)
    first, costs = edu.runtime.gpu_advice().split("\n")
    assert first == "GPU: Tesla T4, 15 GiB, compute capability 7.5"
    assert costs == edu.runtime.SCALE_COSTS and "scale gpu" in costs and "RESNET_EDU_SCALE=paper" in costs


def test_freeze_diff_tells_additions_from_changes():
    before = "numpy==2.1.3\nipywidgets==7.7.1\ntorch @ file:///x\n"
    after = "numpy==2.1.3\nipywidgets==8.1.5\ntorch @ file:///x\nresnet-edu @ file:///repo\ntorchviz==0.0.3\n"
    added, removed, changed = colab_env.freeze_diff(before, after)
    assert added == ["resnet-edu @ file:///repo", "torchviz==0.0.3"]
    assert removed == [] and changed == ["ipywidgets==7.7.1 -> ipywidgets==8.1.5"]


def test_the_stand_in_is_a_google_colab_module():
    stand_in = ROOT / "tests" / "colab" / "stand_in" / "google"
    assert (stand_in / "colab" / "__init__.py").exists() and not (stand_in / "__init__.py").exists(), (
        "google/ must stay a namespace package, so that Colab's google.protobuf etc. still import beside it")
