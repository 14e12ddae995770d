"""What the catalog, marketing and admin parts share: the other verbs of /v1 (PATCH, PUT,
DELETE), list pages of an API list (pages, a count the API may cap), streamed exports of exactly
the filtered rows, and forms that show the API's refusals next to the field at fault."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Final
from urllib.parse import urlencode

from fastapi import Request

from console.client import ApiClient, Json, Refused
from console.i18n import Translator
from console.money import AmountError, parse_fen
from console.security import CSRF_FIELD, check_csrf
from models.domain.business_day import BUSINESS_TZ

PAGE_SIZE: Final = 50


def page_number(query: Mapping[str, str]) -> int:
    raw = query.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 10**6 else 1


@dataclass(frozen=True)
class ListPage:
    """One page of an API list. `capped`: the API stopped counting (count is a floor), so the
    page shows "more than N" and keeps a next link while its page is full."""

    rows: list[Json]
    count: int
    capped: bool
    page: int
    size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, -(-self.count // self.size))

    @property
    def has_next(self) -> bool:
        if self.capped:
            return len(self.rows) == self.size
        return self.page < self.pages


async def fetch_list(
    api: ApiClient, path: str, params: Mapping[str, Any], query: Mapping[str, str]
) -> ListPage:
    page = page_number(query)
    answer = await api.get(path, {**params, "skip": (page - 1) * PAGE_SIZE, "limit": PAGE_SIZE})
    return ListPage(
        rows=answer["data"],
        count=int(answer["count"]),
        capped=bool(answer.get("count_capped", False)),
        page=page,
    )


def query_string(values: Mapping[str, str], **extra: object) -> str:
    pairs = {k: v for k, v in values.items() if v}
    pairs.update({k: str(v) for k, v in extra.items()})
    return urlencode(pairs)


def day_start(text: str, *, next_day: bool = False) -> str | None:
    """The start of a day (YYYY-MM-DD, Asia/Shanghai) as an instant; None when not a day."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    if next_day:
        day += timedelta(days=1)
    return datetime.combine(day, time(0), tzinfo=BUSINESS_TZ).isoformat()


def yuan(fen: int | None) -> str:
    """Fen as plain yuan for exports (2 decimals, no sign or separators)."""
    if fen is None:
        return ""
    return f"{fen // 100}.{fen % 100:02d}"


@dataclass
class Form:
    """A form's values as typed, and the errors to show next to its fields: the console's own
    (a catalogue key, e.g. an amount that is not exact) or the API's words."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # field -> text to show
    refusal: str | None = None  # the API's words when no field of the form is named
    name: str = ""  # which form of the page (a page may have several)
    lists: dict[str, list[str]] = field(default_factory=dict)  # every value of repeated fields

    def get(self, key: str, default: str = "") -> str:
        return self.values.get(key, default)

    def amount(self, key: str, t: Translator, *, optional: bool = False) -> int | None:
        """The field's text parsed exactly to fen; an error next to it when it is not exact."""
        text = self.get(key).strip()
        if not text and optional:
            return None
        try:
            return parse_fen(text)
        except AmountError:
            self.errors[key] = t("form.amount_invalid", text=text)
            return None

    def integer(self, key: str, t: Translator, *, optional: bool = False) -> int | None:
        text = self.get(key).strip()
        if not text and optional:
            return None
        if text.isdigit() and int(text) < 2**31:
            return int(text)
        self.errors[key] = t("form.integer_invalid", text=text)
        return None

    def refused(self, refusal: Refused, fields: Mapping[str, str] | None = None) -> None:
        """The API's refusal placed next to the fields it names (API field -> form field, else
        the field's last segment, else its first: `roles.0` is the roles field); what names no
        field of the form goes on top."""
        named = False
        for error in refusal.problem.get("errors") or []:
            api_field = str(error.get("field", ""))
            candidates = ((fields or {}).get(api_field), api_field.rsplit(".", 1)[-1])
            target = next((c for c in candidates if c and c in self.values), None)
            target = target or api_field.split(".", 1)[0]
            if api_field and target in self.values:
                message = refusal.message_of(error)
                self.errors[target] = message
                named = True
        if not named:
            self.refusal = refusal.detail


def once_key(form: Form | None, name: str, prefix: str) -> str:
    """A form's one-time key, sent as its request's idempotency key: new for each form shown,
    the posted one when the form `name` comes back refused, so a post sent twice acts once."""
    posted = form.get("key").strip() if form is not None and form.name == name else ""
    return posted[:100] if posted else f"{prefix}-{secrets.token_urlsafe(16)}"


async def form_of(request: Request, name: str = "") -> Form:
    """The posted form, after its CSRF token is checked (refused: the CSRF page)."""
    data = await request.form()
    submitted = data.get(CSRF_FIELD)
    check_csrf(request, submitted if isinstance(submitted, str) else None)
    values = {k: v for k, v in data.items() if isinstance(v, str) and k != CSRF_FIELD}
    lists = {k: [v for v in data.getlist(k) if isinstance(v, str)] for k in data}
    return Form(values=values, lists=lists, name=name)
