"""Customers as records (DESIGN §6.7, §9): the storefront upserts its customers under its own
customer key (the `customer_id` its orders carry); staff search them by phone, name or order
number and see their orders, after-sales and coupons, the phone and addresses masked until they
reveal them (pii.read, audited like an order's contact)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Query
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Session, Writer, require, writer
from api.errors import not_found
from api.order_views import contact_from
from api.pagination import Paging, fetch_page
from api.routing import Routes
from api.schemas.customers import (
    CustomerAfterSale,
    CustomerAfterSalesPublic,
    CustomerCouponPublic,
    CustomerCouponsPublic,
    CustomerPublic,
    CustomersPublic,
    CustomerUpsert,
    RevealedCustomer,
)
from api.schemas.orders import OrdersPublic, OrderSummary
from api.schemas.types import BigIdParam, TextParam
from models.db import AfterSale, Coupon, Customer, CustomerCoupon, Order
from services import customers
from services.customers import CustomerData

router = Routes(prefix="/v1/customers", tags=["customers"])
Read = Depends(require("customers.read"))
CustomerSort = Literal["-created_at", "created_at", "name", "-name"]
REVEALED = ["name", "phone", "addresses"]  # what a reveal shows; the audit row names these only


def customer_public(customer: Customer, *, masked: bool) -> CustomerPublic:
    contact = {"name": customer.name, "phone": customer.phone}
    return CustomerPublic(
        id=customer.id,
        customer_key=customer.customer_key,
        api_key_id=customer.api_key_id,
        channel=customer.channel,
        contact=contact_from(contact, masked=masked),
        addresses=[contact_from(a, masked=masked) for a in customer.addresses],
        masked=masked,
        created_at=customer.created_at,
        updated_at=customer.updated_at,
    )


async def _customer(session: AsyncSession, customer_id: int) -> Customer:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise not_found("customer", customer_id)
    return customer


@router.put("/{customer_key}")
async def upsert_customer(
    customer_key: BigIdParam,
    body: CustomerUpsert,
    w: Annotated[Writer, Depends(writer("customers.write"))],
) -> CustomerPublic:
    """The storefront's customer `customer_key` created or replaced; the storefront sent the
    data and sees it whole."""
    data = CustomerData(
        name=body.name,
        phone=body.phone,
        channel=body.channel,
        addresses=[a.model_dump() for a in body.addresses],
    )
    customer, created = await customers.upsert_customer(
        w.session, w.principal.id, customer_key, data
    )
    shown = customer_public(customer, masked=False)
    action = "customer.create" if created else "customer.update"
    await w.commit(action, "customer", customer.id, {"customer_key": customer_key})
    return shown


@router.get("", dependencies=[Read])
async def list_customers(
    session: Session,
    paging: Paging,
    q: Annotated[
        TextParam | None, Query(description="a phone's first digits, part of a name, an order no")
    ] = None,
    sort: Annotated[
        CustomerSort, Query(description="column to sort by; a leading `-` sorts descending")
    ] = "-created_at",
) -> CustomersPublic:
    rows, count = await fetch_page(session, customers.search(q, sort), paging)
    return CustomersPublic(data=[customer_public(c, masked=True) for c in rows], count=count)


@router.get("/{customer_id}", dependencies=[Read])
async def get_customer(customer_id: BigIdParam, session: Session) -> CustomerPublic:
    return customer_public(await _customer(session, customer_id), masked=True)


@router.post("/{customer_id}/reveal")
async def reveal_customer(
    customer_id: BigIdParam, w: Annotated[Writer, Depends(writer("pii.read"))]
) -> RevealedCustomer:
    """The customer's phone, name and addresses unmasked; the audit log records who saw which
    fields (not what)."""
    shown = customer_public(await _customer(w.session, customer_id), masked=False)
    await w.commit("customer.reveal_contact", "customer", customer_id, {"fields": REVEALED})
    return RevealedCustomer(contact=shown.contact, addresses=shown.addresses)


@router.get("/{customer_id}/orders", dependencies=[Read, Depends(require("orders.read"))])
async def customer_orders(
    customer_id: BigIdParam, session: Session, paging: Paging
) -> OrdersPublic:
    customer = await _customer(session, customer_id)
    rows, count = await fetch_page(session, customers.orders_of(customer), paging)
    return OrdersPublic(data=[OrderSummary.model_validate(r) for r in rows], count=count)


@router.get("/{customer_id}/after-sales", dependencies=[Read, Depends(require("aftersales.read"))])
async def customer_after_sales(
    customer_id: BigIdParam, session: Session, paging: Paging
) -> CustomerAfterSalesPublic:
    customer = await _customer(session, customer_id)
    placed = customers.orders_of(customer).with_only_columns(Order.order_no).order_by(None)
    query = (
        select(AfterSale)
        .where(AfterSale.order_no.in_(placed))
        .order_by(AfterSale.requested_at.desc(), AfterSale.as_no.desc())
    )
    rows, count = await fetch_page(session, query, paging)
    return CustomerAfterSalesPublic(
        data=[CustomerAfterSale.model_validate(r) for r in rows], count=count
    )


@router.get("/{customer_id}/coupons", dependencies=[Read])
async def customer_coupons(
    customer_id: BigIdParam, session: Session, paging: Paging
) -> CustomerCouponsPublic:
    """Coupons issued to the customer (by segment batches), newest first; `used` while one of
    the customer's orders uses it (given back when that order is cancelled or refunded)."""
    customer = await _customer(session, customer_id)
    query = (
        select(
            Coupon.code,
            CustomerCoupon.batch_id,
            CustomerCoupon.issued_at,
            CustomerCoupon.used_order_no.is_not(None).label("used"),
            CustomerCoupon.used_order_no,
        )
        .join(Coupon, Coupon.id == CustomerCoupon.coupon_id)
        .where(CustomerCoupon.customer_id == customer.id)
        .order_by(CustomerCoupon.issued_at.desc(), CustomerCoupon.id.desc())
    )
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = await session.execute(query.offset(paging.skip).limit(paging.limit))
    return CustomerCouponsPublic(
        data=[CustomerCouponPublic.model_validate(r._mapping) for r in rows],
        count=int(total or 0),
    )
