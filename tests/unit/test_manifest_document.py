"""The printed carrier manifest (交接单): every package's tracking number scans back from its
Code 128, long manifests run over pages with the header on each, and the total and the lines the
driver signs come once, after the last package."""

from __future__ import annotations

from datetime import UTC, datetime

from models.documents import MANIFEST_ROWS_PER_PAGE, ManifestDocument, ManifestEntry, manifest_pdf
from tests.support.pdf_read import decoded, page_texts


def _manifest(count: int) -> ManifestDocument:
    return ManifestDocument(
        manifest_no="MF20261206000042",
        carrier_code="SF",
        carrier_name="顺丰速运",
        warehouse_code="SH01",
        warehouse_name="上海仓",
        status="handed_over",
        created_at=datetime(2026, 12, 6, 9, 30, tzinfo=UTC),
        handed_over_at=datetime(2026, 12, 6, 10, 5, tzinfo=UTC),
        handed_over_by="ops",
        note="沪A12345",
        entries=tuple(
            ManifestEntry(
                package_no=f"PK2026120600000{i:03d}",
                tracking_no=f"SF{7000000000 + i}",
                order_no=f"SO20261206{i:06d}",
                weight_g=1000 + i,
            )
            for i in range(count)
        ),
    )


def test_every_tracking_number_scans_back_and_the_figures_are_printed() -> None:
    doc = _manifest(3)
    pdf = manifest_pdf(doc)

    [codes] = decoded(pdf)
    assert codes == ["MF20261206000042", "SF7000000000", "SF7000000001", "SF7000000002"]
    [text] = page_texts(pdf)
    assert "交接单 CARRIER MANIFEST" in text and "顺丰速运 (SF)" in text and "上海仓 (SH01)" in text
    assert "Packages: 3" in text and "3.003 kg" in text  # 1000 + 1001 + 1002 g
    assert "Driver signature" in text and "沪A12345" in text
    assert manifest_pdf(doc) == pdf  # a reprint is the same document


def test_a_long_manifest_runs_over_pages_and_is_signed_once_at_the_end() -> None:
    count = MANIFEST_ROWS_PER_PAGE + 2
    pdf = manifest_pdf(_manifest(count))

    pages = decoded(pdf)
    assert [len(p) for p in pages] == [1 + MANIFEST_ROWS_PER_PAGE, 1 + 2]
    assert [p[0] for p in pages] == ["MF20261206000042"] * 2
    texts = page_texts(pdf)
    assert "page 1 / 2" in texts[0] and "page 2 / 2" in texts[1]
    assert "Driver signature" not in texts[0] and "Driver signature" in texts[1]
    assert f"Total: {count}" in texts[1]
