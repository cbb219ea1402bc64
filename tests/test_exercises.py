"""Every exercise checker of every lesson (found automatically, so lessons added later are covered too) survives a
battery of bad answers: it never raises, answers ❌ with a sentence, and returns False. `from resnet_edu.exercises
import *` brings every checker."""

import inspect
import io
import math
from contextlib import redirect_stdout

import pytest
import torch

from resnet_edu import exercises

CHECKERS = sorted(n for n in exercises.__all__ if n.startswith("check_"))


def _extra_arguments(name: str) -> tuple:
    """Prediction checkers take the learner's prediction and then the measured result: here the result is missing
    (None), which they must answer with a sentence too."""
    params = inspect.signature(getattr(exercises, name)).parameters.values()
    required = [p for p in params if p.default is inspect.Parameter.empty and p.kind is p.POSITIONAL_OR_KEYWORD]
    return (None,) * (len(required) - 1)


ANSWER_ONLY = [n for n in CHECKERS if not _extra_arguments(n)]

BAD_ANSWERS = {
    "huge int": 10**400,
    "huger int": 10**5000,
    "nan": math.nan,
    "inf": math.inf,
    "-inf": -math.inf,
    "negative": -7,
    "True": True,
    "False": False,
    "numeric string": "12",
    "empty string": "",
    "word": "banana",
    "empty list": [],
    "list of strings": ["a", "b"],
    "nested list": [[1, 2], [3]],
    "list with nan": [math.nan, 1.0],
    "empty dict": {},
    "dict": {"x": 1},
    "set of lists?": {(1, 2)},
    "bytes": b"\x00",
    "tensor with nan": torch.tensor([math.nan, 1.0]),
    "object": object(),
    "lambda": lambda: None,
}


def test_star_import_brings_every_checker():
    namespace: dict = {}
    exec("from resnet_edu.exercises import *", namespace)
    assert CHECKERS and all(name in namespace for name in CHECKERS)
    for lesson in exercises.LESSONS:
        module = getattr(exercises, lesson)
        own = {n for n in dir(module) if n.startswith(("check_", "solution_"))}
        assert own <= set(exercises.__all__), lesson


@pytest.mark.parametrize("name", ANSWER_ONLY)
def test_untouched_answer_says_no_answer_yet(name):
    for untouched in (None, ...):
        out = io.StringIO()
        with redirect_stdout(out):
            assert getattr(exercises, name)(untouched) is False
        assert "No answer yet" in out.getvalue() and "❌" not in out.getvalue()


@pytest.mark.parametrize("answer", list(BAD_ANSWERS.values()), ids=list(BAD_ANSWERS))
@pytest.mark.parametrize("name", CHECKERS)
def test_checkers_never_raise_and_explain(name, answer):
    out = io.StringIO()
    with redirect_stdout(out):
        result = getattr(exercises, name)(answer, *_extra_arguments(name))
    text = out.getvalue().strip()
    assert result is False, f"{name}({answer!r:.40}) returned {result!r}"
    assert text.startswith("❌") and len(text) > 20, f"{name} printed {text!r}"


@pytest.mark.parametrize(
    ("name", "answer", "says"),
    [
        ("check_chance_loss", 10**400, "too large for any float"),
        ("check_chance_loss", math.nan, "NaN"),
        ("check_chance_loss", True, "bool"),
        ("check_chance_loss", "2.3", "without quotes"),
        ("check_chance_loss", [2.3], "one number, not a collection"),
        ("check_chain_factor", "12", "got the text '12'"),  # not read as the pair (1, 2)
        ("check_chain_factor", (1e-30, math.nan), "Entry 1 of your answer: Got NaN"),
        ("check_chain_factor", (True, 2.0), "bool"),
        ("check_chain_factor", {"plain": 1, "residual": 2}, "got the dict"),
        ("check_branch_scale", math.inf, "infinite"),
        ("check_branch_scale", "0.1", "without quotes"),
        ("check_error_factors", {"euler": 10**400, "rk4": 256}, "too large"),
        ("check_error_factors", {"euler": "4", "rk4": 256}, "without quotes"),
        ("check_mean_gradient", "0.1", "got the text"),
        ("check_mean_gradient", [0.1, 0.2, math.nan, 0.0], "Entry 2"),
        ("check_block_output", [True, 0.5, 2.0], "bool"),
        ("check_identity_state_keys", 10**400, "small whole number"),
        ("check_save_survivors", {"module": 1}, "Give a set"),
    ],
)
def test_checkers_explain_the_reason(name, answer, says, capsys):
    assert getattr(exercises, name)(answer) is False
    assert says in capsys.readouterr().out


def test_check_number_is_table_driven(capsys):
    """The one number checker behind lessons 04, 06 and 07: right, each listed mistake with its own sentence, the
    fallback, and the reasons an answer cannot be judged."""
    from resnet_edu.exercises._core import check_number

    def ask(answer, **kw):
        ok = check_number(answer, 12, [(10, "{answer}: forgot the biases"), (lambda v: v < 0, "negative {answer}")],
                          hint="h", right_text="yes {right}", wrong_text="no, {answer}", whole=True, **kw)
        return ok, capsys.readouterr().out

    assert ask(12) == (True, "✅ yes 12\n")
    assert ask(10) == (False, "❌ 10: forgot the biases\n")
    assert ask(-3) == (False, "❌ negative -3\n")
    assert ask(11) == (False, "❌ no, 11\n")
    assert ask(None)[1].startswith("✏️  No answer yet: h")
    assert "an int" in ask(12.0)[1] and "without quotes" in ask("12")[1] and "bool" in ask(True)[1]
    assert "≤ 100" in ask(10**400, high=100)[1] and "too large" in ask(10**400)[1]
    assert ask(torch.tensor(12))[0] is True
