"""Pure parts of the console: exact money parsing and formatting, the catalogues, times."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from console.i18n import LANGUAGES, Translator, catalogue, format_time
from console.money import AmountError, format_fen, parse_fen

CONSOLE = Path(__file__).parents[2] / "console"


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("33.34", 3334),
        ("33.3", 3330),
        ("33", 3300),
        ("0.01", 1),
        ("0", 0),
        ("1,234.5", 123450),
        ("1,234,567.89", 123456789),
        (" ¥12.00 ", 1200),
        ("￥7", 700),
        ("0.10", 10),
    ],
)
def test_amount_text_is_parsed_exactly_to_fen(text: str, fen: int) -> None:
    assert parse_fen(text) == fen


@pytest.mark.parametrize(
    "text",
    [
        "33.345",  # never rounded
        "0.001",
        "-1",
        "-0.01",
        "1,23.00",
        "12,34",
        ",100",
        "1.",
        ".5",
        "",
        "abc",
        "1e3",
        "12 34",
        "１２",  # full-width digits
        "NaN",
        "10000000000.01",  # beyond the API's ceiling
    ],
)
def test_anything_but_an_exact_amount_is_an_error(text: str) -> None:
    with pytest.raises(AmountError):
        parse_fen(text)


@given(st.integers(min_value=0, max_value=10**12))
def test_formatting_and_parsing_round_trip(fen: int) -> None:
    shown = format_fen(fen)
    assert shown.startswith("¥")
    assert parse_fen(shown) == fen


@given(st.integers(min_value=0, max_value=10**10), st.integers(min_value=0, max_value=9))
def test_a_third_decimal_is_refused_whatever_the_digit(yuan: int, digit: int) -> None:
    with pytest.raises(AmountError):
        parse_fen(f"{yuan}.12{digit}")


def test_amounts_are_shown_with_yuan_sign_and_thousands() -> None:
    assert format_fen(123456) == "¥1,234.56"
    assert format_fen(5) == "¥0.05"
    assert format_fen(-150) == "-¥1.50"


def test_times_are_shown_in_shanghai() -> None:
    assert format_time("2026-01-31T16:30:00+00:00") == "2026-02-01 00:30:00"
    assert format_time(datetime(2026, 6, 1, 1, 2, 3, tzinfo=UTC)) == "2026-06-01 09:02:03"
    assert format_time(None) == ""


def test_the_catalogues_hold_the_same_words() -> None:
    zh, en = catalogue("zh_CN"), catalogue("en")
    assert set(zh) == set(en)
    assert all(zh.values()) and all(en.values())
    assert Translator("zh_CN")("orders.count", count=3) == "共 3 单"
    assert Translator("en")("orders.count", count=3) == "3 orders"
    assert LANGUAGES[0] == "zh_CN"


def test_every_word_the_templates_use_is_in_the_catalogue() -> None:
    used: set[str] = set()
    for template in (CONSOLE / "templates").rglob("*.html"):
        used |= set(re.findall(r"\bt\('([a-z_.\-]+)'", template.read_text("utf-8")))
    assert used, "the templates use the catalogue"
    used = {key for key in used if not key.endswith(".")}  # prefixes of computed keys
    assert used - set(catalogue("zh_CN")) == set()


def test_no_chinese_text_in_the_console_python_code() -> None:
    """Words for people live in the catalogues: no string in console code holds Chinese
    (docstrings, which are for programmers, aside)."""
    han = re.compile(r"[\u4e00-\u9fff]")
    offenders = []
    for path in CONSOLE.rglob("*.py"):
        tree = ast.parse(path.read_text("utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        offenders += [
            f"{path.name}:{node.lineno}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and han.search(node.value)
        ]
    assert offenders == []
