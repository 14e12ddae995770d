"""Rows given to `core.db.insert_rows` as one JSON parameter: exactly the statement's columns."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from core.db import json_rows

COLUMNS = ("package_no", "line_no", "quantity")


def test_rows_of_the_columns_become_one_json_array_with_timestamps_as_text() -> None:
    at = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    rows = [{"package_no": "PK1", "line_no": 1, "quantity": 2},
            {"package_no": "PK1", "line_no": 2, "quantity": at}]  # fmt: skip
    assert json.loads(json_rows(rows, COLUMNS)) == [
        {"package_no": "PK1", "line_no": 1, "quantity": 2},
        {"package_no": "PK1", "line_no": 2, "quantity": "2026-12-07 09:00:00+00:00"},
    ]
    assert json_rows([], COLUMNS) == "[]"


@pytest.mark.parametrize(
    "row",
    [
        {"package_no": "PK1", "line_no": 1},  # a column left out: it would be NULL
        {"package_no": "PK1", "line_no": 1, "quantity": 2, "sku_id": 7},  # a key dropped
    ],
)
def test_a_row_with_other_keys_than_the_columns_is_refused(row: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="are not the columns"):
        json_rows([row], COLUMNS)
