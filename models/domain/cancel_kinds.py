"""What kind of cancel an order's was (the orders report's cancellations by reason). The reason
text is what the process wrote (workflows/order.py) or what the canceller typed; the kind is
read from it and from who cancelled, once, when the cancel is recorded (services/orders.py)."""

from __future__ import annotations

from typing import Final, Literal

CancelKind = Literal[
    "payment_timeout",  # not paid by the deadline (or a presale's balance not by its window)
    "customer",  # the storefront cancelled on its customer's behalf
    "staff",  # customer service or ops cancelled it
    "risk_review",  # the risk reviewer rejected it
    "out_of_stock",  # nothing could be delivered and units were not found (short picks)
    "undelivered",  # nothing was delivered for another cause (lost or refused packages)
    "group_buy",  # its group closed or failed
    "other",
]
CANCEL_KINDS: Final[tuple[CancelKind, ...]] = (
    "payment_timeout",
    "customer",
    "staff",
    "risk_review",
    "out_of_stock",
    "undelivered",
    "group_buy",
    "other",
)

# The reasons the order process writes itself (workflows/order.py).
PAYMENT_TIMEOUT: Final = frozenset({"payment deadline passed", "balance not paid in time"})
GROUP_BUY: Final = frozenset({"group buy closed", "group buy failed"})
NOTHING_DELIVERED: Final = "nothing was delivered"
RISK_REVIEW_PREFIX: Final = "risk review:"


BY_ACTOR: Final[dict[str, CancelKind]] = {"storefront": "customer", "user": "staff"}


def cancel_kind(reason: str, actor_kind: str, *, units_short: bool) -> CancelKind:
    """The kind of a cancel by its reason and actor; `units_short`: the order had units not
    found in the warehouse (a short pick refunded), what makes "nothing delivered" a stock-out."""
    kind: CancelKind = BY_ACTOR.get(actor_kind, "other")
    if actor_kind == "system" and reason in PAYMENT_TIMEOUT:
        kind = "payment_timeout"
    elif actor_kind == "system" and reason == NOTHING_DELIVERED:
        kind = "out_of_stock" if units_short else "undelivered"
    elif reason in GROUP_BUY:
        kind = "group_buy"
    elif reason.startswith(RISK_REVIEW_PREFIX):
        kind = "risk_review"
    return kind
