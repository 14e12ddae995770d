"""Masking personal data: nothing masked gives away more than its rule keeps."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from models.domain.privacy import mask_detail, mask_name, mask_phone


def test_the_usual_shapes() -> None:
    assert mask_phone("13800000000") == "138****0000"
    assert mask_phone("+86-13812345678") == "+86********5678"
    assert mask_phone("95533") == "***33"
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧阳娜娜"[0] + "***"
    assert mask_name("李") == "李*"
    assert mask_detail("浦东新区世纪大道100号5楼501室") == "浦东新区世纪****"
    assert mask_detail("一号") == "****"


@given(st.text(alphabet="0123456789+-", min_size=5, max_size=20))
def test_a_masked_phone_keeps_at_most_seven_of_its_characters(phone: str) -> None:
    masked = mask_phone(phone)
    assert len(masked) == len(phone)
    kept = sum(1 for a, b in zip(phone, masked, strict=True) if a == b and b != "*")
    assert kept <= 7
    assert masked.endswith(phone[-2:])
    if len(phone) > 7:
        assert masked.count("*") >= len(phone) - 7


@given(st.text(min_size=1, max_size=200))
def test_a_masked_address_never_shows_its_tail(detail: str) -> None:
    masked = mask_detail(detail)
    assert masked.endswith("****")
    shown = masked[:-4]
    assert detail.startswith(shown)
    assert len(shown) <= 6 and len(shown) <= len(detail) // 3
