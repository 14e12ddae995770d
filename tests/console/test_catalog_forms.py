"""Pure parts of the catalog, marketing and admin pages: pages of a list whose count the API
caps, exports that do not stop at a capped count, the category tree, rule lines, refusals placed
next to the field the API names."""

from __future__ import annotations

from typing import Any

import httpx

from console.catalog import category_tree
from console.catalog_forms import Form, ListPage
from console.client import ApiClient, Json, Refused
from console.export import every_row
from console.i18n import Translator
from console.marketing import parse_rules, rules_text

ZH = Translator("zh_CN")


def test_a_capped_count_keeps_a_next_link_while_the_page_is_full() -> None:
    full = ListPage(rows=[{}] * 50, count=1000, capped=True, page=20)
    assert full.has_next  # page 21 exists although 1000 / 50 = 20 pages
    short = ListPage(rows=[{}] * 7, count=1000, capped=True, page=23)
    assert not short.has_next
    exact = ListPage(rows=[{}] * 50, count=1000, capped=False, page=20)
    assert not exact.has_next and exact.pages == 20
    assert ListPage(rows=[], count=0, capped=False, page=1).pages == 1


class _Pages(ApiClient):
    """An API of `total` rows that stops counting at `cap`."""

    def __init__(self, total: int, cap: int | None) -> None:
        super().__init__(httpx.AsyncClient())
        self.total, self.cap, self.calls = total, cap, 0

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Json:
        assert params is not None
        self.calls += 1
        skip, limit = params["skip"], params["limit"]
        rows = [{"id": i} for i in range(skip, min(skip + limit, self.total))]
        capped = self.cap is not None and self.total > self.cap
        count = min(self.total, self.cap) if self.cap is not None else self.total
        return {"data": rows, "count": count, "count_capped": capped}


async def test_an_export_reads_past_a_capped_count_and_stops_at_the_end() -> None:
    capped = _Pages(total=1234, cap=1000)
    assert [row["id"] async for row in every_row(capped, "/v1/x", {})] == list(range(1234))
    exact = _Pages(total=1000, cap=None)
    assert len([row async for row in every_row(exact, "/v1/x", {})]) == 1000
    assert exact.calls == 2  # 500 + 500, and the count says that is all


def test_categories_come_in_tree_order_with_their_depth() -> None:
    rows = [
        {"id": 1, "parent_id": None, "name": "食品"},
        {"id": 2, "parent_id": 1, "name": "零食"},
        {"id": 3, "parent_id": None, "name": "美妆"},
        {"id": 4, "parent_id": 2, "name": "坚果"},
        {"id": 5, "parent_id": 99, "name": "孤儿"},
    ]
    assert [(d, c["name"]) for d, c in category_tree(rows)] == [
        (0, "食品"),
        (1, "零食"),
        (2, "坚果"),
        (0, "美妆"),
        (0, "孤儿"),
    ]


def test_rule_lines_are_parsed_exactly_and_shown_back_the_same() -> None:
    form = Form(values={"rules": "310000 320000; 1; 6.5; 1; 1.05\n\n*; 1000; 9; 500; 0.3"})
    rules = parse_rules(form, ZH)
    assert rules == [
        {"regions": ["310000", "320000"], "is_default": False, "first_units": 1,
         "first_price_fen": 650, "additional_units": 1, "additional_price_fen": 105},
        {"regions": [], "is_default": True, "first_units": 1000,
         "first_price_fen": 900, "additional_units": 500, "additional_price_fen": 30},
    ]  # fmt: skip
    assert (
        rules_text({"rules": rules}) == "310000 320000; 1; 6.50; 1; 1.05\n*; 1000; 9.00; 500; 0.30"
    )
    bad = Form(values={"rules": "*; 1; 9; 1; 2\n310000; 1; 6.505; 1; 1"})
    assert parse_rules(bad, ZH) is None and "第 2 行" in bad.errors["rules"]


def test_a_refusal_stands_next_to_the_field_it_names_else_on_top() -> None:
    problem = {
        "detail": "skus.0.list_price_fen: too big",
        "errors": [{"field": "skus.0.list_price_fen", "message": "too big"}],
    }
    form = Form(values={"price": "1", "name": "x"})
    form.refused(Refused(422, problem), {"skus.0.list_price_fen": "price"})
    assert form.errors == {"price": "too big"} and form.refusal is None
    roles = Form(values={"roles": ""})
    roles.refused(Refused(422, {"detail": "d", "errors": [{"field": "roles.0", "message": "no"}]}))
    assert roles.errors == {"roles": "no"}
    elsewhere = Form(values={"name": "x"})
    elsewhere.refused(Refused(409, {"detail": "already exists (uq_x)", "errors": [{}]}))
    assert elsewhere.errors == {} and elsewhere.refusal == "already exists (uq_x)"
    amount = Form(values={"price": "33.345"})
    assert amount.amount("price", ZH) is None and "33.345" in amount.errors["price"]
    assert Form(values={"price": "33.34"}).amount("price", ZH) == 3334
