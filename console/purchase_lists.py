"""What the purchasing and finance pages share: list filters and pages, names of warehouses
and suppliers, amounts, refusals shown next to their fields."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, get_args
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response

from console.client import ApiClient, Refused
from console.export import every_row
from console.i18n import Translator
from console.pages import (
    Viewer,
)
from models.contracts.purchasing import PoStatus

PAGE_SIZE: Final = 50
PO_STATUSES: Final = get_args(PoStatus)
PO_SORTS: Final = ("-created_at", "created_at", "-amount_fen", "amount_fen")
SUPPLIER_STATUSES: Final = ("pending", "approved", "suspended")
EDITOR_ROWS: Final = 3  # empty line rows a new PO form starts with
MAX_ROWS: Final = 200  # the API's most lines per PO
OPEN_FOR_RECEIPTS: Final = ("sent", "receiving")


# --- shared list mechanics (the finance part uses them too) ------------------------------------


def page_number(query: Mapping[str, str]) -> int:
    raw = query.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 10**6 else 1


def is_id(value: str) -> bool:
    return value.isdigit() and 0 < int(value) < 2**31


@dataclass(frozen=True)
class Filters:
    """A list's filters as its query string holds them (text; empty = no filter), each checked
    by its rule; invalid ones are dropped and named on the page."""

    values: dict[str, str]
    defaults: dict[str, str]

    @classmethod
    def read(
        cls, query: Mapping[str, str], rules: Mapping[str, Callable[[str], bool]], **defaults: str
    ) -> tuple[Filters, list[str]]:
        values = {name: query.get(name, "").strip() for name in rules}
        invalid = [n for n, v in values.items() if v and not rules[n](v)]
        for name in invalid:
            values[name] = ""
        for name, default in defaults.items():
            values[name] = values[name] or default
        return cls(values, dict(defaults)), invalid

    def __getitem__(self, name: str) -> str:
        return self.values[name]

    def api_params(self) -> dict[str, str]:
        return {k: v for k, v in self.values.items() if v}

    def query(self, **extra: object) -> str:
        pairs = {k: v for k, v in self.values.items() if v and v != self.defaults.get(k, object())}
        pairs.update({k: str(v) for k, v in extra.items()})
        return urlencode(pairs)


async def listing(
    request: Request, viewer: Viewer, path: str, params: dict[str, Any]
) -> dict[str, Any]:
    """One page of an API list: rows, count, page, pages."""
    page = page_number(request.query_params)
    answer = await viewer.api.get(
        path, {**params, "skip": (page - 1) * PAGE_SIZE, "limit": PAGE_SIZE}
    )
    count = int(answer["count"])
    return {
        "rows": answer["data"],
        "count": count,
        "page": page,
        "pages": max(1, -(-count // PAGE_SIZE)),
    }


def pushed(request: Request, response: Response, path: str, query: str) -> Response:
    """A list's rows fragment says the canonical URL of what is on screen."""
    root = str(request.scope.get("root_path", ""))
    response.headers["HX-Push-Url"] = f"{root}{path}" + (f"?{query}" if query else "")
    return response


def yuan(fen: int) -> str:
    """Fen as plain yuan for exports (no symbol, no separators): 3334 → 33.34."""
    sign = "-" if fen < 0 else ""
    whole, rest = divmod(abs(fen), 100)
    return f"{sign}{whole}.{rest:02d}"


def refusal_fields(refusal: Refused) -> dict[str, str]:
    """The API's 422 errors by the field they name (`lines.0.quantity`), else under ''."""
    found: dict[str, str] = {}
    for error in refusal.problem.get("errors") or []:
        name = str(error.get("field") or "")
        name = re.sub(r"^body\.", "", name)
        found.setdefault(name, str(error.get("message") or refusal.detail))
    if not found:
        found[""] = refusal.detail
    return found


def label_of(t: Translator, prefix: str, value: str) -> str:
    key = f"{prefix}.{value}"
    return t(key) if t.has(key) else value


async def warehouse_names(api: ApiClient) -> dict[int, str]:
    answer = await api.get("/v1/warehouses", {"limit": 500})
    return {w["id"]: f"{w['name']} ({w['code']})" for w in answer["data"]}


async def supplier_names(api: ApiClient) -> dict[int, str]:
    names: dict[int, str] = {}
    async for s in every_row(api, "/v1/suppliers", {}):
        names[s["id"]] = f"{s['name']} ({s['code']})"
    return names


@dataclass(frozen=True)
class Feedback:
    """What a page says next to one of its forms after a post."""

    form: str = ""  # which form: "submit", "approve", "reject", "cancel", "close", ...
    message: str | None = None  # a catalogue key
    refusal: str | None = None  # the API's own words
    reason: str = ""  # what the person typed


async def form_fields(request: Request) -> dict[str, str]:
    """The posted form's text fields."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}
