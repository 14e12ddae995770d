"""Rules of a transfer between warehouses (DESIGN §6.9), pure so the workflow, the services and
the tests share them.

- Who may approve or reject: a warehouse manager (or an admin) whose data scope holds the
  SOURCE warehouse — the one whose stock leaves.
- What a receipt means per line: `shipped` units left the source and are in transit at the
  destination; the destination counts `good` and `damaged` units. What is missing is `short`
  (a loss in transit), what is more is `over`. The units always add up:
  shipped + over = good + damaged + short.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

APPROVER_ROLES = frozenset({"warehouse_manager", "admin"})
TRANSFER_PREFIX = "TR"  # a transfer's number: picked in waves like a package's (PK…)


def is_transfer(number: str) -> bool:
    """Whether an outbound order of a wave is a transfer between warehouses, not a package."""
    return number.startswith(TRANSFER_PREFIX)


class TransferRuleError(Exception):
    """A command the transfer rules refuse."""


def check_approver(
    *, roles: Iterable[str], warehouses: Iterable[int] | None, source_warehouse_id: int
) -> None:
    """Raise unless the person is a warehouse manager (or admin) of the source warehouse.
    `warehouses` None: not limited to some warehouses (sees them all)."""
    if not APPROVER_ROLES & set(roles):
        raise TransferRuleError("only a warehouse manager of the source warehouse decides")
    if warehouses is not None and source_warehouse_id not in set(warehouses):
        raise TransferRuleError(
            f"warehouse {source_warehouse_id} (the source) is outside your warehouses"
        )


@dataclass(frozen=True)
class LineReceipt:
    """One line as received: `received` = good + damaged."""

    shipped: int
    good: int
    damaged: int

    def __post_init__(self) -> None:
        if min(self.shipped, self.good, self.damaged) < 0:
            raise TransferRuleError("quantities are never negative")

    @property
    def received(self) -> int:
        return self.good + self.damaged

    @property
    def arrived(self) -> int:
        """In-transit units that arrived (at most what was shipped)."""
        return min(self.shipped, self.received)

    @property
    def short(self) -> int:
        return max(0, self.shipped - self.received)

    @property
    def over(self) -> int:
        return max(0, self.received - self.shipped)
