"""Phone and ID-card numbers never reach a reader who may not see them, however written.

``mask_phone`` (``templating/_formatting.py``) masks mainland mobiles, landlines and
18-digit ID-card numbers in any common writing and leaves other numbers alone; the case
notice and report contexts, the ledger export and ``rectify show`` mask every free-text
field for readers without ``may_see_phones``.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

import attrs
import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import given

import rectify
from rectify import Actor, Ledger
from rectify.cli import cli
from rectify.documents import (
    Issuer,
    LookbackResult,
    NoticeRenderer,
    case_notice_context,
    circular_context,
    ledger_context,
    lookback_context,
    mask_phone,
)
from rectify.engine import NoticeDue
from rectify.spreadsheets import write_ledger
from rectify.stores import MemoryStore
from rectify.testing import FakeCalendar
from tests.strategies import chinese_texts, phone_free_texts, phone_writings

TZ = ZoneInfo("Asia/Shanghai")

# -- how people write numbers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "masked"),
    [
        ("138－1234－5678", "138****5678"),  # full-width hyphen, as an IME types it
        ("138.1234.5678", "138****5678"),
        ("138．1234．5678", "138****5678"),
        ("138/1234/5678", "138****5678"),
        ("138\u20131234\u20135678", "138****5678"),  # en dash
        ("138\u20141234\u20145678", "138****5678"),  # em dash
        ("138\u00a01234\u00a05678", "138****5678"),  # no-break space
        ("138\u20091234\u20095678", "138****5678"),  # thin space
        ("138\u30001234\u30005678", "138****5678"),  # ideographic space
        ("138 - 1234 - 5678", "138****5678"),
        ("１３８１２３４５６７８", "138****5678"),
        ("１３８－１２３４－５６７８", "138****5678"),
        ("0086 138 1234 5678", "+86 138****5678"),
        ("+86-138-1234-5678", "+86 138****5678"),
        ("(+86)13812345678", "+86 138****5678"),
        ("（＋86）138-1234-5678", "+86 138****5678"),
        ("Tel13812345678", "Tel138****5678"),
        ("联系人张三１３８－１２３４－５６７８。", "联系人张三138****5678。"),
        ("2024-06-30 13812345678", "2024-06-30 138****5678"),
        ("023-4567 0119", "023****0119"),
        ("(023)45670119", "023****0119"),
        ("（023）4567-0119", "023****0119"),
        ("023－45670119", "023****0119"),
        ("０２３－４５６７０１１９", "023****0119"),
        ("0755.8765.4321", "075*****4321"),
        ("13812345678 13987654321", "138****5678 139****4321"),
        ("138－1234－5678\u3000139.8765.4321", "138****5678\u3000139****4321"),
        ("(023)45670119 13812345678", "023****0119 138****5678"),
        ("500101199001011234", "500101********1234"),
        ("50010119900101123X", "500101********123X"),
        ("50010119900101123x", "500101********123X"),
        ("500101 19900101 1234", "500101********1234"),
        ("身份证号：５００１０１１９９００１０１１２３Ｘ。", "身份证号：500101********123X。"),
        ("13812345678 500101199001011234", "138****5678 500101********1234"),
    ],
)
def test_every_common_writing_of_a_number_is_masked(written: str, masked: str) -> None:
    assert mask_phone(written) == masked
    assert mask_phone(written, reveal=True) == written
    assert mask_phone(masked) == masked  # a template's filter may mask a masked context again


@pytest.mark.parametrize(
    "text",
    [
        "2024-06-30",
        "2024.06.30",
        "2024/6/30",
        "2024－06－30",
        "2024年6月30日",
        "2024-06-30 2024-07-30",
        "整改期限2024-06-30至2024-07-30",
        "2024-06-30 13:00",
        "2024-06-30—2024-07-30",
        "虎峰镇消安〔2024〕12号",
        "HZ-1a2b3c4d5e",
        "HZ-1384567890",
        "罚款5000元",
        "罚款1200000元",
        "罚款1 200 000元",
        "¥1234567.89",
        "￥1,200,000.00",
        "120万元",
        "3栋2单元401室",
        "1001-1005室",
        "18层",
        "54米",
        "第12栋3单元",
        "房间 12",
        "GB 50016-2014",
        "GB50016-2014",
        "GB/T 25201-2010",
        "",
    ],
)
def test_numbers_that_are_not_phones_are_kept(text: str) -> None:
    assert mask_phone(text) == text


def surviving(number: str, output: str) -> set[str]:
    """Return the runs of 7 digits of ``number`` that ``output`` still shows.

    The output is normalised (full-width digits) and digit groups with up to three
    separators between them count as one run, as a reader would read them.
    """
    text = unicodedata.normalize("NFKC", output)
    runs = [
        re.sub(r"\D", "", m.group())
        for m in re.finditer(r"\d(?:[\s\-\u2010-\u2015./()]{0,3}\d)*", text)
    ]
    windows = {number[i : i + 7] for i in range(len(number) - 6)}
    return {w for w in windows if any(w in run for run in runs)}


def test_the_leak_check_finds_a_number_however_it_is_written() -> None:
    assert surviving("13812345678", "电话１３８－１２３４－５６７８") != set()
    assert surviving("13812345678", "电话138****5678") == set()


@given(writing=phone_writings(), before=chinese_texts(), after=chinese_texts())
def test_no_run_of_seven_digits_of_a_number_survives_masking(
    writing: tuple[str, str], before: str, after: str
) -> None:
    number, written = writing
    masked = mask_phone(before + written + after)
    assert surviving(number, masked) == set()
    assert mask_phone(masked) == masked
    assert masked.startswith(before)
    assert masked.endswith(after)


@given(text=phone_free_texts())
def test_text_without_phone_numbers_is_left_as_it_is(text: str) -> None:
    assert mask_phone(text) == text


# -- every document and export ---------------------------------------------------------------------

#: Each free-text field holds a number in another writing: (the number, the field's text).
FIELDS: Final[Mapping[str, tuple[str, str]]] = {
    "description": ("13812345678", "楼道堆放杂物，房东电话１３８－１２３４－５６７８"),
    "responsible_party": ("13987654321", "某物业（+86-139-8765-4321）"),
    "measures": ("02345670119", "清理杂物，完成后拨打(023)4567 0119报复查"),
    "address": ("15011112222", "虎峰镇滨河路88号，楼长150.1111.2222"),
    "location": ("500101199001011234", "三楼楼道，登记人身份证500101 19900101 1234"),
    "community_name": ("17012345678", "滨河花园（物业170\u00a01234\u00a05678）"),
    "note": ("15233334444", "夜间联系152/3333/4444"),
}
ISSUER: Final = Issuer("虎峰镇消防安全委员会办公室", code="虎峰镇消安", contact="刘晓东")
COMMUNITY: Final = Actor("c-1", "community")
OPENED: Final = dt.datetime(2024, 6, 3, 9, tzinfo=TZ)
DAY: Final = dt.date(2024, 6, 20)
RENDERER: Final = NoticeRenderer()


def _leaks(output: str) -> dict[str, set[str]]:
    found = {field: surviving(number, output) for field, (number, _) in FIELDS.items()}
    return {field: runs for field, runs in found.items() if runs}


@attrs.frozen
class _Opened:
    ledger: Ledger
    case: rectify.Case
    slip: NoticeDue


def _assigned() -> _Opened:
    ledger = Ledger.with_workflows(MemoryStore(), calendar=FakeCalendar())
    data = {
        "community": "虎峰社区",
        "category": "FAC.HOSE",
        "severity": "general-short",
        "building_head": "王德明",
        "phone": "15200003801",
    }
    assigned = ("responsible_party", "measures")  # given by the assign event
    data.update({k: t for k, (_, t) in FIELDS.items() if k not in assigned})
    ledger.open("HZ-1a2b3c4d5e", "hazard", data, COMMUNITY, at=OPENED)
    outcome = ledger.fire(
        "HZ-1a2b3c4d5e",
        "assign",
        COMMUNITY,
        payload={
            "responsible_party": FIELDS["responsible_party"][1],
            "measures": FIELDS["measures"][1],
            "due": dt.date(2024, 6, 30),
        },
        at=OPENED + dt.timedelta(hours=1),
    )
    slip = next(e for e in outcome.effects if isinstance(e, NoticeDue))
    # Escalated to town supervision, so that the circular lists it.
    return _Opened(ledger, attrs.evolve(outcome.case, escalation=2), slip)


def _documents(opened: _Opened, role: str | None) -> dict[str, str]:
    case, spec = opened.case, opened.ledger.engine("hazard").spec
    specs = [e.spec for e in opened.ledger.engines]
    slip = case_notice_context(
        opened.slip, case, spec, issuer=ISSUER, sequence=1, issued_on=DAY, reader_role=role
    )
    circular = circular_context(
        [case], specs, year=2024, month=6, as_of=DAY, issuer=ISSUER, sequence=2, reader_role=role
    )
    ledger = ledger_context([case], specs, as_of=DAY, issuer=ISSUER, sequence=3, reader_role=role)
    lookback = lookback_context(
        [LookbackResult(case, passed=False, note=FIELDS["note"][1])],
        as_of=DAY,
        issuer=ISSUER,
        sequence=4,
        reader_role=role,
    )
    out: dict[str, str] = {}
    for name, context in (
        ("rectification_slip", slip),
        ("circular", circular),
        ("ledger", ledger),
        ("lookback_report", lookback),
    ):
        for fmt in ("html", "text"):
            out[f"{name}.{fmt}"] = RENDERER.render(name, context, fmt=fmt).body
    return out


def _exports(opened: _Opened, role: str | None, folder: Path) -> dict[str, str]:
    specs = [e.spec for e in opened.ledger.engines]
    out: dict[str, str] = {}
    for fmt in ("csv", "xlsx"):
        path = folder / f"ledger-{role}.{fmt}"
        write_ledger([opened.case], path, specs=specs, reader_role=role)
        if fmt == "csv":
            out[fmt] = path.read_text("utf-8-sig")
        else:
            sheet = openpyxl.load_workbook(path).worksheets[0]
            out[fmt] = "\n".join(str(c.value) for row in sheet.iter_rows() for c in row)
    return out


@pytest.mark.parametrize("role", [None, "public", "responsible_party", "property"])
def test_no_document_or_export_shows_a_number_to_a_reader_without_permission(
    role: str | None, tmp_path: Path
) -> None:
    opened = _assigned()
    outputs = {**_documents(opened, role), **_exports(opened, role, tmp_path)}
    assert {name: _leaks(body) for name, body in outputs.items() if _leaks(body)} == {}
    # the masked forms are there, so the fields were printed and not dropped
    assert "138****5678" in outputs["rectification_slip.html"]
    assert "+86 139****4321" in outputs["csv"]


def test_a_reader_with_permission_sees_every_number(tmp_path: Path) -> None:
    opened = _assigned()
    documents = _documents(opened, "community")
    exports = _exports(opened, "community", tmp_path)
    slip = documents["rectification_slip.html"]
    for field in ("description", "measures", "address", "location"):
        assert FIELDS[field][1] in slip, field
    assert FIELDS["responsible_party"][1] in documents["rectification_slip.text"]
    for field in ("description", "responsible_party", "measures", "note"):
        assert FIELDS[field][1] in exports["csv"], field
    assert all(_leaks(exports[fmt]) for fmt in exports)


def test_the_contexts_hold_masked_text_so_a_host_template_cannot_print_a_number() -> None:
    opened = _assigned()
    spec = opened.ledger.engine("hazard").spec
    context = case_notice_context(
        opened.slip, opened.case, spec, issuer=ISSUER, sequence=1, issued_on=DAY
    )
    hazard, event = context["hazard"], context["event"]
    assert isinstance(hazard, dict)
    assert isinstance(event, dict)
    assert hazard["description"] == "楼道堆放杂物，房东电话138****5678"
    assert hazard["phone"] == "152****3801"
    assert event["payload"]["measures"] == "清理杂物，完成后拨打023****0119报复查"
    assert event["payload"]["due"] == dt.date(2024, 6, 30)  # values other than text are kept
    assert context["issuer"] == ISSUER.view()  # the office's own number is public


def test_a_reason_in_the_history_is_masked_for_a_reader_without_permission() -> None:
    opened = _assigned()
    case = opened.case
    record = attrs.evolve(case.history[-1], reason="责任人改为李四１３８ １２３４ ５６７８")
    case = attrs.evolve(case, history=(*case.history[:-1], record))
    spec = opened.ledger.engine("hazard").spec
    for role, shown in ((None, False), ("town_office", True)):
        context = case_notice_context(
            opened.slip, case, spec, issuer=ISSUER, sequence=1, issued_on=DAY, reader_role=role
        )
        event = context["event"]
        assert isinstance(event, dict)
        assert (event["reason"] == record.reason) is shown
        assert bool(surviving("13812345678", str(event["reason"]))) is shown


# -- the command line ------------------------------------------------------------------------------


def test_show_masks_numbers_for_a_reader_without_permission(tmp_path: Path) -> None:
    db = tmp_path / "rectify.db"
    ledger = Ledger.with_workflows(rectify.open_store(str(db)), calendar=FakeCalendar())
    data = {"community": "虎峰社区", "category": "FAC.HOSE", "severity": "general-short"}
    data.update({k: text for k, (_, text) in FIELDS.items() if k != "responsible_party"})
    ledger.open("HZ-1a2b3c4d5e", "hazard", data, COMMUNITY, at=OPENED)
    ledger.store.close()
    runner = CliRunner()
    public = runner.invoke(cli, ["show", "HZ-1a2b3c4d5e", "--db", str(db), "--reader", "public"])
    office = runner.invoke(cli, ["show", "HZ-1a2b3c4d5e", "--db", str(db)])
    assert (public.exit_code, office.exit_code) == (0, 0), public.output + office.output
    assert _leaks(public.stdout) == {}
    assert "138****5678" in public.stdout
    assert FIELDS["description"][1] in office.stdout  # the clerk's default: the community
