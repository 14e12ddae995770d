"""The presale's pure rules (models/domain/presale.py): the balance's own payment key and the
deposit's split between refund and forfeit."""

from models.domain.presale import balance_key, kept_of_deposit, order_of


def test_the_balance_pays_under_its_own_key_and_maps_back_to_the_order() -> None:
    assert balance_key("SO20261206000001") == "SO20261206000001-B"
    assert order_of(balance_key("SO20261206000001")) == "SO20261206000001"
    assert order_of("SO20261206000001") == "SO20261206000001"


def test_before_the_window_the_refund_rule_decides_rounded_for_the_customer() -> None:
    assert kept_of_deposit(2_000, window_open=False, forfeit_percent=100, refund_percent=80) == 400
    assert kept_of_deposit(999, window_open=False, forfeit_percent=100, refund_percent=50) == 499
    assert kept_of_deposit(999, window_open=False, forfeit_percent=0, refund_percent=100) == 0


def test_once_the_window_is_open_the_forfeit_rule_decides() -> None:
    assert kept_of_deposit(2_000, window_open=True, forfeit_percent=100, refund_percent=80) == 2_000
    assert kept_of_deposit(999, window_open=True, forfeit_percent=50, refund_percent=100) == 499
