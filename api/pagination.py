"""Paginated lists: `?skip=&limit=` in, `{"data": [...], "count": total, "count_capped": bool}`
out. Counting stops at COUNT_CAP rows: a filter that matches half a million orders answers in the
time of a thousand (DESIGN §10: every list page ≤ 300 ms at a million orders); such a page says
`count_capped: true`, and a client pages on until a page comes back shorter than its limit."""

from __future__ import annotations

from typing import Annotated, Any, Final, Generic, Self, TypeVar

from fastapi import Depends, Query
from pydantic import (
    BaseModel,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.schemas.types import SkipParam

T = TypeVar("T")
COUNT_CAP: Final = 1_000


class Page(BaseModel, Generic[T]):
    data: list[T]
    count: int = Field(description=f"rows matching the filters, counted up to {COUNT_CAP:,}")
    count_capped: bool = Field(
        default=False,
        description=f"true: more than {COUNT_CAP:,} rows match (count is {COUNT_CAP:,}); page on "
        "until a page holds fewer rows than its limit",
    )

    @model_validator(mode="after")
    def _capped(self) -> Self:
        """A count fetch_page stopped at (COUNT_CAP + 1) is shown as the cap, flagged."""
        if self.count > COUNT_CAP:
            self.count, self.count_capped = COUNT_CAP, True
        return self

    @model_serializer(mode="wrap")
    def _flag_only_when_capped(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """`count_capped` is sent only when true: a list whose count is exact answers as it
        always did."""
        shown: dict[str, Any] = handler(self)
        if not self.count_capped:
            shown.pop("count_capped", None)
        return shown


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
    matching = query.order_by(None).limit(COUNT_CAP + 1).subquery()
    total = await session.scalar(select(func.count()).select_from(matching))
    rows = (await session.scalars(query.offset(paging.skip).limit(paging.limit))).all()
    return list(rows), int(total or 0)
