"""houtai's search attributes: what an operator finds workflows by in Temporal visibility
(`temporal workflow list --query "HoutaiStatus='awaiting_payment'"`, the Temporal UI).

The typed keys are defined here, once: workflows set them with `show`, and the registration
(the dev server's `--search-attribute`, `houtai migrate`, the test servers) reads SEARCH_ATTRIBUTES.
Values: the business number (`SO…`, `PK…`, `PO…`, `WV…`, `AS…`), the workflow's own status
word, the warehouse id (as text), and whether the process escalated (an SLA passed)."""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
)

from workflows.common import patched

BUSINESS_NO = SearchAttributeKey.for_keyword("HoutaiBusinessNo")
STATUS = SearchAttributeKey.for_keyword("HoutaiStatus")
WAREHOUSE = SearchAttributeKey.for_keyword("HoutaiWarehouse")
ESCALATED = SearchAttributeKey.for_bool("HoutaiEscalated")
SEARCH_ATTRIBUTES: tuple[SearchAttributeKey[Any], ...] = (BUSINESS_NO, STATUS, WAREHOUSE, ESCALATED)

# Runs from before this patch set no search attributes: replayed, they still set none.
VISIBILITY_PATCH = "visibility-search-attributes"
# A parent gives a child it starts the attributes the child's first `show` sets (`at_start`):
# the child upserts none then. Older parents started their children without.
START_PATCH = "search-attributes-at-start"


def kind(key: SearchAttributeKey[Any]) -> str:
    """The type as the Temporal CLI spells it (`Keyword`, `Bool`, `KeywordList`)."""
    return "".join(word.capitalize() for word in key.indexed_value_type.name.split("_"))


def _wanted(
    business_no: str | None, status: str | None, warehouse: int | None, escalated: bool | None
) -> list[tuple[SearchAttributeKey[Any], Any]]:
    wanted: list[tuple[SearchAttributeKey[Any], Any]] = [
        (BUSINESS_NO, business_no),
        (STATUS, status),
        (WAREHOUSE, None if warehouse is None else str(warehouse)),
        (ESCALATED, escalated),
    ]
    return [(key, value) for key, value in wanted if value is not None]


def at_start(
    *,
    business_no: str | None = None,
    status: str | None = None,
    warehouse: int | None = None,
    escalated: bool | None = None,
) -> TypedSearchAttributes:
    """The attributes a workflow's first `show` sets, for its starter to give with the start:
    the workflow is listed with them from its start, and that `show` has nothing to upsert (an
    event and a visibility write fewer). Pass what the workflow's first `show` passes."""
    pairs = _wanted(business_no, status, warehouse, escalated)
    return TypedSearchAttributes([SearchAttributePair(key, value) for key, value in pairs])


def show(
    *,
    business_no: str | None = None,
    status: str | None = None,
    warehouse: int | None = None,
    escalated: bool | None = None,
) -> None:
    """Upsert the given attributes that differ from the workflow's current ones (one command,
    none when nothing changed). Call it where the workflow's status (or escalation) changes."""
    current = workflow.info().typed_search_attributes
    updates: list[SearchAttributeUpdate[Any]] = [
        key.value_set(value)
        for key, value in _wanted(business_no, status, warehouse, escalated)
        if current.get(key) != value
    ]
    if updates and patched(VISIBILITY_PATCH):
        workflow.upsert_search_attributes(updates)
