"""Chinese formatting: dates, numerals, document numbers and phone masking."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import given

from rectify.documents import document_number, en_date, mask_phone, zh_date, zh_ordinal
from tests.strategies import chinese_texts, mobile_numbers


@pytest.mark.parametrize(
    ("written", "masked"),
    [
        ("15223133801", "152****3801"),
        ("152 2313 3801", "152****3801"),
        ("+86 152-2313-3801", "+86 152****3801"),
        ("8615223133801", "+86 152****3801"),
        ("023-4567 0119", "023****0119"),
        ("李华（152-2313-3801）", "李华（152****3801）"),
        ("整改期限2024-06-30，联系15223133801", "整改期限2024-06-30，联系152****3801"),
        ("第12栋3单元", "第12栋3单元"),
        ("", ""),
    ],
)
def test_phone_numbers_are_masked_however_they_are_written(written: str, masked: str) -> None:
    assert mask_phone(written) == masked
    assert mask_phone(written, reveal=True) == written


@pytest.mark.parametrize(
    ("written", "masked"),
    [
        ("张三 13812345678 13987654321", "张三 138****5678 139****4321"),
        ("13812345678-13987654321", "138****5678-139****4321"),
        ("152 2313 3801 139 8765 4321", "152****3801 139****4321"),
        ("8613812345678 13987654321", "+86 138****5678 139****4321"),
        ("+86 138 1234 5678 13987654321", "+86 138****5678 139****4321"),
        ("023-4567 0119 13812345678", "023****0119 138****5678"),
        ("0755-8765 4321 023-4567 0119", "075*****4321 023****0119"),
        ("13812345678 2024-06-30", "138****5678 2024-06-30"),
        ("房间 12 13812345678", "房间 12 138****5678"),
        ("13812345678 12", "138****5678 12"),
        ("138123 456789", "138*****6789"),
    ],
)
def test_several_numbers_in_one_cell_are_masked_each_on_its_own(written: str, masked: str) -> None:
    assert mask_phone(written) == masked
    assert mask_phone(written, reveal=True) == written


def _masked(mobile: str) -> str:
    return f"{mobile[:3]}****{mobile[-4:]}"


@given(
    first=mobile_numbers(),
    second=mobile_numbers(),
    before=chinese_texts(),
    after=chinese_texts(),
)
def test_two_mobile_numbers_side_by_side_are_masked_separately(
    first: str, second: str, before: str, after: str
) -> None:
    written = f"{before}{first} {second}{after}"
    masked = mask_phone(written)
    assert masked == f"{before}{_masked(first)} {_masked(second)}{after}"
    assert re.search(r"[0-9]{11}", masked) is None
    digits = re.sub(r"[^0-9]", "", masked)
    assert first not in digits
    assert second not in digits


def test_dates_numerals_and_document_numbers() -> None:
    assert zh_date(dt.date(2024, 3, 11)) == "2024年3月11日"
    assert en_date("2024-03-11") == "11 March 2024"
    assert [zh_ordinal(n) for n in (1, 10, 11, 21, 105)] == [
        "一、",
        "十、",
        "十一、",
        "二十一、",
        "一百零五、",
    ]
    assert document_number("虎峰镇消安", 2024, 12) == "虎峰镇消安〔2024〕12号"
