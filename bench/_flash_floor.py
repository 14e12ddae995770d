"""The flash sale's floor (bench/_campaign_flash.py): what the machine itself allows a refusal.

A bare ASGI app on uvicorn (the API's server, with the same httptools parser and uvloop loop),
no framework, no middleware, plain asyncpg connections as many as the API's pool has, and per
request: read the JSON body, run houtai's very statement of the lane (services/flash_sales.py
`CLAIM_AS_KEY`: the key, its permission, the look and the refusal's audit row, or the claim,
one implicit transaction; on the sold-out sale the bench gives it, always the refusal) and
answer its reason as a 409 JSON body. Nothing is validated, nothing is
counted, nothing is logged: it is the cost of HTTP plus that one round trip, the least any
refusal can cost here. Run as its own process by the bench:

    python bench/_flash_floor.py <port> <postgres dsn> <storefront key>
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from typing import Any

import asyncpg
import uvicorn

from services.flash_gate import CLAIM_AS_KEY  # houtai's statement, not a copy of it

CONNECTIONS = 50  # the API's pool (HOUTAI_API__DB_CONNECTIONS default)


class Floor:
    def __init__(self, dsn: str, key: str) -> None:
        self.dsn = dsn
        self.fixed = {
            "prefix": key.split("_")[1],
            "key_hash": hashlib.sha256(key.encode()).hexdigest(),
            "granting": ["storefront"],
            "needs_worker": False,
            "a_action": "POST /v1/orders",
            "a_method": "POST",
            "a_path": "/v1/orders",
            "a_object_type": "",
            "a_object_id": "",
            "a_status_code": 409,
            "a_detail": "{}",
            "order_prefix": "SO",  # a claim's number: never one here (the sale is sold out)
        }
        # Plain connections handed out first come first served (asyncpg's own pool resets a
        # connection given back with one more round trip; the API's pool does not).
        self.idle: asyncio.Queue[Any] = asyncio.Queue()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                if message["type"] == "lifespan.startup":
                    for _ in range(CONNECTIONS):
                        self.idle.put_nowait(await asyncpg.connect(self.dsn, timeout=10))
                    await send({"type": "lifespan.startup.complete"})
            while not self.idle.empty():
                await self.idle.get_nowait().close(timeout=5)
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        order = json.loads(body)
        [line] = order["lines"]
        params = self.fixed | {
            "sale": order["flash_sale_id"],
            "sku": line["sku_id"],
            "q": line["quantity"],
            "customer": order["customer_id"],
            "client_key": order["client_order_key"],
            "a_client_ip": scope["client"][0] if scope.get("client") else "",
        }
        connection = await self.idle.get()
        try:
            row = await connection.fetchrow(
                CLAIM_AS_KEY.sql, *(params[name] for name in CLAIM_AS_KEY.names), timeout=60
            )
        finally:
            self.idle.put_nowait(connection)
        answer = json.dumps(
            {"status": 409, "errors": [{"reason": row["refusal"]}]}, separators=(",", ":")
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 409 if row["refusal"] else 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(answer)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer})


def main() -> None:
    port, dsn, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    # As `houtai api` runs the API (workers/serve.py): uvicorn.run, its loop and parser.
    uvicorn.run(Floor(dsn, key), host="127.0.0.1", port=port, log_level="warning",
                access_log=False)  # fmt: skip


if __name__ == "__main__":
    main()
