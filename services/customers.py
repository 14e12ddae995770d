"""Customers as records (DESIGN §6.7): the storefront's upsert by its own customer key, whether
an order names a known customer, and staff search by phone, name or order number."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.db import Customer, Order


@dataclass(frozen=True)
class CustomerData:
    name: str
    phone: str
    channel: str
    addresses: list[dict[str, Any]]


async def upsert_customer(
    session: AsyncSession, api_key_id: int, customer_key: int, data: CustomerData
) -> tuple[Customer, bool]:
    """The storefront's customer as sent now, and whether the record is new (flushed)."""
    values = {
        "name": data.name,
        "phone": data.phone,
        "channel": data.channel,
        "addresses": data.addresses,
    }
    statement = (
        insert(Customer)
        .values(api_key_id=api_key_id, customer_key=customer_key, **values)
        .on_conflict_do_update(
            index_elements=[Customer.api_key_id, Customer.customer_key],
            set_={**values, "updated_at": func.now()},
        )
        .returning(Customer, Customer.created_at == Customer.updated_at)
        .execution_options(populate_existing=True)
    )
    customer, created = (await session.execute(statement)).one()
    return customer, bool(created)


async def is_known(session: AsyncSession, api_key_id: int, customer_key: int) -> bool:
    """Whether the storefront has upserted this customer (orders must name one it has)."""
    found = await session.scalar(
        select(
            exists().where(Customer.api_key_id == api_key_id, Customer.customer_key == customer_key)
        )
    )
    return bool(found)


async def record_id(session: AsyncSession, api_key_id: int, customer_key: int) -> int | None:
    """The id of the storefront's customer `customer_key` (customers.id), None if unknown."""
    found = await session.scalar(
        select(Customer.id).where(
            Customer.api_key_id == api_key_id, Customer.customer_key == customer_key
        )
    )
    return None if found is None else int(found)


async def record_of_order(session: AsyncSession, order: Order) -> int:
    """The customer record an order names (its storefront's customer key); orders name known
    customers, so a missing record is an error (LookupError), never points booked to no one."""
    found = await record_id(session, order.api_key_id, order.customer_id)
    if found is None:
        raise LookupError(
            f"order {order.order_no}: storefront {order.api_key_id} has no customer "
            f"{order.customer_id}"
        )
    return found


async def record_for_quote(
    session: AsyncSession, api_key_id: int | None, customer_key: int
) -> int | None:
    """The record a cart's customer is: by (storefront, key); a quote from a workflow started
    before quotes named their storefront (api_key_id None) takes the key's only record."""
    if api_key_id is not None:
        return await record_id(session, api_key_id, customer_key)
    found = list(
        await session.scalars(select(Customer.id).where(Customer.customer_key == customer_key))
    )
    return int(found[0]) if len(found) == 1 else None


SORTS = {
    "-created_at": (Customer.id.desc(),),  # ids follow creation
    "created_at": (Customer.id,),
    "name": (Customer.name, Customer.id),
    "-name": (Customer.name.desc(), Customer.id.desc()),
}


def search(q: str | None, sort: str = "-created_at") -> Select[Customer]:
    """Customers whose phone starts with `q`, whose name contains it, or who placed the order
    numbered `q`; every customer when `q` is empty. In `sort` order (a SORTS key)."""
    query = select(Customer).order_by(*SORTS[sort])
    if not q:
        return query
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    placed = exists().where(
        Order.order_no == q,
        Order.api_key_id == Customer.api_key_id,
        Order.customer_id == Customer.customer_key,
    )
    return query.where(
        or_(
            Customer.phone.startswith(escaped, autoescape=False),
            Customer.name.contains(escaped, autoescape=False),
            placed,
        )
    )


def orders_of(customer: Customer) -> Select[Order]:
    """The customer's orders, newest first."""
    return (
        select(Order)
        .where(Order.api_key_id == customer.api_key_id, Order.customer_id == customer.customer_key)
        .order_by(Order.placed_at.desc(), Order.order_no.desc())
    )
