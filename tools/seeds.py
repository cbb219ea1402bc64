"""Run every lesson on several seeds and report, per check cell, pass/fail and its smallest margin (`make seeds`).

    python tools/seeds.py                        # every notebook in notebooks/, seeds 0-5
    python tools/seeds.py --seeds 0,1 --jobs 2 notebooks/02_identity_mapping.ipynb

Each (notebook, seed) runs top to bottom in a fresh kernel with ``RESNET_EDU_SEED=<seed>`` and
``RESNET_EDU_MARGINS=1``; a failing cell does not stop the run, so every check cell is reported. A *check cell* is a
code cell with an ``assert`` statement or an ``edu.runtime.expect(...)`` call; it passes when it raised nothing.
``expect`` prints ``margin <claim>: <margin>`` lines, and the report shows each cell's smallest margin over the
seeds with the claim and seed it came from (cells with plain asserts only show pass/fail). Exit status 1 when any
check cell failed on any seed. Not part of ``make test``: it takes about six times as long as the notebook run.

Thin margins (issue 30 item 6). A margin is already measured in units of its bound's scale (``edu.runtime.expect``):
``(value - low) / |low|`` or ``(high - value) / |high|`` for a ratio, accuracy or any bound that is not 0, the plain
difference for a bound of 0 (scale 1, e.g. a 0-1 accuracy gap), and decades, ``log10(value / bound)``, for a
log-scale bound (scale 1 decade). A check cell is *thin* when its smallest margin over the seeds is positive but
below ``THIN`` = 0.15 of that scale: an accuracy of 0.70 against < 0.75 is (0.75 - 0.70) / 0.75 = +0.067, thin; a
gradient ratio of 2.33 against > 2 on a log scale is log10(2.33 / 2) = +0.066 decades, thin; 0.9 against > 0.5 is
+0.8, not thin. Such a claim passes on the seeds run and may fail on the next ones (issue 30: two checks with margins
near +0.07 on seeds 0-5 failed on two seeds outside them). Infinite margins (a loss of exactly 0 below a ceiling) are
not thin; cells with plain asserts only print no margin and cannot be judged (``-``). The report marks each thin
cell ``THIN`` and ends with a line listing every thin cell. Thin is a warning, not a failure: the exit status stays 1
only when a check fails, because a thin bound can be the claim itself (a lesson that says why keeps it);
``--fail-thin`` makes thin margins fail too, for a run that must show every claim has room.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEEDS = (0, 1, 2, 3, 4, 5)
ASSERT = re.compile(r"^\s*assert\b|\bexpect\(", re.MULTILINE)
MARGIN = re.compile(r"^margin (?P<name>.+?): (?P<value>[-+]?(?:inf|[0-9.]+(?:e[-+]?[0-9]+)?))(?P<unit> decades)?",
                    re.MULTILINE)


@dataclass
class CellResult:
    """One check cell on one seed: did it pass, and the margins its ``expect`` calls printed."""

    index: int
    label: str
    passed: bool
    error: str = ""
    margins: dict[str, float] = field(default_factory=dict)
    decades: list[str] = field(default_factory=list)  # the claims whose margins are in decades (log=True)


def is_check_cell(source: str) -> bool:
    """A code cell that asserts something: an ``assert`` statement or an ``expect(`` call."""
    return bool(ASSERT.search(source))


def label_of(source: str) -> str:
    """A short name for a check cell: its first comment line, else its first line."""
    lines = [line.strip() for line in source.splitlines() if line.strip()]
    comments = [line.lstrip("# ").strip() for line in lines if line.startswith("#")]
    text = comments[0] if comments else (lines[0] if lines else "")
    return text if len(text) <= 60 else text[:57] + "..."


def parse_margins(text: str) -> dict[str, float]:
    """The ``margin <claim>: <value>`` lines printed by ``edu.runtime.expect`` (the smaller one if a claim repeats)."""
    found: dict[str, float] = {}
    for match in MARGIN.finditer(text):
        value = float(match["value"])
        found[match["name"]] = min(value, found.get(match["name"], value))
    return found


def parse_decades(text: str) -> list[str]:
    """The claims among the ``margin`` lines whose margins are in decades (``expect(..., log=True)``)."""
    return sorted({match["name"] for match in MARGIN.finditer(text) if match["unit"]})


def check_cells(nb: dict) -> list[CellResult]:
    """Every check cell of an executed notebook (nbformat dict) with its pass/fail and margins."""
    results = []
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        if not is_check_cell(source):
            continue
        outputs = cell.get("outputs", [])
        text = "".join(o.get("text", "") if isinstance(o.get("text", ""), str) else "".join(o["text"])
                       for o in outputs if o.get("output_type") == "stream")
        errors = [o for o in outputs if o.get("output_type") == "error"]
        error = f"{errors[0].get('ename', '')}: {errors[0].get('evalue', '')}" if errors else ""
        results.append(CellResult(index, label_of(source), not errors, error, parse_margins(text),
                                  parse_decades(text)))
    return results


THIN = 0.15  # a smallest margin below this fraction of its bound's scale (1 decade on a log scale) is thin


def is_thin(margin: float | None) -> bool:
    """A passing margin with little room: ``0 < margin < THIN`` (see the module's docstring for the scale)."""
    return margin is not None and 0 < margin < THIN


MAX_SEED = 2**64 - 1  # the largest seed torch.manual_seed takes (resnet_edu._checks.MAX_SEED)


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"0-5"`` → (0, 1, 2, 3, 4, 5); ``"0,3,7"`` → (0, 3, 7). A reversed range, a repeated seed and a seed above
    2**64 - 1 are refused, each by name."""
    try:
        if "-" in text:
            first, last = (int(part) for part in text.split("-"))
            if first > last:
                raise argparse.ArgumentTypeError(f"seeds must run from low to high in a range: write {last}-{first}, "
                                                 f"not {text!r}")
            if last > MAX_SEED or last - first >= 10_000:  # checked before the range is built
                raise argparse.ArgumentTypeError(f"seeds must be at most 2**64 - 1 = {MAX_SEED} (the largest seed "
                                                 f"torch takes), and fewer than 10,000 of them; got {text!r}")
            seeds = tuple(range(first, last + 1))
        else:
            seeds = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must look like 0-5 or 0,3,7; got {text!r}") from None
    if not seeds or any(s < 0 for s in seeds):
        raise argparse.ArgumentTypeError(f"seeds must be whole numbers >= 0, at least one; got {text!r}")
    if any(s > MAX_SEED for s in seeds):
        raise argparse.ArgumentTypeError(f"seeds must be at most 2**64 - 1 = {MAX_SEED}, the largest seed torch "
                                         f"takes; got {text!r}")
    seen: set[int] = set()
    repeated = sorted({s for s in seeds if s in seen or seen.add(s)})
    if repeated:
        raise argparse.ArgumentTypeError(f"seeds must not repeat (each seed's run is the same run again): "
                                         f"{', '.join(map(str, repeated))} given twice in {text!r}")
    return seeds


def _at_least_one(what: str) -> Callable[[str], int]:
    """An argparse type: a whole number >= 1 (``--jobs 0`` is not one job, ``--timeout 0`` is not "no limit")."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1 or str(value) != text.strip().lstrip("+"):
            raise argparse.ArgumentTypeError(f"must be a whole number >= 1 ({what}); got {text!r}")
        return value
    return parse


def run_one(path: str, seed: int, timeout: int) -> dict:
    """Execute one notebook on one seed in a fresh kernel; its check cells as plain dicts, and the wall time."""
    import nbformat
    from nbclient import NotebookClient

    os.environ.update({"RESNET_EDU_SEED": str(seed), "RESNET_EDU_MARGINS": "1"})
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("PYTHONHASHSEED", "0")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name="python3",
                   resources={"metadata": {"path": str(Path(path).parent)}}).execute()
    wall = time.perf_counter() - start
    return {"path": path, "seed": seed, "wall": wall, "cells": [vars(c) for c in check_cells(nb)]}


def report(runs: list[dict], seeds: tuple[int, ...], fail_thin: bool = False) -> tuple[str, bool]:
    """The table: one row per check cell, one ✓/✗ column per seed, the smallest margin with its claim and seed, and
    ``THIN`` after a smallest margin below :data:`THIN` of its bound's scale; then a summary naming every thin cell.
    ``ok`` is False when a check cell failed or a run could not run (and, with ``fail_thin``, when a margin is thin)."""
    lines, ok, thin = [], True, []
    for path in sorted({r["path"] for r in runs}):
        mine = {r["seed"]: r for r in runs if r["path"] == path}
        walls = " ".join(f"{mine[s]['wall']:.0f}" for s in seeds if s in mine and not mine[s].get("error"))
        lines.append(f"\n{Path(path).stem}  (wall s per seed: {walls})")
        for s in seeds:
            if s in mine and mine[s].get("error"):
                ok = False
                lines.append(f"  ✗ seed {s} did not run: {mine[s]['error'][:200]}")
        first = next((mine[s]["cells"] for s in seeds if s in mine and not mine[s].get("error")), [])
        for k, cell in enumerate(first):
            marks, smallest, failures = [], None, []
            for s in seeds:
                c = mine[s]["cells"][k] if s in mine and k < len(mine[s]["cells"]) else None
                marks.append("✓" if c and c["passed"] else "✗")
                if c and not c["passed"]:
                    failures.append(f"seed {s}: {c['error'][:120]}")
                for name, value in (c["margins"] if c else {}).items():
                    if smallest is None or value < smallest[0]:
                        smallest = (value, name, s, name in c.get("decades", ()))
            ok &= not failures
            margin = "-"
            if smallest:
                unit = " decades" if smallest[3] else ""
                margin = f"{smallest[0]:+.3g}{unit} ({smallest[1]}, seed {smallest[2]})"
            flag = "THIN" if not failures and smallest and is_thin(smallest[0]) else ""
            if flag:
                thin.append(f"{Path(path).stem} cell {cell['index']} ({smallest[0]:+.3g}{unit}, {smallest[1]})")
            lines.append(f"  cell {cell['index']:>2}  {' '.join(marks)}  margin {margin:<56} {flag:<4}  "
                         f"{cell['label']}")
            lines.extend(f"      {f}" for f in failures)
    fails = sum("✗" in line and line.lstrip().startswith("cell") for line in lines)
    broken = sum(line.lstrip().startswith("✗ seed") for line in lines)
    lines.append(f"\n{fails} check cell(s) failed on at least one of seeds {', '.join(map(str, seeds))}"
                 if fails else f"\nevery check cell passed on seeds {', '.join(map(str, seeds))}"
                 if not broken else "")
    if broken:
        lines.append(f"{broken} run(s) could not run at all (see ✗ seed … above)")
    scale = f"smallest margin < {THIN:g} of the bound's scale: |bound|, 1 for a bound of 0, 1 decade on a log scale"
    lines.append(f"{len(thin)} thin margin(s) ({scale}): {'; '.join(thin)}" if thin else
                 f"no thin margins ({scale})")
    if fail_thin and thin:
        ok = False
    return "\n".join(lines), ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebooks to run (default: every notebooks/*.ipynb)")
    parser.add_argument("--seeds", type=parse_seeds, default=SEEDS, help="e.g. 0-5 (the default) or 0,3,7")
    parser.add_argument("--jobs", type=_at_least_one("notebooks run side by side"), default=1,
                        help="notebooks run side by side (default 1)")
    parser.add_argument("--timeout", type=_at_least_one("seconds one cell may take"), default=1200,
                        help="seconds one cell may take (default 1200)")
    parser.add_argument("--json", type=Path, help="also write every run's cells and margins here")
    parser.add_argument("--fail-thin", action="store_true",
                        help=f"exit 1 on a thin margin too (below {THIN:g} of its bound's scale), not only on a "
                             "failed check")
    args = parser.parse_args(argv)
    paths = [str(Path(p)) for p in args.notebooks] or sorted(str(p) for p in (ROOT / "notebooks").glob("*.ipynb"))
    missing = [p for p in paths if not Path(p).is_file()]
    if missing:  # before any run: one typo must not cost the others' results
        parser.error(f"no notebook at {', '.join(missing)}")
    if args.json is not None and (args.json.is_dir() or not args.json.parent.is_dir()):
        parser.error(f"--json {args.json}: " + ("that is a folder; name a file in it, e.g. "
                                                f"{args.json / 'seeds.json'}" if args.json.is_dir() else
                                                f"the folder {args.json.parent} does not exist"))
    start = time.perf_counter()
    jobs = [(p, s) for p in paths for s in args.seeds]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_one, p, s, args.timeout) for p, s in jobs]
        runs = []
        for (p, s), future in zip(jobs, futures):
            try:
                runs.append(future.result())
            except Exception as err:  # noqa: BLE001 - one broken run is reported, the others' results kept
                runs.append({"path": p, "seed": s, "wall": 0.0, "cells": [], "error": f"{type(err).__name__}: {err}"})
                print(f"could not run {Path(p).stem} on seed {s}: {runs[-1]['error']}", file=sys.stderr, flush=True)
                continue
            print(f"ran {Path(p).stem} on seed {s} in {runs[-1]['wall']:.0f} s", file=sys.stderr, flush=True)
    text, ok = report(runs, tuple(args.seeds), args.fail_thin)
    print(text)
    print(f"{len(jobs)} runs in {time.perf_counter() - start:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
