"""Temporal client with the pydantic data converter, used by every client and worker."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

# Search attributes houtai's workflows set; registered on the dev server at start and by
# `houtai migrate` on an external cluster.
SEARCH_ATTRIBUTES: dict[str, str] = {
    "HoutaiBusinessNo": "Keyword",
    "HoutaiStatus": "Keyword",
    "HoutaiWarehouse": "Keyword",
    "HoutaiEscalated": "Bool",
}


async def connect(address: str, namespace: str = "default") -> Client:
    return await Client.connect(
        address, namespace=namespace, data_converter=pydantic_data_converter
    )
