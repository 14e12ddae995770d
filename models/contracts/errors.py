"""The one registry of business errors: every `ApplicationError` type houtai raises on purpose
(in an activity with `business_error(kind, ...)`, in a workflow's update or validator), with what
it means at the HTTP edge and whether a retry could help.

Derived from it, never listed again elsewhere:
- the activities' retry policy (`non_retryable_error_types` of `RETRY`, workflows/common.py);
- the API's mapping of a workflow's refusal to problem+json (api/workflow_calls.py): its status,
  `type` `/problems/<Type>` and the request `field` at fault;
- the OpenAPI document's description of those problems (api/openapi.py).

A new business error is added here first; a test fails on a type raised but not registered."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class BusinessError:
    status: int  # the HTTP status a refusal of this type answers with
    meaning: str  # what it tells the caller, for the OpenAPI document
    field: str | None = None  # the request field at fault, when one is
    retryable: bool = False  # business outcomes are final: the same call answers the same


BUSINESS_ERRORS: Mapping[str, BusinessError] = MappingProxyType(
    {
        # Any update or validator: the object's state or the input does not allow this.
        "InvalidStateError": BusinessError(409, "the object's state does not allow this"),
        "InvalidInputError": BusinessError(422, "the input does not fit the object"),
        "InvalidDataError": BusinessError(
            422, "the database refused a value"
        ),  # activities/data_errors.py
        # Orders: placing, pricing, paying.
        "InvalidOrderError": BusinessError(422, "unknown or unsellable SKUs", "lines"),
        "OutOfStockError": BusinessError(409, "not enough stock for the lines", "lines"),
        "CouponNotApplicableError": BusinessError(422, "the coupon does not apply", "coupon_code"),
        "UnserviceableRegionError": BusinessError(
            422, "some SKUs cannot be sent to the region", "address.region_code"
        ),
        "MissingFreightRuleError": BusinessError(
            422, "no freight rule covers the region", "address.region_code"
        ),
        "PointsNotApplicableError": BusinessError(
            409, "the points cannot be spent (more than the balance)", "points"
        ),
        "PaymentDeclinedError": BusinessError(409, "the payment provider declined"),
        "PlacementFailedError": BusinessError(409, "the order could not be placed"),
        # After-sales and refunds.
        "AfterSaleExistsError": BusinessError(409, "an after-sale with this number exists"),
        "AfterSaleQuantityError": BusinessError(
            409, "more units asked than can be returned or refunded", "lines"
        ),
        "SeparationOfDutiesError": BusinessError(403, "the requester may not decide on it too"),
        "RefundRefusedError": BusinessError(409, "the payment provider refused the refund"),
        # Purchasing and receiving.
        "ApprovalError": BusinessError(409, "the approval is not this person's to give"),
        "OverDeliveryError": BusinessError(409, "more received than ordered allows", "lines"),
        "InvalidReceiptError": BusinessError(422, "the receipt does not fit the PO", "lines"),
        "WrongWarehouseError": BusinessError(
            409, "the lines are for another warehouse", "warehouse_id"
        ),
        "SupplierRefusedError": BusinessError(409, "the supplier refused the order"),
        "TransferRefusedError": BusinessError(409, "the bank refused the transfer"),
        # Stock and shipping.
        "GroupClosedError": BusinessError(409, "the group buy is closed"),
        "GroupFullError": BusinessError(409, "the group buy is full"),
        "AlreadyInGroupError": BusinessError(409, "the customer is in this group already"),
        "StockShortError": BusinessError(409, "stock is short for the package"),
        "UnknownCarrierError": BusinessError(409, "no such carrier"),
        "UnknownTrackingError": BusinessError(409, "the carrier knows no such parcel"),
        "TrackingRangeExhaustedError": BusinessError(409, "the carrier's tracking numbers ran out"),
        "WaybillRefusedError": BusinessError(409, "the carrier refused the waybill"),
        "WaybillCancelRefusedError": BusinessError(
            409, "the carrier refused to cancel the waybill"
        ),
    }
)

# What an unregistered type answers with at the edge (a test keeps every raised type registered).
DEFAULT = BusinessError(409, "the object's state or a business rule does not allow this")


def business_error_of(kind: str | None) -> BusinessError:
    return BUSINESS_ERRORS.get(kind or "", DEFAULT)


def non_retryable_types() -> list[str]:
    """The types an activity's retry policy must not retry, in registry order."""
    return [kind for kind, error in BUSINESS_ERRORS.items() if not error.retryable]
