"""Issue 21: one seed switch. Every lesson draws its random numbers from the set-up cell's ``seed``; check cells
report margins (``runtime.expect``) that ``tools/seeds.py`` (``make seeds``) collects over seeds 0-5."""

import ast
import inspect
import json
import math
import re
import sys
from pathlib import Path

import pytest

import resnet_edu as edu
from resnet_edu import runtime

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import seeds  # noqa: E402  (tools/seeds.py)

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]*_*.ipynb"))
SWITCH = {runtime.seed_everything, runtime.lesson_seed}  # the set-up cell's call: the switch itself
# Lessons whose owners are making them seed-robust in parallel (issue 21); delete a number when its lesson lands.
PENDING: set[str] = set()


def _code_cells(path: Path) -> list[tuple[int, str]]:
    cells = json.loads(path.read_text())["cells"]
    out = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            # IPython magics and shell lines are not Python: `pass` in their place, keeping the indentation
            out.append((i, "\n".join(line[:len(line) - len(line.lstrip())] + "pass"
                                     if line.lstrip().startswith(("%", "!")) else line
                                     for line in source.splitlines())))
    return out


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def _resolve(dotted: str, aliases: dict[str, str]) -> object | None:
    head, _, rest = dotted.partition(".")
    dotted = f"{aliases[head]}.{rest}".rstrip(".") if head in aliases else dotted
    if not dotted.startswith("edu."):
        return None
    obj: object = edu
    for part in dotted.split(".")[1:]:
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def seed_problems(cells: list[tuple[int, str]]) -> list[str]:
    """Calls in a lesson's code that draw random numbers outside the seed switch: a literal ``seed=<number>``, or a
    call of an ``edu`` function that takes a ``seed`` and is not given one (it would use its default, 0)."""
    trees = [(i, ast.parse(source)) for i, source in cells]
    aliases = {}  # e.g. S = edu.lessons.lesson04_identity_vs_lambda (lesson 04)
    for _, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                target = _dotted(node.value)
                if target and target.startswith("edu."):
                    aliases[node.targets[0].id] = target
    problems = []
    for i, tree in trees:
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _dotted(node.func) or "?"
            for kw in node.keywords:
                if kw.arg == "seed" and isinstance(kw.value, ast.Constant):
                    problems.append(f"cell {i}: {name}(seed={kw.value.value!r}) — pass seed=seed (or seed + k)")
            func = _resolve(name, aliases) if name != "?" else None
            if func is None or func in SWITCH or not callable(func) or any(kw.arg == "seed" for kw in node.keywords):
                continue
            try:
                params = list(inspect.signature(func).parameters)
            except (TypeError, ValueError):
                continue
            if "seed" in params and params.index("seed") >= len(node.args) and not any(
                    kw.arg is None for kw in node.keywords):
                problems.append(f"cell {i}: {name}(...) takes a seed and is not given one — pass seed=seed")
    return problems


@pytest.mark.parametrize("path", [pytest.param(p, marks=pytest.mark.xfail(
    reason="issue 21: this lesson's owner passes seed= next", strict=False)) if p.name[:2] in PENDING else p
    for p in NOTEBOOKS], ids=lambda p: p.name)
def test_lessons_draw_every_random_number_from_the_seed_switch(path):
    """Static and cheap (no notebook runs): a literal seed or a forgotten ``seed=`` is a random draw that
    ``RESNET_EDU_SEED`` does not reach. Random draws from torch's global stream are seeded by the set-up cell."""
    problems = seed_problems(_code_cells(path))
    assert not problems, f"{path.name} draws random numbers outside the seed switch:\n" + "\n".join(problems)


def test_seed_problems_are_found():
    cells = [(2, "S = edu.lessons.lesson04_identity_vs_lambda\n"
                 "x = edu.lessons.lesson02_identity_mapping.learn_correction(steps=3, seed=0)"),
             (3, "b = S.make_block('module')\nc = S.make_block('module', False, seed)\n"
                 "g = edu.lessons.lesson03b_gradient_norms.mlp_study(depth=4, seed=seed + 1)\nedu.runtime.scale()\n"
                 "seed = edu.runtime.seed_everything()")]
    problems = seed_problems(cells)
    assert len(problems) == 2, problems
    assert "cell 2: edu.lessons.lesson02_identity_mapping.learn_correction(seed=0)" in problems[0]
    assert "cell 3: S.make_block(...) takes a seed and is not given one" in problems[1]


# --- runtime.expect: a check cell's assert with a margin ------------------------------------------------------


def test_expect_returns_the_margin_and_prints_it_only_when_asked(capsys, monkeypatch):
    monkeypatch.delenv(runtime.MARGIN_ENV, raising=False)
    assert runtime.expect("ratio", 3.0, low=2) == pytest.approx(0.5)
    assert runtime.expect("error", 2e-5, high=1e-4) == pytest.approx(0.8)
    assert runtime.expect("both", 5.0, low=4, high=10) == pytest.approx(0.25)
    assert runtime.expect("gap", 0.3, low=0) == pytest.approx(0.3)  # a bound of 0: the plain difference
    assert runtime.expect("decades", 1e3, low=1e2, high=1e4, log=True) == pytest.approx(1.0)
    assert capsys.readouterr().out == ""
    monkeypatch.setenv(runtime.MARGIN_ENV, "1")
    runtime.expect("plain-56 first/last", 1e3, low=1e2, high=1e5, log=True)
    line = capsys.readouterr().out.strip()
    assert line.startswith("margin plain-56 first/last: +1 decades"), line
    assert seeds.parse_margins(line) == {"plain-56 first/last": 1.0}


def test_expect_fails_like_an_assert_with_the_reason(monkeypatch):
    monkeypatch.delenv(runtime.MARGIN_ENV, raising=False)
    with pytest.raises(AssertionError, match=r"one big step should break the flow \(N = 1 accuracy = 0.8; it "
                                             r"should be < 0.75\)"):
        runtime.expect("N = 1 accuracy", 0.8, high=0.75, why="one big step should break the flow")
    with pytest.raises(AssertionError):
        runtime.expect("on the bound", 2.0, low=2.0)  # the bound itself fails: the claim is strict
    with pytest.raises(AssertionError):
        runtime.expect("ratio", 0.0, low=1e2, log=True)
    assert runtime.expect("loss fell to exactly 0", 0.0, high=1e-4, log=True) == math.inf  # below any ceiling


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(name="x", value=1.0), ValueError, "needs low=, high= or both"),
    (dict(name="x", value="1"), TypeError, "x must be a number"),
    (dict(name="x", value=float("nan"), low=0), ValueError, "x must be a finite number"),
    (dict(name="", value=1.0, low=0), TypeError, "name must be a non-empty string"),
    (dict(name="x", value=1.0, low=0, log=True), ValueError, "needs positive bounds"),
    (dict(name="x", value=1.0, low=0, log="yes"), TypeError, "log must be True or False"),
])
def test_expect_refuses_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        runtime.expect(**kwargs)


# --- tools/seeds.py ---------------------------------------------------------------------------------------------


def _cell(source: str, *outputs: dict) -> dict:
    return {"cell_type": "code", "source": source, "outputs": list(outputs), "metadata": {}}


def _stream(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


def test_seeds_reads_check_cells_their_failures_and_margins():
    nb = {"cells": [
        _cell("x = 1", _stream("margin ignored: +5\n")),  # not a check cell
        {"cell_type": "markdown", "source": "assert nothing", "metadata": {}},
        _cell("# Check: the ratio\nedu.runtime.expect('r', r, low=2)\nassert y",
              _stream("margin r: +0.25 (value 2.5, needs > 2)\nmargin r: +0.5\nmargin s: -inf\n")),
        _cell("assert z > 1, 'z'", {"output_type": "error", "ename": "AssertionError", "evalue": "z"}),
    ]}
    cells = seeds.check_cells(nb)
    assert [c.index for c in cells] == [2, 3]
    assert cells[0].passed and cells[0].label == "Check: the ratio"
    assert cells[0].margins == {"r": 0.25, "s": float("-inf")}
    assert not cells[1].passed and cells[1].error == "AssertionError: z"
    runs = [{"path": "notebooks/99_x.ipynb", "seed": s, "wall": 1.0, "cells": [vars(c) for c in cells]}
            for s in (0, 1)]
    text, ok = seeds.report(runs, (0, 1))
    assert not ok and "cell  3  ✗ ✗" in text and "margin -inf (s, seed 0)" in text
    assert "1 check cell(s) failed" in text


def test_seeds_parses_seed_lists():
    assert seeds.parse_seeds("0-5") == (0, 1, 2, 3, 4, 5)
    assert seeds.parse_seeds("3,7") == (3, 7)
    for bad in ("a", "-1", "5-3", ""):
        with pytest.raises(Exception, match="seeds must"):
            seeds.parse_seeds(bad)


def test_every_check_cell_is_found_by_the_tool():
    """The tool's notion of a check cell is the lessons' (test_hygiene: every lesson has one)."""
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        sources = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
        assert sum(seeds.is_check_cell(s) for s in sources) >= 1, path.name
        assert all(seeds.is_check_cell(s) for s in sources if re.search(r"^\s*assert ", s, re.MULTILINE))


def test_lesson05_one_step_claim_holds_for_the_seed_the_prose_suggests():
    """Lesson 05 invites the learner to train with seed=0, which learns an almost straight flow: the check cell's
    claim for that case (one step lands near the flow's end point, and N = 1 keeps its test error below 20 %) must
    hold, as the other branch holds for the seeds that `make seeds` runs."""
    spirals = edu.lessons.lesson05_ode_view.two_spirals
    train, test = spirals(500, turns=1.0, seed=1), spirals(1000, turns=1.0, seed=2)
    result = edu.lessons.lesson05_ode_view.train_ode_net(train, test, steps=(8, 32), iterations=300, hidden=32, seed=0,
                                                  progress=False)
    assert result.one_step_miss(32) <= 0.9, "seed 0's one step misses the flow: the lesson's prose about it is wrong"
    assert 1 - result.accuracy(1) < 0.2, f"seed 0: one step should still score > 80 %; got {result.accuracy(1):.1%}"


# --- issue 32: flags that meant nothing or the opposite, and results lost to one typo ---------------------------

@pytest.mark.parametrize("text, match", [
    ("0,0", "seeds must not repeat .*: 0 given twice in '0,0'"),  # ran seed 0 twice
    ("1,2,1", "1 given twice"),
    ("5-0", "seeds must run from low to high in a range: write 0-5, not '5-0'"),  # said "whole numbers"
    (str(2**64), "seeds must be at most 2\\*\\*64 - 1 = 18446744073709551615"),  # was taken
    (f"0,{2**64}", "at most 2\\*\\*64 - 1"),
    ("0-99999999999999999999999", "fewer than 10,000 of them"),  # checked before the range is built
])
def test_seeds_refuses_repeated_reversed_and_too_large_seeds(text, match):
    with pytest.raises(seeds.argparse.ArgumentTypeError, match=match):
        seeds.parse_seeds(text)


def test_seeds_takes_the_largest_seed_torch_takes():
    assert seeds.parse_seeds(str(2**64 - 1)) == (2**64 - 1,) and seeds.MAX_SEED == edu._checks.MAX_SEED


@pytest.mark.parametrize("argv, match", [
    (["--jobs", "0"], "argument --jobs: must be a whole number >= 1 .*; got '0'"),  # was taken as 1
    (["--jobs", "-3"], "argument --jobs: must be a whole number >= 1"),
    (["--timeout", "0"], "argument --timeout: must be a whole number >= 1 \\(seconds one cell may take\\)"),  # no limit
    (["--seeds", "0,0"], "argument --seeds: seeds must not repeat"),
    ([str(ROOT / "notebooks" / "02_identity_mappin.ipynb")], "no notebook at .*02_identity_mappin.ipynb"),
    (["--json", "/nonexistent-folder/seeds.json"], "--json /nonexistent-folder/seeds.json: the folder "
                                                    "/nonexistent-folder does not exist"),
])
def test_seeds_refuses_bad_flags_before_running_anything(tmp_path, capsys, argv, match):
    """Issue 32: a mistyped notebook among several, or a missing --json folder, was found only after every run and
    lost every result; now the tool stops before the first run (exit status 2, argparse's)."""
    good = tmp_path / "00_empty.ipynb"  # a notebook that starts no kernel, should the check ever be lost again
    good.write_text("{}")
    good = str(good)
    with pytest.raises(SystemExit) as info:
        seeds.main([*argv, good] if argv[0].startswith("--") else [good, *argv])
    assert info.value.code == 2 and re.search(match, capsys.readouterr().err)


def test_seeds_reports_a_run_that_failed_and_keeps_the_others():
    cells = [vars(seeds.CellResult(3, "Check: the ratio", True, "", {"r": 0.25}))]
    runs = [{"path": "notebooks/99_x.ipynb", "seed": 0, "wall": 0.0, "cells": [], "error": "OSError: kernel died"},
            {"path": "notebooks/99_x.ipynb", "seed": 1, "wall": 2.0, "cells": cells}]
    text, ok = seeds.report(runs, (0, 1))
    assert not ok and "✗ seed 0 did not run: OSError: kernel died" in text
    assert "margin +0.25 (r, seed 1)" in text and "1 run(s) could not run at all" in text


def test_seeds_a_notebook_that_cannot_be_read_is_reported_not_raised(tmp_path, capsys):
    broken = tmp_path / "99_broken.ipynb"
    broken.write_text("{ not json")
    out = tmp_path / "seeds.json"
    assert seeds.main(["--seeds", "0", "--json", str(out), str(broken)]) == 1
    assert "✗ seed 0 did not run" in capsys.readouterr().out
    assert json.loads(out.read_text())[0]["error"]


# --- issue 30 item 6: thin margins are flagged ------------------------------------------------------------------

def _runs(margins_by_seed: list[dict[str, float]], decades: tuple[str, ...] = (), passed: bool = True) -> list[dict]:
    return [{"path": "notebooks/99_x.ipynb", "seed": s, "wall": 1.0,
             "cells": [vars(seeds.CellResult(4, "Check: the claim", passed, "" if passed else "AssertionError: x",
                                             m, list(decades)))]}
            for s, m in enumerate(margins_by_seed)]


def test_seeds_is_thin_is_below_015_of_the_bounds_scale_and_positive():
    assert seeds.THIN == 0.15
    assert seeds.is_thin(0.066) and seeds.is_thin(0.149)
    assert not any(seeds.is_thin(m) for m in (0.15, 0.8, float("inf"), 0.0, -0.2, None))


def test_seeds_marks_a_thin_cell_and_lists_it_in_the_summary_without_failing():
    text, ok = seeds.report(_runs([{"ratio": 0.4}, {"ratio": 0.066}], decades=("ratio",)), (0, 1))
    assert ok, "a thin margin is a warning, not a failed check"
    row = next(line for line in text.splitlines() if line.lstrip().startswith("cell  4"))
    assert "margin +0.066 decades (ratio, seed 1)" in row and "THIN" in row
    assert "1 thin margin(s) (smallest margin < 0.15 of the bound's scale" in text
    assert "99_x cell 4 (+0.066 decades, ratio)" in text
    text, ok = seeds.report(_runs([{"ratio": 0.4}, {"ratio": 0.066}]), (0, 1), fail_thin=True)
    assert not ok and "99_x cell 4 (+0.066, ratio)" in text


def test_seeds_a_roomy_a_failed_and_a_margin_less_cell_are_not_thin():
    for runs in (_runs([{"r": 0.5}, {"r": 0.2}]), _runs([{}, {}]), _runs([{"r": -0.1}, {"r": 0.05}], passed=False)):
        text, _ = seeds.report(runs, (0, 1), fail_thin=True)
        assert "THIN" not in text.replace("thin margin", "") and "no thin margins" in text, text


def test_seeds_reads_which_margins_are_in_decades(monkeypatch, capsys):
    monkeypatch.setenv(runtime.MARGIN_ENV, "1")
    runtime.expect("gradient ratio", 2.33, low=2, log=True)
    runtime.expect("accuracy", 0.70, high=0.75)
    out = capsys.readouterr().out
    assert seeds.parse_decades(out) == ["gradient ratio"]
    margins = seeds.parse_margins(out)
    assert seeds.is_thin(margins["gradient ratio"]) and seeds.is_thin(margins["accuracy"])
