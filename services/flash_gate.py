"""The flash sale's gate (秒杀, DESIGN §6.8): who may buy a unit of the campaign, decided
before any workflow starts. The look (one read of the committed figures, no lock), the gate's
claim (one conditional statement in the route's transaction) and the lane's statement (the key,
its permission, the look, then the refusal's audit row or the claim, committed alone:
api/flash_lane.py). The campaign's stock and the orders' side are in services/flash_sales.py.
Locks: the sale row first, then stock rows, as services/flash_sales.py says."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.db import Alone

GateAnswer = Literal["claimed", "already", "not_open", "sold_out", "over_limit"]


# One statement: the storefront's key gets the order's number (`order_no_seq`, as
# services/order_numbers.py gives it; a concurrent request with the same key waits here and then
# finds it taken), the sale takes the units (open, enough left, the buyer under the limit as far
# as committed rows show), the buyer's count rises under its row lock (the limit exactly, for a
# buyer's concurrent orders), and the claim is written. It also answers, from the same snapshot,
# why it said no. A refused buyer costs this one statement, rolled back: no order, no workflow.
# The buyer is the customer record of the storefront's key (`who`, by the unique (api_key_id,
# customer_key) index, in the same statement): two storefronts' "customer 7" have two limits.
# The look has made sure the storefront knows the customer (records are never deleted); without
# one, the gate claims nothing.
_GATE = text(
    """
    WITH who AS (
        SELECT c.id FROM customers c WHERE c.api_key_id = :key AND c.customer_key = :customer
    ), keyed AS (
        INSERT INTO order_numbers (order_no, api_key_id, client_order_key)
        SELECT :prefix || CASE WHEN n.seq < 1000000 THEN lpad(n.seq::text, 6, '0')
                               ELSE n.seq::text END, :key, :client_key
        FROM (SELECT nextval('order_no_seq') AS seq) n
        ON CONFLICT (api_key_id, client_order_key) DO NOTHING
        RETURNING order_no
    ), taken AS (
        UPDATE flash_sales s SET sold = s.sold + :q
        WHERE s.id = :sale AND s.status = 'open' AND s.sku_id = :sku
          AND s.sold + :q <= s.total AND :q <= s.per_customer_limit
          AND EXISTS (SELECT 1 FROM keyed) AND EXISTS (SELECT 1 FROM who)
          AND NOT EXISTS (
              SELECT 1 FROM flash_buyers b JOIN who w ON b.customer_id = w.id
              WHERE b.flash_sale_id = s.id AND b.bought + :q > s.per_customer_limit)
        RETURNING s.id, s.price_fen, s.per_customer_limit
    ), buyer AS (
        INSERT INTO flash_buyers AS b (flash_sale_id, customer_id, bought)
        SELECT t.id, w.id, :q FROM taken t, who w
        ON CONFLICT (flash_sale_id, customer_id) DO UPDATE SET bought = b.bought + EXCLUDED.bought
        WHERE b.bought + EXCLUDED.bought <= (SELECT per_customer_limit FROM taken)
        RETURNING b.bought
    ), claim AS (
        INSERT INTO flash_claims (order_no, flash_sale_id, customer_id, customer_record_id,
                                  sku_id, quantity, price_fen, status)
        SELECT k.order_no, t.id, :customer, w.id, :sku, :q, t.price_fen, 'claimed'
        FROM taken t, keyed k, who w WHERE EXISTS (SELECT 1 FROM buyer)
        RETURNING order_no
    )
    SELECT
        (SELECT order_no FROM claim) AS claimed,
        NOT EXISTS (SELECT 1 FROM keyed) AS already,
        COALESCE((SELECT s.status = 'open' AND s.sku_id = :sku
                  FROM flash_sales s WHERE s.id = :sale), false) AS open,
        (SELECT count(*) FROM taken) = 0 AND COALESCE((
            SELECT b.bought + :q > s.per_customer_limit
            FROM flash_sales s LEFT JOIN flash_buyers b
              ON b.flash_sale_id = s.id AND b.customer_id = (SELECT id FROM who)
            WHERE s.id = :sale), false)
        OR :q > COALESCE((SELECT per_customer_limit FROM flash_sales WHERE id = :sale), 0)
        OR (SELECT count(*) FROM taken) = 1 AS over_limit
    """
)


# The look before the gate (DESIGN §6.8: "the gate that says no is cheap"): one read of what is
# committed, by primary keys, that writes nothing and takes no lock, so it never waits behind a
# buyer whose claim is not committed yet. Whatever it refuses, the gate would refuse too at that
# moment (the same order of reasons: not open, over the limit, sold out); it never accepts: a
# buyer it lets through meets the gate, which alone decides. A unit given back is visible to
# the next look at once (there is nothing to forget). A storefront key that already has its
# order goes to the gate, which answers `already`, so a resent request finds its order. The
# buyer's count is its customer record's (found by the storefront's key in the same read).
def _look_sql(key: str) -> str:
    """The look's text, the storefront's key given by `key` (a bind parameter, or a subquery
    of the statement it is part of)."""
    return f"""
    SELECT
        c.id IS NOT NULL AS known,
        EXISTS (SELECT 1 FROM order_numbers n
                WHERE n.api_key_id = {key} AND n.client_order_key = :client_key) AS keyed,
        s.status = 'open' AND s.sku_id = :sku AS open,
        :q > s.per_customer_limit
            OR COALESCE(b.bought, 0) + :q > s.per_customer_limit AS over_limit,
        s.sold + :q > s.total AS sold_out
    FROM (SELECT 1) one
    LEFT JOIN flash_sales s ON s.id = :sale
    LEFT JOIN customers c ON c.api_key_id = {key} AND c.customer_key = :customer
    LEFT JOIN flash_buyers b ON b.flash_sale_id = s.id AND b.customer_id = c.id
    """  # noqa: S608 - `key` is one of this module's constants


_LOOK = text(_look_sql(":key"))
_REFUSAL = """CASE WHEN look.keyed THEN NULL
                   WHEN look.open IS NOT TRUE THEN 'not_open'
                   WHEN look.over_limit THEN 'over_limit'
                   WHEN look.sold_out THEN 'sold_out' END"""


# The look and, when it refuses a known customer, the refusal's audit row (DESIGN §9: every
# rejected attempt is audited) in the same statement: a refused buyer costs one round trip.
# `:audit` false (the caller answers something else first) writes no row. A refusal's
# transaction holds nothing but that row, so its commit does not wait for the WAL to reach the
# disk (`synchronous_commit` off for that transaction only; thousands of refusals a second
# otherwise queue on the flushes): a PostgreSQL crash can lose the last fraction of a second of
# refusals' audit rows, never a claim, an order or a stock change, whose commits still wait.
_LOOK_AND_AUDIT = text(  # built from the constant above: no input in the text
    f"""
    WITH look AS ({_LOOK.text}), decided AS (
        SELECT look.*, {_REFUSAL} AS refusal FROM look
    ), audit AS (
        INSERT INTO audit_log (actor_type, actor_id, actor_name, roles, action, method, path,
                               object_type, object_id, status_code, client_ip, detail)
        SELECT :a_actor_type, :a_actor_id, :a_actor_name, CAST(:a_roles AS varchar[]),
               :a_action, :a_method, :a_path, :a_object_type, :a_object_id, :a_status_code,
               :a_client_ip,
               CAST(:a_detail AS jsonb)
                   || jsonb_build_object('flash_sale_id', :sale, 'reason', d.refusal)
        FROM decided d WHERE :audit AND d.known AND d.refusal IS NOT NULL
        RETURNING id
    )
    SELECT decided.*, (SELECT count(*) FROM audit) AS audited,
           -- A refusal changed nothing but its audit row: its commit does not wait for the
           -- disk (synchronous_commit off for this transaction only: see above).
           CASE WHEN (SELECT count(*) FROM audit) > 0
                THEN set_config('synchronous_commit', 'off', true) END AS quick_commit
    FROM decided
    """  # noqa: S608
)
NO_AUDIT = {
    "audit": False, "a_actor_type": "", "a_actor_id": "", "a_actor_name": "", "a_roles": [],
    "a_action": "", "a_method": "", "a_path": "", "a_object_type": "", "a_object_id": "",
    "a_status_code": 0, "a_client_ip": "", "a_detail": "{}",
}  # fmt: skip


@dataclass(frozen=True)
class Look:
    known: bool  # the storefront has upserted the customer
    refusal: GateAnswer | None  # what the gate would answer now, or None: ask the gate
    audited: bool = False  # the refusal's audit row is written in the caller's transaction


async def look(
    session: AsyncSession,
    *,
    flash_sale_id: int,
    api_key_id: int,
    client_key: str,
    customer_id: int,
    sku_id: int,
    quantity: int,
    refusal_audit: dict[str, Any] | None = None,
) -> Look:
    """Whether the customer is known, and the gate's refusal if the committed figures already
    give it: one read by primary keys, no lock, no number taken. With `refusal_audit` (the
    audit row's columns, `detail` as JSON text), a refusal of a known customer also writes that
    row, with the sale and the reason in its detail, in the caller's transaction.
    The refusal's order of reasons: an existing order for the key is no refusal (the gate
    answers `already`), then not open (also a sale that does not exist), over the limit, sold
    out."""
    audit = (
        NO_AUDIT
        if refusal_audit is None
        else {"audit": True} | {f"a_{name}": value for name, value in refusal_audit.items()}
    )
    row = (
        await session.execute(
            _LOOK_AND_AUDIT,
            {
                "sale": flash_sale_id,
                "sku": sku_id,
                "q": quantity,
                "customer": customer_id,
                "key": api_key_id,
                "client_key": client_key,
            }
            | audit,
        )
    ).one()
    refusal: GateAnswer | None = row.refusal
    return Look(known=bool(row.known), refusal=refusal, audited=bool(row.audited))


# The refusal at once (issue 16: buyers refused fast with hundreds of requests in flight): the
# storefront's key (by its prefix and hash, active), whether its role grants the route's
# permission, the look and the refusal's audit row, in ONE statement that is its own (implicit)
# transaction: one round trip, no BEGIN, no COMMIT. It writes the audit row only when it
# refuses a known customer of an authenticated key that may place orders, with the columns that
# key's principal gives (api/deps.py `_principal_from_key` and `audit_values`: actor, roles, the
# device's worker); its commit does not wait for the disk, as above. When it finds no such
# key, a key without the permission or an unknown customer it writes nothing, and the caller
# goes the whole way: authentication, the look, the gate.
#
# The opening burst (issue 16): while units are left the look refuses nobody, and every buyer
# went through the route to the gate, whose claim holds the sale's row from its UPDATE to the
# COMMIT that the route sends a round trip (and a turn of the API's busy event loop) later.
# With hundreds of buyers in flight they queued on that row one after the other, on the API's
# pool connections, and every refusal behind them waited too (up to 2 s). So the lane tries the
# claim itself, in ONE statement that is its own (implicit) transaction: the row is held only
# while PostgreSQL runs the rest of the statement and commits it, never across a round trip.
# The key, its permission and the look first; when the look refuses, the refusal's audit row,
# as above. When it refuses nothing (a known customer of a permitted key without an order
# for this storefront key), the gate's steps: the sale takes the units (`taken`, the row locked
# and its conditions checked again on the newest version), then the storefront's key gets the
# order's number (`keyed`), the buyer's count rises (`buyer`, the limit exactly under its row
# lock) and the claim is written (`claim`). Locks: the sale row first, then the key and the
# buyer, the order of the order's reserve and release; the route's gate takes the key first
# (its `already`), so the same key sent at once by the lane and by the route may deadlock,
# which PostgreSQL breaks by failing one of them (the lane's: the route then answers it).
# A claim lost to the row (sold out by the time the row was free) takes nothing and is refused
# `sold_out` with its audit row, as the gate refuses it. Units taken without a claim (the same
# storefront key or the same customer claiming at that very moment: the key taken, the buyer
# at the limit) must not stay taken: the statement then fails on purpose (`incomplete`, a text
# cast to integer, SQLSTATE 22P02), which rolls back everything it did, and the caller lets the
# route answer (its gate sees what was committed: `already`, or the refusal).
_CLAIM_AS_KEY = text(  # built from this module's constants: no input in the text
    f"""
    WITH caller AS (
        SELECT k.id, k.name, k.role, u.username AS worker,
               k.role = ANY(CAST(:granting AS varchar[]))
                 AND (NOT :needs_worker OR d.id IS NULL OR u.username IS NOT NULL) AS permitted
        FROM api_keys k
        LEFT JOIN devices d ON d.api_key_id = k.id
        LEFT JOIN users u ON u.id = d.worker_user_id
        WHERE k.prefix = :prefix AND k.key_hash = :key_hash AND k.active
        LIMIT 1
    ), look AS ({_look_sql("(SELECT id FROM caller)")}), decided AS (
        SELECT look.*, {_REFUSAL} AS refusal FROM look
    ), who AS (
        SELECT c.id FROM customers c
        WHERE c.api_key_id = (SELECT id FROM caller) AND c.customer_key = :customer
    ), trying AS (
        SELECT 1 FROM decided d, caller c
        WHERE c.permitted AND d.known AND NOT d.keyed AND d.refusal IS NULL
    ), taken AS (
        UPDATE flash_sales s SET sold = s.sold + :q
        WHERE s.id = :sale AND s.status = 'open' AND s.sku_id = :sku
          AND s.sold + :q <= s.total AND :q <= s.per_customer_limit
          AND EXISTS (SELECT 1 FROM trying)
          AND NOT EXISTS (
              SELECT 1 FROM flash_buyers b JOIN who w ON b.customer_id = w.id
              WHERE b.flash_sale_id = s.id AND b.bought + :q > s.per_customer_limit)
        RETURNING s.id, s.price_fen, s.per_customer_limit
    ), keyed AS (
        INSERT INTO order_numbers (order_no, api_key_id, client_order_key)
        SELECT :order_prefix || lpad(n.seq::text, greatest(6, length(n.seq::text)), '0'),
               (SELECT id FROM caller), :client_key
        FROM (SELECT nextval('order_no_seq') AS seq FROM taken) n
        ON CONFLICT (api_key_id, client_order_key) DO NOTHING
        RETURNING order_no
    ), buyer AS (
        INSERT INTO flash_buyers AS b (flash_sale_id, customer_id, bought)
        SELECT t.id, w.id, :q FROM taken t, who w WHERE EXISTS (SELECT 1 FROM keyed)
        ON CONFLICT (flash_sale_id, customer_id) DO UPDATE SET bought = b.bought + EXCLUDED.bought
        WHERE b.bought + EXCLUDED.bought <= (SELECT per_customer_limit FROM taken)
        RETURNING b.bought
    ), claim AS (
        INSERT INTO flash_claims (order_no, flash_sale_id, customer_id, customer_record_id,
                                  sku_id, quantity, price_fen, status)
        SELECT k.order_no, t.id, :customer, w.id, :sku, :q, t.price_fen, 'claimed'
        FROM taken t, keyed k, who w WHERE EXISTS (SELECT 1 FROM buyer)
        RETURNING order_no
    ), answered AS (
        SELECT d.known,
               CASE WHEN d.refusal IS NOT NULL THEN d.refusal
                    WHEN EXISTS (SELECT 1 FROM trying) AND NOT EXISTS (SELECT 1 FROM taken)
                    THEN 'sold_out' END AS refusal
        FROM decided d
    ), audit AS (
        INSERT INTO audit_log (actor_type, actor_id, actor_name, roles, action, method, path,
                               object_type, object_id, status_code, client_ip, detail)
        SELECT 'api_key', CAST(c.id AS varchar), c.name, ARRAY[c.role],
               :a_action, :a_method, :a_path, :a_object_type, :a_object_id, :a_status_code,
               :a_client_ip,
               CASE WHEN c.worker IS NULL THEN CAST('{{}}' AS jsonb)
                    ELSE jsonb_build_object('worker', c.worker) END
                   || CAST(:a_detail AS jsonb)
                   || jsonb_build_object('flash_sale_id', :sale, 'reason', a.refusal)
        FROM answered a, caller c WHERE c.permitted AND a.known AND a.refusal IS NOT NULL
        RETURNING id
    )
    SELECT EXISTS (SELECT 1 FROM caller) AS authenticated,
           COALESCE((SELECT permitted FROM caller), false) AS permitted,
           (SELECT id FROM caller) AS api_key_id,
           answered.known, answered.refusal, (SELECT order_no FROM claim) AS claimed,
           (SELECT count(*) FROM audit) AS audited,
           CASE WHEN (SELECT count(*) FROM audit) > 0
                THEN set_config('synchronous_commit', 'off', true) END AS quick_commit,
           CASE WHEN (SELECT count(*) FROM taken) > (SELECT count(*) FROM claim)
                THEN CAST('incomplete claim: ' || (SELECT count(*) FROM claim) AS integer)
           END AS incomplete
    FROM answered
    """  # noqa: S608
)
CLAIM_AS_KEY = Alone(_CLAIM_AS_KEY)
INCOMPLETE_CLAIM = "incomplete claim"  # in the message of the statement's deliberate failure


@dataclass(frozen=True)
class KeyClaim:
    """What the one-statement claim found: a refusal (`audited` when its row is committed), a
    claim (`claimed`: the order's number, committed), or neither (the route decides)."""

    authenticated: bool
    permitted: bool
    api_key_id: int | None
    known: bool
    refusal: GateAnswer | None
    claimed: str | None
    audited: bool
    quick_commit: str | None = None  # "off" when a refusal's commit did not wait for the disk


@dataclass(frozen=True)
class LaneClaim:
    """A claim the lane made for this request, handed to the route (the request's state): the
    route places the order under this number instead of passing the gate again."""

    order_no: str
    api_key_id: int
    flash_sale_id: int
    client_key: str
    customer_id: int


async def claim_as_key(
    engine: AsyncEngine,
    *,
    prefix: str,
    key_hash: str,
    granting: frozenset[str],
    needs_worker: bool,
    flash_sale_id: int,
    client_key: str,
    today: date,
    customer_id: int,
    sku_id: int,
    quantity: int,
    refusal_audit: dict[str, Any],
) -> KeyClaim:
    """The look of `look` for the key whose prefix and SHA-256 hex are given, and when it
    refuses nothing the gate's claim, as one statement on a connection of its own
    (`core.db.Alone`, see `_CLAIM_AS_KEY`): authentication, the permission (a role among
    `granting`; `needs_worker`: a paired device only with a worker signed in), the look, then a
    refusal's audit row (`refusal_audit`: the request's columns, `detail` as JSON text; the
    actor's come from the key) or the claim. Raises asyncpg's
    InvalidTextRepresentationError (its message starting with INCOMPLETE_CLAIM) when it rolled
    back units taken without a claim."""
    row = await CLAIM_AS_KEY.one(
        engine,
        {
            "prefix": prefix,
            "key_hash": key_hash,
            "granting": sorted(granting),
            "needs_worker": needs_worker,
            "sale": flash_sale_id,
            "sku": sku_id,
            "q": quantity,
            "customer": customer_id,
            "client_key": client_key,
            "order_prefix": f"SO{today:%Y%m%d}",
        }
        | {f"a_{name}": value for name, value in refusal_audit.items()},
    )
    refusal: GateAnswer | None = row["refusal"]
    return KeyClaim(
        authenticated=bool(row["authenticated"]),
        permitted=bool(row["permitted"]),
        api_key_id=row["api_key_id"],
        known=bool(row["known"]),
        refusal=refusal,
        claimed=row["claimed"],
        audited=bool(row["audited"]),
        quick_commit=row["quick_commit"],
    )


@dataclass(frozen=True)
class GateResult:
    answer: GateAnswer
    order_no: str | None = None  # claimed: the order's new number


async def claim(
    session: AsyncSession,
    *,
    flash_sale_id: int,
    api_key_id: int,
    client_key: str,
    today: date,
    customer_id: int,
    sku_id: int,
    quantity: int,
) -> GateResult:
    """Claim `quantity` units of the sale for a new order, numbering it, with one statement in
    the caller's transaction (which it must roll back unless the answer is `claimed`).
    `already`: the storefront's key has its order (the same request again, or a concurrent
    one): roll back and read its number."""
    row = (
        await session.execute(
            _GATE,
            {
                "sale": flash_sale_id,
                "sku": sku_id,
                "q": quantity,
                "customer": customer_id,
                "key": api_key_id,
                "client_key": client_key,
                "prefix": f"SO{today:%Y%m%d}",
            },
        )
    ).one()
    if row.claimed:
        return GateResult("claimed", row.claimed)
    if row.already:
        return GateResult("already")
    if not row.open:
        return GateResult("not_open")
    if row.over_limit:  # said before sold out: buying more would never be allowed
        return GateResult("over_limit")
    return GateResult("sold_out")
