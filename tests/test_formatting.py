"""Chinese formatting: dates, numerals, document numbers and phone masking."""

from __future__ import annotations

import datetime as dt

import pytest

from rectify.documents import document_number, en_date, mask_phone, zh_date, zh_ordinal


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
