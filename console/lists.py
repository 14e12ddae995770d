"""What every console list shares: filters read from the page's query string and checked
before they reach /v1, the page number and one page of a /v1 list, the canonical URL htmx pushes,
the streamed CSV/XLSX export of exactly the filtered rows, and the answer to an action (back to
the page it came from, or the API's refusal in the page)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from console.client import ApiClient, Json, NotFound
from console.export import download, every_row
from console.i18n import Translator
from console.pages import translator

PAGE_SIZE: Final = 50
INT32: Final = 2**31

Check = Callable[[str], bool]


def an_id(value: str) -> bool:
    return value.isdigit() and 0 < int(value) < INT32


def a_flag(value: str) -> bool:
    return value in ("true", "false")


def a_number(value: str) -> bool:
    """A business number (SO…, PK…, RC…): letters, digits and dashes."""
    return 0 < len(value) <= 64 and all(c.isalnum() or c in "-_" for c in value)


def one_of(*choices: str) -> Check:
    return lambda value: value in choices


@dataclass(frozen=True)
class Filters:
    """A list's filters as the query string holds them (text; empty = no filter), the ones
    that were invalid (dropped, named on the page), and the sort when the list has one."""

    values: dict[str, str]
    invalid: list[str] = field(default_factory=list)
    default_sort: str = ""

    @classmethod
    def read(
        cls, query: Mapping[str, str], checks: Mapping[str, Check], default_sort: str = ""
    ) -> Filters:
        values: dict[str, str] = {}
        invalid: list[str] = []
        for name, check in checks.items():
            value = query.get(name, "").strip()
            if value and not check(value):
                invalid.append(name)
                value = ""
            values[name] = value
        if "sort" in checks and not values["sort"]:
            values["sort"] = default_sort
        return cls(values, invalid, default_sort)

    def __getitem__(self, name: str) -> str:
        return self.values.get(name, "")

    def api_params(self, *leave_out: str) -> dict[str, str]:
        return {k: v for k, v in self.values.items() if v and k not in leave_out}

    def query(self, **extra: object) -> str:
        """The query string of these filters (and extras such as the page), for links."""
        pairs = {
            k: v
            for k, v in self.values.items()
            if v and not (k == "sort" and v == self.default_sort)
        }
        pairs.update({k: str(v) for k, v in extra.items() if v not in ("", None)})
        return urlencode(pairs)


def page_number(query: Mapping[str, str]) -> int:
    raw = query.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 10**6 else 1


async def fetch_page(api: ApiClient, path: str, params: Mapping[str, Any], page: int) -> Json:
    """One page of a /v1 list, with `page`, `pages` and `count` for the pager."""
    answer = await api.get(path, {**params, "skip": (page - 1) * PAGE_SIZE, "limit": PAGE_SIZE})
    count = int(answer["count"])
    if answer.get("count_capped"):  # the API stopped counting: a full page may have a next one
        full = len(answer["data"]) == PAGE_SIZE
        return {"rows": answer["data"], "count": f"{count:,}+", "page": page, "pages": page + full}
    return {
        "rows": answer["data"],
        "count": count,
        "page": page,
        "pages": max(1, -(-count // PAGE_SIZE)),
    }


async def warehouse_names(api: ApiClient) -> dict[int, str]:
    """The warehouses the person may see (the API limits the list to their scope)."""
    answer = await api.get("/v1/warehouses", {"limit": 500})
    return {w["id"]: f"{w['name']} ({w['code']})" for w in answer["data"]}


def yes_no(t: Translator, flag: bool) -> str:
    return t("wh.yes") if flag else t("wh.no")


Produce = Callable[[ApiClient, Translator], AsyncIterator[Sequence[str]]]


@dataclass(frozen=True)
class FromList:
    """The rows of a /v1 list under its filters, fetched page by page; a row `row` answers
    None for is left out (a filter the console applies to a short list)."""

    path: str
    params: dict[str, Any]
    row: Callable[[Json, Translator], Sequence[str] | None]

    async def __call__(self, api: ApiClient, t: Translator) -> AsyncIterator[Sequence[str]]:
        async for item in every_row(api, self.path, self.params):
            shown = self.row(item, t)
            if shown is not None:
                yield shown


from_list = FromList


async def export(
    request: Request,
    api: ApiClient,
    kind: str,
    name: str,
    header: Sequence[str],
    produce: Produce,
) -> Response:
    """The filtered rows as a streamed CSV or XLSX download, fetched with the person's own
    token while the file is written (the page's client is closed by then). A list the API
    refuses (a warehouse outside the person's scope) is refused before the download starts."""
    if kind not in ("csv", "xlsx"):
        raise NotFound
    if isinstance(produce, FromList):
        await api.get(produce.path, {**produce.params, "limit": 1})
    t = translator(request)

    def rows(own: ApiClient) -> AsyncIterator[Sequence[str]]:
        return produce(own, t)

    return download(request, kind=kind, name=name, sheet=name, header=header, rows=rows)


def back_to(request: Request, path: str, **query: object) -> Response:
    """After an action: the page that shows its result (303, so a reload does not repeat it)."""
    root = str(request.scope.get("root_path", ""))
    pairs = urlencode({k: str(v) for k, v in query.items() if v not in ("", None)})
    return RedirectResponse(f"{root}{path}" + (f"?{pairs}" if pairs else ""), status_code=303)


def fragment_url(request: Request, path: str, filters: Filters, page: int) -> str:
    """The canonical, shareable URL of a list's rows (htmx pushes it to the address bar)."""
    root = str(request.scope.get("root_path", ""))
    query = filters.query(page=page if page > 1 else "")
    return f"{root}{path}" + (f"?{query}" if query else "")
