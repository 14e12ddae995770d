"""The handheld's return inbound screen (退货入库): scan the returned parcel's tracking number,
split each line into back on the shelf and damaged, receive; sent twice, received once, and the
refund follows."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import text

from api.deps import AppDeps
from tests.console.test_pda_pages import _paired_and_signed_in
from tests.support.console import browser, csrf_of, text_of
from tests.support.order_api import http, staff, warehouse_id
from tests.support.orders import eventually
from tests.support.returns import returning
from tests.support.stack import Stack


async def test_a_return_is_received_on_the_handheld_once_and_refunded(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    async with http(stack.carrier) as carrier:
        back = await returning(stack, api, carrier, key="pda-console-ret")
    sh01 = await warehouse_id(stack, "SH01")
    line_no = back.line["line_no"]
    async with browser(deps) as pda:
        await _paired_and_signed_in(pda, api, stack, sh01)
        assert 'id="go-returns"' in (await pda.get("/pda/")).text
        assert "扫描退回包裹的运单号" in text_of((await pda.get("/pda/returns")).text)
        unknown = await pda.post("/pda/returns", data={"csrf": csrf_of(pda), "code": "SF404"})
        assert unknown.headers["location"] == "/pda/returns?msg=no_return"
        found = await pda.post(
            "/pda/returns", data={"csrf": csrf_of(pda), "code": back.tracking_no}
        )
        assert found.headers["location"] == f"/pda/returns/{back.as_no}"
        shown = await pda.get(found.headers["location"])
        assert "退回途中" in text_of(shown.text) and f'name="restock_{line_no}"' in shown.text
        scan_id = re.findall(r'name="scan_id" value="([^"]+)"', shown.text)[0]
        form = {"csrf": csrf_of(pda), "scan_id": scan_id}
        short = await pda.post(
            f"/pda/returns/{back.as_no}",
            data={**form, f"restock_{line_no}": "1", f"damaged_{line_no}": "0"},
        )
        assert short.headers["location"] == f"/pda/returns/{back.as_no}?ok=0&msg=quantity"
        whole = {**form, f"restock_{line_no}": "1", f"damaged_{line_no}": "1"}
        first = await pda.post(f"/pda/returns/{back.as_no}", data=whole)
        again = await pda.post(f"/pda/returns/{back.as_no}", data=whole)  # the answer was lost
        assert first.headers["location"] == again.headers["location"]
        assert "ok=1&msg=received&restocked=1&damaged=1" in first.headers["location"]
        said = await pda.get(first.headers["location"])
        assert "上架 1 件，残损 1 件；退款将自动进行" in text_of(said.text)
        assert "result-ok" in said.text and 'name="restock_' not in said.text

    cs = await staff(api, "cs")

    async def refunded() -> bool | None:
        seen = (await api.get(f"/v1/after-sales/{back.as_no}", headers=cs)).json()
        return True if seen["status"] == "refunded" else None

    await eventually(refunded, "the refund after the handheld received the return")
    async with stack.sessions() as session:
        rows = await session.scalars(
            text(
                "SELECT on_hand_delta FROM stock_movements WHERE ref_no = :a "
                "AND movement_type = 'return_in'"
            ),
            {"a": back.as_no},
        )
        assert sorted(rows.all()) == [1, 1]  # one restocked, one damaged: once
