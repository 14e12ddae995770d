"""What every workflow shares: how activities are called (timeouts, retries, which errors are
business outcomes rather than failures to retry)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from models.contracts.errors import non_retryable_types
    from models.contracts.messages import TARGET_GONE

S = TypeVar("S")
P = TypeVar("P")
R = TypeVar("R")

# Business outcomes (models/contracts/errors.py): raised non-retryable by activities, and the
# policy says so too.
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=non_retryable_types(),
)


# Short steps that touch only PostgreSQL run as local activities: in the worker, inside the
# workflow task, each saving the server a task dispatch, two events and a workflow task. They keep
# the same timeout and retries, and are idempotent like every activity, so a crash mid-task only
# runs them again. Calls to providers (payments, carrier) stay regular activities: their retries
# may take long and belong on the server.
LOCAL_ACTIVITIES = frozenset(
    {
        "quote_order",
        "reserve_stock",
        "record_order",
        "record_status",
        "record_package",
        "return_coupon",
        "record_payment",
        "reserve_package",
        "release_stock",
        "ship_stock",
        "withdraw_units",
        "record_shipment_step",
        "allocate_tracking_number",
        "record_po_step",
        "move_po_in_transit",
        "receive_goods",
        "receive_and_record",
        "record_invoice",
        "scan_reorder_points",
        "draft_po",
        "register_outbound",
        "settle_wave",
        "flash_sale_window",
        "cancel_picks",
        "escalate_wave",
        "finish_wave",
        "record_after_sale_step",
        "record_transfer_step",
        "release_transfer_stock",
        "ship_transfer",
        "receive_transfer",
        "earn_points",
        "return_points",
        "refund_points",
        "open_flash_sale",
        "close_flash_sale",
        "record_group_buy",
    }
)
# Histories from before local activities replay with regular ones: the marker decides.
LOCAL_PATCH = "local-db-activities"
# Each patch a run asks about records a marker and an upsert of TemporalChangeVersion (two
# events, one a visibility write), in every workflow of every order. A run that records this one
# marker takes every patch's new path (`patched`) without asking each: one marker per run.
# Older runs, without it, ask each patch as before, so their histories replay unchanged.
PATCHES_TAKEN = "one-patch-marker-per-run"
# The patches that marker stands for: those that existed when it came in. A patch added later
# is NOT among them and records its own marker (workflow.patched), as every patch did before:
# a run started with PATCHES_TAKEN but before that later patch must replay its old path.
# Never add an id here: a new set of taken patches needs a new marker of its own.
TAKEN_BY_ONE_MARKER = frozenset(
    {
        "after-sale-id-taken-refused",
        "after-sale-recorded-before-answer",
        "cancel-answers-before-refund",
        "cancel-voids-waybill",
        "close-at-once",
        "earn-points-on-completion",
        "follow-return-tracking",
        "local-db-activities",
        "pack-answers-with-label",
        "pack-rechecked-under-lock",
        "payment-vouched-before-refund",
        "plan-waves-locally",
        "po-one-receipt-activity",
        "po-submit-after-created",
        "points-back-on-cancel",
        "points-back-with-package-refund",
        "points-back-with-refund",
        "presale-after-sale-across-payments",
        "quote-names-storefront",
        "refund-refusal-retryable",
        "release-stock-on-failed-placement",
        "replacement-is-an-order-package",
        "search-attributes-at-start",
        "tell-order-only-handover-and-exceptions",
        "visibility-search-attributes",
        "wave-picking",
        "waves-built-by-planner",
    }
)


def patched(patch_id: str) -> bool:
    """For a patch of TAKEN_BY_ONE_MARKER: workflow.patched(patch_id) in a run from before
    PATCHES_TAKEN, True in one since. Any other patch: workflow.patched(patch_id). A patch
    whose marker tells which kind of run it was (a flash sale's, a presale's) keeps asking
    workflow.patched itself."""
    if patch_id not in TAKEN_BY_ONE_MARKER:
        return workflow.patched(patch_id)
    return workflow.patched(PATCHES_TAKEN) or workflow.patched(patch_id)


def deprecate_patch(patch_id: str) -> None:
    """workflow.deprecate_patch(patch_id) for a run from before PATCHES_TAKEN (its history may
    hold the marker), or for a patch the marker does not stand for; nothing otherwise."""
    if patch_id not in TAKEN_BY_ONE_MARKER or not workflow.patched(PATCHES_TAKEN):
        workflow.deprecate_patch(patch_id)


# What a failed activity raises in the workflow: a regular one an ActivityError around the
# activity's error; a local one (this SDK) the activity's ApplicationError itself. Callers that
# handle a business refusal catch both and read it with `refusal`.
FAILED = (ActivityError, ApplicationError)


def refusal(exc: BaseException) -> ApplicationError | None:
    """The business error an activity raised, however it reached the workflow."""
    cause = exc.cause if isinstance(exc, ActivityError) else exc
    return cause if isinstance(cause, ApplicationError) else None


async def call(
    activity: Callable[[S, P], Awaitable[R]],
    arg: P,
    *,
    start_to_close: timedelta = timedelta(seconds=30),
) -> R:
    """Run one activity method with houtai's timeout and retry policy, locally when it is a
    short database step (LOCAL_ACTIVITIES)."""
    if activity.__name__ in LOCAL_ACTIVITIES and patched(LOCAL_PATCH):
        return await workflow.execute_local_activity_method(
            activity, arg, start_to_close_timeout=start_to_close, retry_policy=RETRY
        )
    return await workflow.execute_activity_method(
        activity, arg, start_to_close_timeout=start_to_close, retry_policy=RETRY
    )


async def signal_unless_gone(
    handle: workflow.ExternalWorkflowHandle[Any], signal: str, arg: object
) -> bool:
    """Signal another workflow by its shared name (models/contracts/messages.py); False when it
    has finished already, the one failure a sender expects. Any other failure is raised."""
    try:
        await handle.signal(signal, arg)
    except ApplicationError as exc:
        if exc.type != TARGET_GONE:
            raise
        return False
    return True
