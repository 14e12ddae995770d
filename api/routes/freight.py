"""Freight routes: templates with their region rules, and the platform freight policy."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from fastapi import Depends
from sqlalchemy import delete, select

from api.crud import get_or_404
from api.deps import Session, Writer, require, writer
from api.errors import invalid
from api.pagination import Paging, fetch_page
from api.routing import Routes
from api.schemas.freight import (
    FreightPolicyBody,
    FreightPolicyPublic,
    FreightQuoteRequest,
    FreightRulePublic,
    FreightTemplateBody,
    FreightTemplateCreate,
    FreightTemplatePublic,
    FreightTemplateReplace,
    FreightTemplatesPublic,
)
from api.schemas.types import IdParam
from models.contracts.pricing import FreightItem, FreightQuote, FreightRequest
from models.db import FreightPolicy, FreightRule, FreightTemplate
from models.domain.freight import (
    MissingFreightRuleError,
    MissingFreightTemplateError,
    UnserviceableRegionError,
    quote_freight,
)
from services.pricing_inputs import UnknownSkusError, freight_setup, sku_facts

router = Routes(prefix="/v1", tags=["freight"])
Read = Depends(require("freight.read"))
Write = Annotated[Writer, Depends(writer("freight.write"))]


async def _public(session: Session, template: FreightTemplate) -> FreightTemplatePublic:
    rules = await session.scalars(
        select(FreightRule).where(FreightRule.template_id == template.id).order_by(FreightRule.id)
    )
    public = FreightTemplatePublic.model_validate(template)
    public.rules = [FreightRulePublic.model_validate(r) for r in rules]
    return public


async def _write_rules(w: Writer, template_id: int, body: FreightTemplateBody) -> None:
    await w.session.execute(delete(FreightRule).where(FreightRule.template_id == template_id))
    w.session.add_all(FreightRule(template_id=template_id, **r.model_dump()) for r in body.rules)
    await w.session.flush()


@router.get("/freight-templates", dependencies=[Read])
async def list_freight_templates(session: Session, paging: Paging) -> FreightTemplatesPublic:
    query = select(FreightTemplate).order_by(FreightTemplate.id)
    rows, count = await fetch_page(session, query, paging)
    return FreightTemplatesPublic(data=[await _public(session, r) for r in rows], count=count)


@router.post("/freight-templates", status_code=201)
async def create_freight_template(body: FreightTemplateCreate, w: Write) -> FreightTemplatePublic:
    template = FreightTemplate(**body.model_dump(exclude={"rules"}))
    w.session.add(template)
    await w.session.flush()
    await _write_rules(w, template.id, body)
    await w.commit("freight_template.create", "freight_template", template.id)
    return await _public(w.session, template)


@router.get("/freight-templates/{template_id}", dependencies=[Read])
async def get_freight_template(template_id: IdParam, session: Session) -> FreightTemplatePublic:
    template = await get_or_404(session, FreightTemplate, template_id, "freight template")
    return await _public(session, template)


@router.put("/freight-templates/{template_id}")
async def replace_freight_template(
    template_id: IdParam, body: FreightTemplateReplace, w: Write
) -> FreightTemplatePublic:
    template = await get_or_404(w.session, FreightTemplate, template_id, "freight template")
    for name, value in body.model_dump(exclude={"rules"}).items():
        setattr(template, name, value)
    await _write_rules(w, template.id, body)
    await w.commit(
        "freight_template.replace", "freight_template", template.id, {"rules": len(body.rules)}
    )
    return await _public(w.session, template)


@router.get("/freight-policy", dependencies=[Read])
async def get_freight_policy(session: Session) -> FreightPolicyPublic:
    return FreightPolicyPublic.model_validate(
        await get_or_404(session, FreightPolicy, 1, "freight policy")
    )


@router.put("/freight-policy")
async def set_freight_policy(body: FreightPolicyBody, w: Write) -> FreightPolicyPublic:
    policy = await get_or_404(w.session, FreightPolicy, 1, "freight policy")
    for name, value in body.model_dump().items():
        setattr(policy, name, value)
    await w.commit("freight_policy.set", "freight_policy", 1, body.model_dump())
    return FreightPolicyPublic.model_validate(policy)


@router.post("/freight-quote", dependencies=[Read])
async def quote(body: FreightQuoteRequest, session: Session) -> FreightQuote:
    """What this cart's freight to this region comes to under today's policy and templates, at
    list prices (promotions and coupons would lower the goods amount a free-over threshold sees).
    Nothing is stored."""
    try:
        facts = {
            f.sku_id: f for f in await sku_facts(session, {line.sku_id for line in body.lines})
        }
    except UnknownSkusError as exc:
        raise invalid(
            "lines",
            f"unknown or inactive SKUs: {exc.sku_ids}",
            "unknown_skus",
            sku_ids=_listed(exc.sku_ids),
        ) from exc
    items = [
        FreightItem(
            sku_id=line.sku_id,
            quantity=line.quantity,
            weight_g=facts[line.sku_id].weight_g,
            volume_cm3=facts[line.sku_id].volume_cm3,
            freight_template_id=facts[line.sku_id].freight_template_id,
            paid_fen=facts[line.sku_id].list_price_fen * line.quantity,
        )
        for line in body.lines
    ]
    template_ids = {i.freight_template_id for i in items if i.freight_template_id is not None}
    setup = await freight_setup(session, template_ids)
    try:
        return quote_freight(
            FreightRequest(destination_region=body.region_code, items=items, setup=setup)
        )
    except UnserviceableRegionError as exc:
        raise invalid(
            "region_code",
            f"SKUs {exc.sku_ids} do not ship to {exc.region}",
            "region_not_served",
            sku_ids=_listed(exc.sku_ids),
            region=exc.region,
        ) from exc
    except MissingFreightRuleError as exc:
        raise invalid(
            "region_code",
            f"templates {exc.template_ids} have no rule for it",
            "no_freight_rule",
            template_ids=_listed(exc.template_ids),
            region=exc.region,
        ) from exc
    except MissingFreightTemplateError as exc:
        raise invalid(
            "lines",
            f"SKUs {exc.sku_ids} have no freight template",
            "no_freight_template",
            sku_ids=_listed(exc.sku_ids),
        ) from exc


def _listed(ids: Iterable[object]) -> str:
    """Ids as a message states them to a person: `3, 5`."""
    return ", ".join(str(i) for i in ids)
