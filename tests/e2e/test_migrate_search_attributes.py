"""`houtai migrate` on an external Temporal cluster registers the search attributes the
workflows set (the embedded dev server gets them at start), once: a second run adds nothing."""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest

from tests.support.temporal import dev_server
from workers.serve import register_search_attributes


async def test_migrate_registers_the_search_attributes_a_namespace_lacks() -> None:
    env = await dev_server(search_attributes=())  # a cluster that knows none of ours
    try:
        client = env.client
        added = await register_search_attributes(client, client.namespace)
        again = await register_search_attributes(client, client.namespace)
        known = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
    finally:
        await env.shutdown()
    assert added == ["HoutaiBusinessNo", "HoutaiEscalated", "HoutaiStatus", "HoutaiWarehouse"]
    assert again == []
    ours = {
        name: IndexedValueType.Name(kind)
        for name, kind in known.custom_attributes.items()
        if name.startswith("Houtai")
    }
    assert ours == {
        "HoutaiBusinessNo": "INDEXED_VALUE_TYPE_KEYWORD",
        "HoutaiStatus": "INDEXED_VALUE_TYPE_KEYWORD",
        "HoutaiWarehouse": "INDEXED_VALUE_TYPE_KEYWORD",
        "HoutaiEscalated": "INDEXED_VALUE_TYPE_BOOL",
    }
