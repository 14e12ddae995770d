"""What the purchasing and finance pages share beyond every list's mechanics (console/lists.py):
names of suppliers, amounts, refusals shown next to their fields, a form's feedback."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, get_args

from fastapi import Request

from console.client import ApiClient, Refused
from console.export import every_row
from console.i18n import Translator
from models.contracts.purchasing import PoStatus

PO_STATUSES: Final = get_args(PoStatus)
PO_SORTS: Final = ("-created_at", "created_at", "-amount_fen", "amount_fen")
SUPPLIER_STATUSES: Final = ("pending", "approved", "suspended")
EDITOR_ROWS: Final = 3  # empty line rows a new PO form starts with
MAX_ROWS: Final = 200  # the API's most lines per PO
OPEN_FOR_RECEIPTS: Final = ("sent", "receiving")


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
        found.setdefault(name, refusal.message_of(error))
    if not found:
        found[""] = refusal.detail
    return found


def label_of(t: Translator, prefix: str, value: str) -> str:
    key = f"{prefix}.{value}"
    return t(key) if t.has(key) else value


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
