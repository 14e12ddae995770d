"""Paginated lists: `?skip=&limit=` in, `{"data": [...], "count": total}` out."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.schemas.types import SkipParam

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    data: list[T]
    count: int


class PageParams(BaseModel):
    skip: int
    limit: int


def page_params(
    skip: Annotated[SkipParam, Query(description="Rows to skip")] = 0,
    limit: Annotated[int, Query(ge=1, le=500, description="Rows to return")] = 50,
) -> PageParams:
    return PageParams(skip=skip, limit=limit)


Paging = Annotated[PageParams, Depends(page_params)]


async def fetch_page(
    session: AsyncSession, query: Select[Any], paging: PageParams
) -> tuple[list[Any], int]:
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = (await session.scalars(query.offset(paging.skip).limit(paging.limit))).all()
    return list(rows), int(total or 0)
