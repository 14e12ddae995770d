"""Record the history of an order whose exchange ships a replacement, on the time-skipping server
with the fake activities of tests/workflows (the replacement's path is the same there):

    .venv/bin/python -m tests.replay.record_exchange <generation>

writes tests/replay/exchange/<generation>/exchange--order-<no>.json. The order is delivered, one
unit of line 2 is sent back for an exchange, the replacement is picked, packed, handed over and
delivered, and the order closes. `1-replacement-unlisted` was recorded with the code from before
the `replacement-is-an-order-package` patch (run from a checkout of that commit, which drives the
replacement itself as below), `2-replacement-listed` with the patch.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from models.contracts import order as o
from models.contracts import shipment as sh
from models.contracts import waves as w
from tests.workflows.fakes import DEVICE
from tests.workflows.scenario import running
from tests.workflows.test_after_sale_workflow import delivered, exchange, returned_and_inspected
from workflows.shipment import ShipmentWorkflow

HERE = Path(__file__).parent / "exchange"
REPLACEMENT = "PK1X"


async def record(generation: str) -> Path:
    async with running("record-exchange") as order:
        await delivered(order)
        await returned_and_inspected(order, exchange("AS1", 2, 1))
        await order.fake.wait_step(REPLACEMENT, "released")
        parcel = order.shipment(REPLACEMENT)
        line = o.PackageLine(line_no=2, sku_id=102, quantity=1)
        await parcel.signal(
            ShipmentWorkflow.picked,
            w.PackagePicked(package_no=REPLACEMENT, wave_no="WV-TEST", picked=[line]),
        )
        await order.fake.wait_step(REPLACEMENT, "picked")
        await parcel.execute_update(
            ShipmentWorkflow.pack, sh.PackRequest(actor=DEVICE, measured_weight_g=1_400)
        )
        await order.hand_over(REPLACEMENT)
        await order.push(REPLACEMENT, "collected", "delivered")
        view = await order.result()
        assert view.status == "closed", view.status
        history = await order.handle.fetch_history()
    path = HERE / generation / f"exchange--order-{order.order_no}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(history.to_json())
    print(f"recorded {path.relative_to(HERE)} ({len(history.events)} events)")  # noqa: T201
    return path


if __name__ == "__main__":
    asyncio.run(record(sys.argv[1]))
