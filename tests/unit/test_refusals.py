"""The API's refusals in the console's language (console/refusals.py): an invalid input by its
kind and limits, a business refusal by its reason, the API's own words for what the catalogue
does not know, and none of it when it knows nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.passwords import password_refused
from console.client import Refused
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
    ],
)
def test_each_password_rule_is_said_in_the_pages_language(password: str, words: str) -> None:
    """The policy's rules (models/domain/passwords.py) each carry a code: a rule whose English
    the API does not know would reach a Chinese page in English."""
    refused = password_refused("new_password", password, "xiaowang")
    assert refused is not None and refused.errors[0]["code"]
    assert problem_text({"errors": refused.errors}, ZH) == words
