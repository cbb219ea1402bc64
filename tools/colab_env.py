"""The Colab-like test environment of ``make test`` (issue 12).

``build``      creates ``.venv-colab``: Colab's preinstalled versions (tests/colab/constraints.txt, with the date it
               was taken) of the kernel side, the lessons' libraries and the classic Notebook; torch and
               torchvision are *linked* from the main venv (no second multi-GB install); a kernel named
               ``resnet-edu-colab`` whose start-up imports a stand-in ``google.colab`` (tests/colab/stand_in/), so
               every notebook's set-up cell takes its Colab branch. The ``pip freeze`` after the build is the
               baseline that ``notebooks`` goes back to.
``notebooks``  goes back to the baseline, runs every notebook under nbval in that kernel with
               ``RESNET_EDU_SOURCE`` set to this checkout (the set-up cell installs from it), and fails unless the
               set-up cell's ``pip freeze`` diff is additions only. The freezes and the diff go to artifacts/colab/.

    python tools/colab_env.py build --venv .venv-colab --torch-from .venv
    python tools/colab_env.py notebooks --venv .venv-colab [extra pytest arguments]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLAB = REPO / "tests" / "colab"
CONSTRAINTS = COLAB / "constraints.txt"
REQUIREMENTS = COLAB / "requirements.txt"
STAND_IN = COLAB / "stand_in"
ARTIFACTS = REPO / "artifacts" / "colab"
KERNEL = "resnet-edu-colab"
BASELINE = "colab-baseline.txt"
# Linked from the main venv instead of installed: torch's stack, gigabytes of CUDA libraries included.
LINKED = re.compile(r"^(torch|torchvision|triton|nvidia-.*|cuda-.*)$")


def site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3*/site-packages"))
    if not found:
        raise SystemExit(f"{venv} has no lib/python3*/site-packages: is it a virtual environment?")
    return found[0]


def run(*command: str | Path, **kwargs) -> subprocess.CompletedProcess:
    print("+", " ".join(str(c) for c in command), flush=True)
    return subprocess.run([str(c) for c in command], check=True, **kwargs)


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def link_torch(source: Path, target: Path) -> list[str]:
    """Symlink torch, torchvision and their binary stack (triton, nvidia-*, cuda-*) from ``source`` into
    ``target`` (both site-packages), dist-info included, so pip sees them installed. Returns their requirements
    that are not linked (pure-Python ones such as sympy), for pip to install at Colab's versions."""
    source = source.resolve()  # a relative link would point into the wrong folder (and dangle)
    linked, wanted = set(), []
    dists = [d for d in metadata.distributions(path=[str(source)]) if LINKED.match(normalized(d.metadata["Name"]))]
    if not any(normalized(d.metadata["Name"]) == "torch" for d in dists):
        raise SystemExit(f"no torch in {source}: build the main venv first (make setup)")
    for dist in dists:
        linked.add(normalized(dist.metadata["Name"]))
        for entry in {Path(f).parts[0] for f in dist.files or [] if not str(f).startswith("..")}:
            if entry == "__pycache__" or (target / entry).is_symlink() or (target / entry).exists():
                continue
            (target / entry).symlink_to(source / entry)
        wanted += dist.requires or []
    from packaging.requirements import Requirement  # pip's own dependency, in every venv with pip

    extra_free = [Requirement(r) for r in wanted]
    return sorted({f"{r.name}{r.specifier}" for r in extra_free if normalized(r.name) not in linked
                   and (r.marker is None or r.marker.evaluate({"extra": ""}))})


def build(venv: Path, torch_from: Path) -> None:
    start = time.monotonic()
    if venv.exists():
        shutil.rmtree(venv)
    run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    versions = [subprocess.run([str(p), "-c", "import sys; print(sys.version_info[:2])"], capture_output=True,
                               text=True, check=True).stdout for p in (python, torch_from / "bin" / "python")]
    if versions[0] != versions[1]:
        raise SystemExit(f"{venv} runs Python {versions[0].strip()} but {torch_from} {versions[1].strip()}: "
                         "torch can only be linked between venvs of the same Python version")
    run(python, "-m", "pip", "install", "-qq", "-c", CONSTRAINTS, "pip")  # Colab's pip (its resolver too)
    extra = link_torch(site_packages(torch_from), site_packages(venv))
    run(python, "-m", "pip", "install", "-qq", "-c", CONSTRAINTS, "-r", REQUIREMENTS, *extra)
    startup = venv / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-google-colab.py").write_text(
        "import google.colab  # the stand-in from tests/colab/stand_in: notebooks take their Colab branch\n")
    spec = venv / "share" / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python.absolute()), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (Colab-like)",
        "language": "python",
        "env": kernel_env(venv),
    }, indent=1))
    check = subprocess.run([str(python), "-m", "pip", "check"], capture_output=True, text=True)
    print("pip check:", check.stdout.strip() or check.stderr.strip())
    (venv / BASELINE).write_text(freeze(venv))
    print(f"Colab-like environment {venv} built in {time.monotonic() - start:.0f} s; its packages:")
    print(freeze(venv))


def kernel_env(venv: Path) -> dict[str, str]:
    """What makes a kernel Colab-like: the stand-in on the path, imported by an IPython start-up file."""
    return {"PYTHONPATH": str(STAND_IN), "IPYTHONDIR": str((venv / "ipython").absolute())}


def freeze(venv: Path) -> str:
    return subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "freeze", "--all"], capture_output=True,
                          text=True, check=True).stdout


def parse_freeze(text: str) -> dict[str, str]:
    """``pip freeze`` lines by normalized name: ``{"torchviz": "torchviz==0.0.3", ...}``."""
    lines = (line.strip() for line in text.splitlines())
    return {normalized(re.split(r"\s*(?:==|@)\s*", line, maxsplit=1)[0]): line
            for line in lines if line and not line.startswith("#")}


def freeze_diff(before: str, after: str) -> tuple[list[str], list[str], list[str]]:
    """(added, removed, changed) lines between two ``pip freeze`` outputs."""
    old, new = parse_freeze(before), parse_freeze(after)
    added = [new[n] for n in sorted(new.keys() - old.keys())]
    removed = [old[n] for n in sorted(old.keys() - new.keys())]
    changed = [f"{old[n]} -> {new[n]}" for n in sorted(old.keys() & new.keys()) if old[n] != new[n]]
    return added, removed, changed


def reset(venv: Path) -> None:
    """Uninstall what the last run's set-up cells added, so that the next run installs it again."""
    baseline = venv / BASELINE
    if not baseline.exists():
        raise SystemExit(f"{venv} was not built by `tools/colab_env.py build` (no {BASELINE})")
    added, removed, changed = freeze_diff(baseline.read_text(), freeze(venv))
    if removed or changed:
        raise SystemExit(f"{venv} no longer matches its baseline (removed {removed}, changed {changed}): "
                         f"rebuild it with `rm -rf {venv} && make colab-env`")
    if added:
        run(venv / "bin" / "python", "-m", "pip", "uninstall", "--quiet", "--yes",
            *(re.split(r"\s*(?:==|@)\s*", line)[0] for line in added))


def notebooks(venv: Path, pytest_args: list[str]) -> int:
    reset(venv)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    before = freeze(venv)
    (ARTIFACTS / "freeze-before.txt").write_text(before)
    env = {**os.environ, "JUPYTER_PATH": str(venv.absolute() / "share" / "jupyter"),
           "RESNET_EDU_SOURCE": str(REPO)}
    env.pop("PYTHONPATH", None)  # the kernel must import resnet_edu from what the set-up cell installed
    tests = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", f"--nbval-kernel-name={KERNEL}",
                            *(pytest_args or ["notebooks/"])], env=env, cwd=REPO)
    after = freeze(venv)
    (ARTIFACTS / "freeze-after.txt").write_text(after)
    added, removed, changed = freeze_diff(before, after)
    report = "\n".join([f"+ {a}" for a in added] + [f"- {r}" for r in removed] + [f"~ {c}" for c in changed])
    (ARTIFACTS / "setup-cell-freeze.diff").write_text(report + "\n")
    print(f"\npip freeze diff of the set-up cells in the Colab-like env ({ARTIFACTS / 'setup-cell-freeze.diff'}):")
    print(report or "(nothing installed)")
    if removed or changed:
        print("FAILED: the set-up cell must only add packages; it removed or changed the ones marked - and ~")
        return 1
    if not any(parse_freeze(a).keys() & {"resnet-edu"} for a in added):
        print("FAILED: no set-up cell installed resnet-edu (did every notebook skip its Colab branch?)")
        return 1
    return tests.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["build", "notebooks", "freeze"])
    parser.add_argument("--venv", type=Path, default=REPO / ".venv-colab")
    parser.add_argument("--torch-from", type=Path, default=REPO / ".venv")
    args, rest = parser.parse_known_args(argv)
    if args.command == "build":
        build(args.venv, args.torch_from)
        return 0
    if args.command == "freeze":
        print(freeze(args.venv), end="")
        return 0
    return notebooks(args.venv, rest)


if __name__ == "__main__":
    sys.exit(main())
