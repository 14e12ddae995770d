"""Small helpers the reference-data routes share: lookups that 404 and references that 422."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import invalid, not_found
from models.db import Base

M = TypeVar("M", bound=Base)


async def get_or_404(session: AsyncSession, model: type[M], ident: Any, kind: str) -> M:
    row = await session.get(model, ident)
    if row is None:
        raise not_found(kind, ident)
    return row


async def check_refs(session: AsyncSession, refs: dict[str, tuple[type[Base], Any]]) -> None:
    """422 naming the field when a referenced object does not exist (None means unset)."""
    for field, (model, ident) in refs.items():
        if ident is not None and await session.get(model, ident) is None:
            said = ident if isinstance(ident, int) else str(ident)
            raise invalid(field, f"no such object: {ident}", "unknown_object", id=said)


def apply_update(
    row: Base, update: BaseModel, *, exclude: set[str] | None = None
) -> dict[str, Any]:
    """Set the fields the client sent; returns them for the audit detail."""
    changes = update.model_dump(exclude_unset=True, exclude=exclude, mode="json")
    for name in changes:
        setattr(row, name, getattr(update, name))
    return changes
