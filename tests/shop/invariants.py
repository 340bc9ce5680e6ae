"""The shop's data invariants, read straight from each service's own database.

After any run — happy, failing or crashing — these must hold:
1. every order ended CONFIRMED or FAILED;
2. stock is conserved: for every product available + reserved + sold equals what was
   stocked, nothing stays reserved, and sold equals the confirmed orders' quantities;
3. an order is CONFIRMED if and only if payments holds a charge for it that was not refunded;
4. exactly one email per order, and the SMTP server received exactly one per order;
5. the read model shows every order with its final status (no event lost);
6. no Idempotency-Key produced two orders (checked by the tests that send keys).
"""

from __future__ import annotations

import email
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
from shop_processes import Shop


async def _rows(shop: Shop, service: str, query: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(shop.database_url(service))
    try:
        return list(await conn.fetch(query))
    finally:
        await conn.close()


async def order_statuses(shop: Shop) -> dict[str, str]:
    rows = await _rows(shop, "orders", "SELECT id::text AS id, status FROM orders")
    return {r["id"]: r["status"] for r in rows}


def mails_by_order(maildir: Path, order_ids: set[str]) -> Counter[str]:
    """How many messages the SMTP server holds for each of `order_ids`."""
    counts: Counter[str] = Counter()
    for folder in ("new", "cur"):
        for path in (maildir / folder).glob("*") if (maildir / folder).exists() else []:
            message = email.message_from_bytes(path.read_bytes())
            order_id = message.get("X-ShopMesh-Order-Id")
            if order_id in order_ids:
                counts[order_id] += 1
    return counts


async def check(shop: Shop, *, stocked: dict[str, int], maildir: Path | None) -> dict[str, Any]:
    """Every invariant; returns what was found (assertions inside say which one broke)."""
    statuses = await order_statuses(shop)
    unfinished = {oid: s for oid, s in statuses.items() if s not in ("CONFIRMED", "FAILED")}
    assert not unfinished, f"orders not finished: {unfinished}"

    products = await _rows(shop, "inventory", "SELECT id, available, reserved, sold FROM products")
    sold_by_orders: Counter[str] = Counter()
    for row in await _rows(shop, "orders", "SELECT items FROM orders WHERE status = 'CONFIRMED'"):
        items = row["items"]
        if isinstance(items, str):
            import json

            items = json.loads(items)
        for item in items:
            sold_by_orders[item["product_id"]] += item["quantity"]
    for p in products:
        if p["id"] not in stocked:
            continue
        assert p["available"] + p["reserved"] + p["sold"] == stocked[p["id"]], dict(p)
        assert p["reserved"] == 0, f"stock left reserved: {dict(p)}"
        assert p["sold"] == sold_by_orders[p["id"]], (dict(p), sold_by_orders[p["id"]])

    charges = await _rows(shop, "payments", "SELECT order_id, status FROM charges")
    charged = {r["order_id"] for r in charges if r["status"] == "CHARGED"}
    confirmed = {oid for oid, s in statuses.items() if s == "CONFIRMED"}
    assert charged == confirmed, (
        f"charged but not confirmed: {sorted(charged - confirmed)[:5]}; "
        f"confirmed but not charged: {sorted(confirmed - charged)[:5]}"
    )

    emails = await _rows(shop, "notifications", "SELECT order_id, state FROM emails")
    per_order = Counter(r["order_id"] for r in emails)
    assert set(per_order) == set(statuses), (
        f"orders without an email: {sorted(set(statuses) - set(per_order))[:5]}"
    )
    assert max(per_order.values(), default=1) == 1
    assert all(r["state"] == "sent" for r in emails), "emails left unsent"
    if maildir is not None:
        received = mails_by_order(maildir, set(statuses))
        assert received == Counter(dict.fromkeys(statuses, 1)), {
            oid: n for oid, n in received.items() if n != 1
        } or f"missing: {sorted(set(statuses) - set(received))[:5]}"

    views = await _rows(shop, "order-history", "SELECT order_id, status FROM order_views")
    view_status = {r["order_id"]: r["status"] for r in views}
    assert view_status == statuses, (
        "read model differs from orders: "
        + str({k: (view_status.get(k), v) for k, v in statuses.items() if view_status.get(k) != v})[
            :500
        ]
    )
    return {
        "orders": len(statuses),
        "confirmed": len(confirmed),
        "failed": len(statuses) - len(confirmed),
    }


async def check_eventually(
    shop: Shop, *, stocked: dict[str, int], maildir: Path | None, within: float = 120.0
) -> dict[str, Any]:
    """`check`, retried for up to `within` seconds: the event-driven parts (emails, the read
    model) lag the saga. Fails with the last broken invariant."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            return await check(shop, stocked=stocked, maildir=maildir)
        except AssertionError as error:
            if loop.time() >= deadline:
                raise AssertionError(
                    f"invariants still broken after {within:.0f} s: {error}"
                ) from error
        await asyncio.sleep(1)
