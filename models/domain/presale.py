"""Presale (预售) rules, pure: the balance is a second payment of the same order, asked for at the
provider under its own key (the order's number with a stage suffix), and the deposit's split on
a cancel or a balance not paid in time."""

from __future__ import annotations

BALANCE_SUFFIX = "-B"


def balance_key(order_no: str) -> str:
    """The merchant order number the balance's payment is opened under (one payment per key)."""
    return f"{order_no}{BALANCE_SUFFIX}"


def order_of(merchant_order_no: str) -> str:
    """The order a payment at the provider belongs to, whichever stage it paid."""
    return merchant_order_no.removesuffix(BALANCE_SUFFIX)


def kept_of_deposit(deposit_fen: int, *, window_open: bool, forfeit_percent: int,
                    refund_percent: int) -> int:  # fmt: skip
    """Fen of the deposit kept (forfeited income): before the window opens the refund rule
    gives `refund_percent` back; once it is open (or it ended unpaid) `forfeit_percent` is kept.
    Rounded in the customer's favour."""
    if window_open:
        return deposit_fen * forfeit_percent // 100
    return deposit_fen - (deposit_fen * refund_percent + 99) // 100
