"""Carrier manifests (交接单) over HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import StringConstraints

from api.schemas.common import Public, Strict
from api.schemas.types import Code, Id, Text

ManifestStatus = Literal["open", "handed_over", "cancelled"]
LineStatus = Literal["scanned", "removed", "handed_over", "failed", "cancelled"]
# Chosen by the device for each scan: a resent scan answers what the first one did.
ScanId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9\-_.:]{1,64}$")]
ScanCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[ -~]+$")
]
Note = Annotated[Text, StringConstraints(strip_whitespace=True, max_length=200)]


class ManifestCreate(Strict):
    warehouse_id: Id
    carrier_code: Code
    note: Note | None = None  # driver, vehicle
    # Made by the device: a resent request answers the manifest it opened the first time.
    request_id: ScanId | None = None


class ManifestScan(Strict):
    scan_id: ScanId
    code: ScanCode  # the package number or the tracking number on its label


class ManifestLinePublic(Public):
    package_no: str
    order_no: str
    tracking_no: str | None
    weight_g: int
    package_status: str
    status: LineStatus
    scan_id: str
    scanned_at: datetime
    scanned_by: str
    removed_at: datetime | None = None
    removed_by: str | None = None
    failure: str | None = None


class ManifestRow(Public):
    manifest_no: str
    warehouse_id: int
    carrier_code: str
    status: ManifestStatus
    note: str | None
    created_by: str
    created_at: datetime
    handed_over_at: datetime | None
    handed_over_by: str | None
    handed_over_worker: str | None
    count: int  # packages on it (scanned, or handed over with it)


class ManifestPublic(ManifestRow):
    weight_g: int  # of the packages on it
    packages: list[ManifestLinePublic]  # every line, also those taken off or refused


class ScanAnswer(ManifestPublic):
    scan_id: str
    package_no: str  # the package the scan put on the manifest
    replayed: bool


class HandoverFailure(Public):
    package_no: str
    detail: str


class HandoverAnswer(ManifestPublic):
    handed_over: list[str]  # packages the carrier took with this manifest
    failed: list[HandoverFailure]  # refused by their shipment: they stay in the warehouse
