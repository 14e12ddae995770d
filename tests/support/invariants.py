"""The stock invariants of DESIGN §5 (with the inventory cost's: value in = value out + value
on hand, to the fen), the money balance of §6.6 and the points balance of §6.7,
checked against the database after a scenario (the points ledger with the stock invariants:
every scenario that checks those checks it too)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_CHECKS = {
    "on_hand = Σ on_hand movements": """
        SELECT s.sku_id, s.warehouse_id FROM stocks s
        LEFT JOIN (SELECT sku_id, warehouse_id, SUM(on_hand_delta) AS total,
                          SUM(reserved_delta) AS reserved, SUM(in_transit_delta) AS in_transit
                   FROM stock_movements GROUP BY sku_id, warehouse_id) m
          USING (sku_id, warehouse_id)
        WHERE s.on_hand <> COALESCE(m.total, 0)""",
    "reserved = Σ reservation movements": """
        SELECT s.sku_id, s.warehouse_id FROM stocks s
        LEFT JOIN (SELECT sku_id, warehouse_id, SUM(reserved_delta) AS total
                   FROM stock_movements GROUP BY sku_id, warehouse_id) m
          USING (sku_id, warehouse_id)
        WHERE s.reserved <> COALESCE(m.total, 0)""",
    "in_transit = Σ in-transit movements": """
        SELECT s.sku_id, s.warehouse_id FROM stocks s
        LEFT JOIN (SELECT sku_id, warehouse_id, SUM(in_transit_delta) AS total
                   FROM stock_movements GROUP BY sku_id, warehouse_id) m
          USING (sku_id, warehouse_id)
        WHERE s.in_transit <> COALESCE(m.total, 0)""",
    "location/batch totals = warehouse on_hand": """
        SELECT s.sku_id, s.warehouse_id FROM stocks s
        LEFT JOIN (SELECT sku_id, warehouse_id, SUM(quantity) AS total
                   FROM location_stocks GROUP BY sku_id, warehouse_id) l
          USING (sku_id, warehouse_id)
        WHERE s.on_hand <> COALESCE(l.total, 0)""",
    "nothing negative": """
        SELECT sku_id, warehouse_id FROM stocks
        WHERE on_hand < 0 OR reserved < 0 OR in_transit < 0 OR safety_hold < 0
        UNION ALL
        SELECT sku_id, warehouse_id FROM location_stocks WHERE quantity < 0 OR reserved < 0""",
    "movements without a stock row": """
        SELECT DISTINCT m.sku_id, m.warehouse_id FROM stock_movements m
        LEFT JOIN stocks s USING (sku_id, warehouse_id) WHERE s.sku_id IS NULL""",
    # Inventory cost (issue 17, docs/architecture.md "Inventory cost").
    "cost units = on_hand": """
        SELECT COALESCE(s.sku_id, c.sku_id), COALESCE(s.warehouse_id, c.warehouse_id)
        FROM stocks s FULL JOIN stock_costs c USING (sku_id, warehouse_id)
        WHERE COALESCE(c.units, 0) <> COALESCE(s.on_hand, 0)""",
    "cost value and units = Σ cost ledger": """
        SELECT c.sku_id, c.warehouse_id FROM stock_costs c
        LEFT JOIN (SELECT sku_id, warehouse_id, SUM(units) AS units, SUM(value_fen) AS value
                   FROM stock_cost_entries GROUP BY sku_id, warehouse_id) e
          USING (sku_id, warehouse_id)
        WHERE c.units <> COALESCE(e.units, 0) OR c.value_fen <> COALESCE(e.value, 0)""",
    "value without units, or negative": """
        SELECT sku_id, warehouse_id FROM stock_costs
        WHERE (units = 0 AND value_fen <> 0) OR value_fen < 0 OR units < 0""",
    "on-hand movement not costed exactly once": """
        SELECT m.sku_id, m.warehouse_id FROM stock_movements m
        LEFT JOIN stock_cost_entries e ON e.movement_id = m.id
        WHERE m.on_hand_delta <> 0 AND m.movement_type NOT IN ('move_out', 'move_in')
          AND (e.id IS NULL OR e.units <> m.on_hand_delta)""",
    # Per warehouse, to the fen: value in = value out + value on hand. Rows: (warehouse, off by).
    "value in = value out + value on hand": """
        SELECT w.warehouse_id, w.value_in - w.value_out - COALESCE(h.value, 0)
        FROM (SELECT warehouse_id,
                     COALESCE(SUM(value_fen) FILTER (WHERE value_fen > 0), 0) AS value_in,
                     COALESCE(-SUM(value_fen) FILTER (WHERE value_fen < 0), 0) AS value_out
              FROM stock_cost_entries GROUP BY warehouse_id) w
        LEFT JOIN (SELECT warehouse_id, SUM(value_fen) AS value FROM stock_costs
                   GROUP BY warehouse_id) h USING (warehouse_id)
        WHERE w.value_in - w.value_out <> COALESCE(h.value, 0)""",
}


async def stock_invariant_violations(session: AsyncSession) -> dict[str, list[tuple[int, int]]]:
    found: dict[str, list[tuple[int, int]]] = {}
    for name, sql in _CHECKS.items():
        rows = [(int(r[0]), int(r[1])) for r in (await session.execute(text(sql))).all()]
        if rows:
            found[name] = rows
    return found


async def assert_stock_invariants(session: AsyncSession) -> None:
    violations = await stock_invariant_violations(session)
    assert violations == {}, f"stock invariants broken: {violations}"
    off = await points_accounts_off_ledger(session)
    assert off == [], f"points balances off their ledger (customer, balance, Σ ledger): {off}"


async def points_accounts_off_ledger(session: AsyncSession) -> list[tuple[int, int, int]]:
    """Customers whose points balance is not the sum of their points ledger, or negative
    (DESIGN §6.7): (customer, balance, Σ ledger). A ledger without an account counts too."""
    rows = await session.execute(
        text(
            """SELECT COALESCE(a.customer_id, l.customer_id), COALESCE(a.balance, 0),
                      COALESCE(l.total, 0)
               FROM points_accounts a
               FULL JOIN (SELECT customer_id, SUM(points) AS total, SUM(growth) AS growth
                          FROM points_ledger GROUP BY customer_id) l USING (customer_id)
               WHERE COALESCE(a.balance, 0) <> COALESCE(l.total, 0)
                  OR COALESCE(a.growth, 0) <> COALESCE(l.growth, 0)
                  OR a.balance < 0"""
        )
    )
    return [(int(r[0]), int(r[1]), int(r[2])) for r in rows]


async def unbalanced_orders(session: AsyncSession) -> list[str]:
    """Orders whose paid − refunded is not their money ledger's cash balance (DESIGN §6.6;
    a presale's `forfeit` row books what of the cash is kept, not more cash)."""
    rows = await session.execute(
        text(
            """SELECT o.order_no FROM orders o
               LEFT JOIN (SELECT order_no, SUM(amount_fen) AS total FROM money_ledger
                          WHERE entry_type IN ('payment', 'refund')
                          GROUP BY order_no) m USING (order_no)
               WHERE o.paid_fen - o.refunded_fen <> COALESCE(m.total, 0)"""
        )
    )
    return [str(r[0]) for r in rows]
