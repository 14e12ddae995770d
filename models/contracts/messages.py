"""Names of the signals one workflow sends another (and the API's milestones to a wave).

Sender and receiver both use these constants: the receiver declares
`@workflow.signal(name=X)` with the same string its method always had, so recorded histories
still replay, and a rename is one edit here instead of a silent mismatch between two modules.
Signals the API sends through a method reference (`handle.signal(OrderWorkflow.cancel)`) need
no name here: the reference is already checked."""

from __future__ import annotations

from typing import Final

# after-sale -> its order (the parent)
EXCHANGE_REQUESTED: Final = "exchange_requested"
AFTER_SALE_SETTLED: Final = "after_sale_settled"

# order -> its after-sale child: the exchange package is reserved (or cannot be)
REPLACEMENT_READY: Final = "replacement_ready"

# shipment -> its order (the parent)
UNITS_WITHDRAWN: Final = "units_withdrawn"
PACKAGE_SHORT: Final = "package_short"
PACKAGE_PROGRESS: Final = "package_progress"

# wave -> a shipment: its units are picked (and sorted)
PICKED: Final = "picked"

# to a wave: a milestone it wakes up for (shipments, and the API after a committed scan)
PACKAGE_CANCELLED: Final = "package_cancelled"
PACKAGE_SORTED: Final = "package_sorted"
TASK_FINISHED: Final = "task_finished"

# group buy: a member's order -> its group, and the group -> each member's order
GROUP_MEMBER_PAID: Final = "group_member_paid"
GROUP_MEMBER_LEFT: Final = "group_member_left"
GROUP_DECIDED: Final = "group_decided"

# a flash sale's closing Schedule (FlashCloseWorkflow) -> the sale's workflow: its end has come
FLASH_WINDOW_ENDED: Final = "window_ended"

# What a workflow sees when the workflow it signals has finished (or never existed): the one
# failure to signal that is expected. Anything else is an error and fails the workflow task.
TARGET_GONE: Final = "ExternalWorkflowExecutionNotFound"
