"""The API's refusals in the console's language (console/refusals.py): an invalid input by its
kind and limits, a business refusal by its reason, the API's own words for what the catalogue
does not know, and none of it when it knows nothing."""

from __future__ import annotations

import ast
import string
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.passwords import password_refused
from console.client import Json, Refused
from console.i18n import Translator
from console.refusals import problem_text

ZH, EN = Translator("zh_CN"), Translator("en")
ROOT = Path(__file__).parents[2]
TOO_FEW = {"field": "lines.0.quantity", "message": "Input should be greater than 0",
           "code": "greater_than", "ctx": {"gt": 0}}  # fmt: skip
OWN_WORDS = {"field": "name", "message": "Value error, no tabs", "code": "value_error"}


def test_an_invalid_input_is_said_by_its_field_and_kind() -> None:
    assert problem_text({"errors": [TOO_FEW]}, ZH) == "数量：须大于 0"
    assert problem_text({"errors": [TOO_FEW]}, EN) == "Quantity: must be greater than 0"
    unnamed = {**TOO_FEW, "field": "lines.0.weight_g"}  # a field the catalogue has no name for
    assert problem_text({"errors": [unnamed]}, ZH) == "lines.0.weight_g：须大于 0"


def test_what_the_catalogue_does_not_know_keeps_the_apis_words() -> None:
    both = {"errors": [TOO_FEW, OWN_WORDS]}
    assert problem_text(both, ZH) == "数量：须大于 0；名称：Value error, no tabs"
    assert problem_text({"detail": "d", "errors": [OWN_WORDS]}, ZH) is None
    assert problem_text({"detail": "no errors at all"}, ZH) is None
    # words that state a limit the API did not send are not used half-filled
    assert problem_text({"errors": [{**TOO_FEW, "ctx": {}}]}, ZH) is None


def test_amounts_are_said_in_money_and_reasons_by_their_code() -> None:
    dear = {"field": "price_fen", "message": "must be below the list price (1299 fen)",
            "code": "not_below_list_price", "ctx": {"list_price_fen": 1299}}  # fmt: skip
    assert problem_text({"errors": [dear]}, ZH) == "价格：须低于标价 ¥12.99"
    in_use = {"reason": "level_in_use", "level": "LV3", "segment": "三级以上"}
    assert (
        problem_text({"errors": [in_use]}, ZH) == "等级 LV3 被人群「三级以上」的规则使用，不能删除"
    )


def test_words_that_say_it_all_are_not_put_after_the_fields_name() -> None:
    """A route's own check whose words name what is wrong (`refusal.whole.*`) stands alone: the
    TOTP form's `code` is not the catalogue's product code (编码)."""
    wrong = {"field": "code", "message": "wrong code", "code": "wrong_totp_code"}
    assert problem_text({"errors": [wrong]}, ZH) == "验证码不对，请检查手机时间是否准确"
    reversed_ = {"field": "date_from", "message": "is after date_to", "code": "date_range_reversed"}
    assert problem_text({"errors": [reversed_, wrong]}, ZH) == (
        "开始日期：不能晚于结束日期；验证码不对，请检查手机时间是否准确"
    )


def test_a_refusal_the_console_shows_is_in_the_pages_language() -> None:
    problem = {"detail": "lines.0.quantity: Input should be greater than 0", "errors": [TOO_FEW]}
    assert Refused(422, problem, ZH).detail == "数量：须大于 0"
    assert Refused(422, problem, ZH).message_of(TOO_FEW) == "须大于 0"  # next to its field
    assert Refused(422, problem).detail == problem["detail"]  # no language: the API's words
    assert Refused(422, {"errors": [OWN_WORDS]}, ZH).message_of(OWN_WORDS) == "Value error, no tabs"


def test_a_list_items_field_is_named_by_its_list() -> None:
    unknown = {"field": "roles.1", "message": "no staff role 'x'", "code": "unknown_role",
               "ctx": {"role": "x"}}  # fmt: skip
    assert problem_text({"errors": [unknown]}, ZH) == "角色：没有这个员工角色（x）"


@pytest.mark.parametrize(
    ("password", "words"),
    [
        ("Tea-Leaf", "新密码：至少 10 个字符"),
        ("aaaaaaaaaaaa", "新密码：同一个字符重复或键盘上连着按的字符太容易被猜到"),
        ("xiaowang-2026!", "新密码：不能包含用户名"),
        ("Password123!", "新密码：是常见密码，请换一个"),
        ("teaandbiscuits", "新密码：须包含小写字母、大写字母、数字、符号中的至少两种"),
        ("Tea-Leaf-" * 23, "新密码：最多 200 个字符"),
    ],
)
def test_each_password_rule_is_said_in_the_pages_language(password: str, words: str) -> None:
    """The policy's rules (models/domain/passwords.py) each carry a code, said in Chinese."""
    refused = password_refused("new_password", password, "xiaowang")
    assert refused is not None and refused.errors[0]["code"]
    assert problem_text({"errors": refused.errors}, ZH) == words


@pytest.mark.parametrize(
    ("error", "words"),
    [
        ({"field": "levels.1.growth_threshold", "code": "repeats_another_level",
          "ctx": {"value": 100}}, "成长值门槛：与另一个等级重复（100）"),
        ({"field": "to_warehouse_id", "code": "same_warehouse"}, "调入仓库：须是另一个仓库"),
        ({"field": "lines.0.batch_no", "code": "batch_required", "ctx": {"sku_id": 7}},
         "批次号：商品 7 按批次管理，须填写批次号"),
        ({"field": "region_code", "code": "region_not_served",
          "ctx": {"sku_ids": "3, 5", "region": "650101"}}, "地区：商品 3, 5 不配送到 650101"),
        ({"field": "parent_id", "code": "unknown_object", "ctx": {"id": 9}},
         "上级分类：不存在（9）"),
        ({"field": "lines.1", "code": "sku_repeated_per_warehouse"},
         "同一商品在同一仓库只能有一行：请合并数量"),
    ],
)  # fmt: skip
def test_the_routes_own_checks_are_said_in_the_pages_language(error: Json, words: str) -> None:
    assert problem_text({"errors": [{"message": "the API's words", **error}]}, ZH) == words


@pytest.mark.parametrize(
    ("error", "words"),
    [
        ({"reason": "po_not_closed", "po_no": "PO1"}, "采购单 PO1 还没关闭：关闭后才能登记发票"),
        ({"field": "supplier_id", "reason": "supplier_not_approved", "supplier": "TEA"},
         "供应商 TEA 尚未通过审核，不能下采购单"),
        ({"reason": "not_in_warehouse", "user": "小王", "warehouse": "上海仓"},
         "小王 不在仓库「上海仓」工作：请先在用户管理中为其添加这个仓库"),
        ({"reason": "no_totp_enrolment"}, "没有进行中的两步验证绑定：请重新打开绑定页面"),
    ],
)  # fmt: skip
def test_a_conflicts_reason_is_said_in_the_pages_language(error: Json, words: str) -> None:
    assert problem_text({"errors": [error]}, ZH) == words


def _calls(name: str) -> Iterator[tuple[str, ast.Call]]:
    for path in sorted(ROOT.glob("api/**/*.py")) + sorted(ROOT.glob("services/**/*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Call):
                called = node.func.id if isinstance(node.func, ast.Name) else ""
                called = node.func.attr if isinstance(node.func, ast.Attribute) else called
                if called == name:
                    yield f"{path.relative_to(ROOT)}:{node.lineno}", node


def _literal(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _words_fit(key: str, given: set[str]) -> bool:
    """Both catalogues hold the key, and its words name only values the API sends (the field,
    the ctx given, an amount's money)."""
    given |= {"field"} | {f"{n.removesuffix('_fen')}_money" for n in given if n.endswith("_fen")}
    return all(t.has(key) and _placeholders(t(key)) <= given for t in (ZH, EN))


def test_every_route_check_has_a_code_with_words_in_both_catalogues() -> None:
    """A route's own check (`invalid`, and the services' refusals the routes pass on) names its
    kind, and the console has words for it in every language, filled from what the API sends."""
    lacking, wordless = [], []
    for name, code_at in (("invalid", 2), ("InvalidPoInput", 2), ("InvalidTransfer", 2)):
        for where, call in _calls(name):
            if where.startswith("api/errors.py:"):
                continue  # refused(): a StockError's own words (the stock rules have no codes yet)
            code_arg = call.args[code_at] if len(call.args) > code_at else None
            code_kw = next((k.value for k in call.keywords if k.arg == "code"), None)
            if (code_arg or code_kw) is None:
                lacking.append(where)
                continue
            code = _literal(code_arg or code_kw)
            ctx = {k.arg for k in call.keywords if k.arg not in (None, "code")}
            keys = (f"refusal.code.{code}", f"refusal.whole.{code}")
            if code is not None and not any(_words_fit(k, ctx) for k in keys):
                wordless.append(f"{where} {code}")
    assert (lacking, wordless) == ([], [])


def test_every_named_reason_has_words_in_both_catalogues() -> None:
    wordless = []
    for where, call in _calls("conflict"):
        reason = _literal(next((k.value for k in call.keywords if k.arg == "reason"), None))
        given = {k.arg for k in call.keywords if k.arg is not None}
        if reason is not None and not _words_fit(f"refusal.reason.{reason}", given):
            wordless.append(f"{where} {reason}")
    assert wordless == []
