"""Freight (DESIGN §7, seed 002 运费模板): `quote_freight(request) -> FreightQuote`.

Platform policy first:

1. `free_over_fen` set and the goods amount (Σ `paid_fen` of the items, i.e. after every
   discount; gifts count 0) reaches it → freight 0, whatever the mode (basis `platform_free`).
2. mode `fixed` → `fixed_fee_fen` (basis `fixed`).
3. mode `templates` → per template (basis `templates`), below.

Per template (SKUs sharing a template are charged once, their units summed):

- units: pieces (Σ quantity), grams (Σ quantity × weight_g) or cm³ (Σ quantity × volume_cm3);
- the destination must not be unserviceable, else `UnserviceableRegionError`;
- the rule: the most specific match of the destination — exact 6-digit code, then its city
  (first 4 digits + "00"), then its province (first 2 digits + "0000") — else the default rule,
  else `MissingFreightRuleError`. Ties at one level: lowest rule id;
- charge: `first_price_fen` covers up to `first_units` (a template with lines is charged at
  least that, even at 0 units); each further `additional_units`, or part of it, adds
  `additional_price_fen`: first + ⌈(units − first) / additional⌉ × additional;
- template `free_over_fen` reached by its items' paid amount → that template charges 0.

Templates combine by the policy's `combine`: `sum` or `max`. Unserviceable regions are checked in
every mode (a template that does not serve a region means the goods do not go there); rules and
templates are required only in `templates` mode, where they are checked even when the platform
threshold makes the order free, so a configuration gap never depends on the cart's value. Every
error names all offending templates at once. Gift items ship like any other (they weigh).
"""

from __future__ import annotations

from collections.abc import Sequence

from models.contracts.pricing import (
    FreightItem,
    FreightQuote,
    FreightRequest,
    FreightRule,
    FreightTemplate,
    TemplateCharge,
)


class UnserviceableRegionError(Exception):
    """Some templates of the order do not ship to the destination."""

    def __init__(self, region: str, template_ids: list[int], sku_ids: list[int]) -> None:
        self.region = region
        self.template_ids = template_ids
        self.sku_ids = sku_ids
        super().__init__(f"templates {template_ids} (SKUs {sku_ids}) do not ship to {region}")


class MissingFreightRuleError(Exception):
    """Some templates have neither a rule for the destination nor a default rule."""

    def __init__(self, region: str, template_ids: list[int], sku_ids: list[int]) -> None:
        self.region = region
        self.template_ids = template_ids
        self.sku_ids = sku_ids
        super().__init__(f"templates {template_ids} (SKUs {sku_ids}) have no rule for {region}")


class MissingFreightTemplateError(Exception):
    """SKUs without a freight template, or naming one the request does not carry."""

    def __init__(self, sku_ids: list[int], template_ids: list[int]) -> None:
        self.sku_ids = sku_ids
        self.template_ids = template_ids
        super().__init__(f"SKUs {sku_ids} lack freight templates (unknown: {template_ids})")


def region_levels(region: str) -> list[str]:
    """The destination's codes from most to least specific: exact, city, province."""
    levels = [region, region[:4] + "00", region[:2] + "0000"]
    return list(dict.fromkeys(levels))


def is_unserviceable(template: FreightTemplate, region: str) -> bool:
    return any(code in template.unserviceable_regions for code in region_levels(region))


def match_rule(template: FreightTemplate, region: str) -> FreightRule | None:
    """The most specific rule for `region`, else the default rule, else None."""
    rules = sorted(template.rules, key=lambda rule: rule.rule_id)
    for code in region_levels(region):
        for rule in rules:
            if code in rule.regions:
                return rule
    return next((rule for rule in rules if rule.is_default), None)


def rule_charge(rule: FreightRule, units: int) -> int:
    """首重 + 续重: each started additional block is charged in full."""
    extra_units = max(units - rule.first_units, 0)
    blocks = -(-extra_units // rule.additional_units)
    return rule.first_price_fen + blocks * rule.additional_price_fen


def units_of(template: FreightTemplate, items: Sequence[FreightItem]) -> int:
    if template.charge_by == "piece":
        return sum(item.quantity for item in items)
    if template.charge_by == "weight":
        return sum(item.quantity * item.weight_g for item in items)
    return sum(item.quantity * item.volume_cm3 for item in items)


def group_by_template(
    items: Sequence[FreightItem], templates: Sequence[FreightTemplate], *, strict: bool
) -> list[tuple[FreightTemplate, list[FreightItem]]]:
    """Items grouped under their templates (by template id). With `strict`, every item must
    name a known template, else `MissingFreightTemplateError`; otherwise such items are skipped."""
    known = {template.template_id: template for template in templates}
    missing = [item for item in items if item.freight_template_id not in known]
    if strict and missing:
        unknown = {item.freight_template_id for item in missing} - {None}
        raise MissingFreightTemplateError(
            sorted({item.sku_id for item in missing}), sorted(t for t in unknown if t is not None)
        )
    groups: dict[int, list[FreightItem]] = {}
    for item in items:
        if item.freight_template_id in known:
            groups.setdefault(item.freight_template_id, []).append(item)
    return [(known[template_id], groups[template_id]) for template_id in sorted(groups)]


def _sku_ids(groups: Sequence[tuple[FreightTemplate, list[FreightItem]]]) -> list[int]:
    return sorted({item.sku_id for _, items in groups for item in items})


def check_serviceable(
    groups: Sequence[tuple[FreightTemplate, list[FreightItem]]], region: str
) -> None:
    blocked = [(t, items) for t, items in groups if is_unserviceable(t, region)]
    if blocked:
        ids = [t.template_id for t, _ in blocked]
        raise UnserviceableRegionError(region, ids, _sku_ids(blocked))


def template_charges(
    groups: Sequence[tuple[FreightTemplate, list[FreightItem]]], region: str
) -> list[TemplateCharge]:
    """One charge per template, or `MissingFreightRuleError` naming every template lacking one."""
    matched = [(template, items, match_rule(template, region)) for template, items in groups]
    unmatched = [(t, items) for t, items, rule in matched if rule is None]
    if unmatched:
        ids = [t.template_id for t, _ in unmatched]
        raise MissingFreightRuleError(region, ids, _sku_ids(unmatched))
    return [_charge(t, items, rule) for t, items, rule in matched if rule is not None]


def _charge(
    template: FreightTemplate, items: list[FreightItem], rule: FreightRule
) -> TemplateCharge:
    units = units_of(template, items)
    paid = sum(item.paid_fen for item in items)
    free = template.free_over_fen is not None and paid >= template.free_over_fen
    return TemplateCharge(
        template_id=template.template_id,
        charge_by=template.charge_by,
        sku_ids=sorted({item.sku_id for item in items}),
        units=units,
        rule_id=rule.rule_id,
        charge_fen=0 if free else rule_charge(rule, units),
        free_over_reached=free,
    )


def quote_freight(request: FreightRequest) -> FreightQuote:
    """The order's freight under the platform policy and the SKUs' templates."""
    policy, region = request.setup.policy, request.destination_region
    strict = policy.mode == "templates"
    groups = group_by_template(request.items, request.setup.templates, strict=strict)
    check_serviceable(groups, region)
    charges = template_charges(groups, region) if strict else []
    goods = sum(item.paid_fen for item in request.items)
    if policy.free_over_fen is not None and goods >= policy.free_over_fen:
        return FreightQuote(
            basis="platform_free", combine=policy.combine, templates=charges, freight_fen=0
        )
    if policy.mode == "fixed":
        return FreightQuote(basis="fixed", combine=policy.combine, freight_fen=policy.fixed_fee_fen)
    amounts = [charge.charge_fen for charge in charges]
    total = sum(amounts) if policy.combine == "sum" else max(amounts)
    return FreightQuote(
        basis="templates", combine=policy.combine, templates=charges, freight_fen=total
    )
