"""Printing: every HTML document, printed to A4 by headless Chromium, reads as laid out.

Each HTML document kind (the case notices and reports of ``tests/test_notices.py``, in zh-CN and
in English) is rendered once from the town, with its case numbers lengthened to the shape the
ledger gives them (``HZ-21b35457e9``, and ``HZ-21b35457e9-R1`` for a hazard that came back), and
handed to Chromium twice:

* printed to a PDF (``--print-to-pdf``, as a user prints from the browser): the notices served
  on the responsible party (the rectification slip in both languages, the reminder, the overdue
  warning, the supervision order) are one A4 page, with their signature and receipt on it;
* laid out at the width the page has when printed (A4 less the ``@page`` margins, read from the
  document's own CSS) with a script that lists the table cells whose content is wider than the
  cell (``scrollWidth > clientWidth``), the tables wider than the page and the case numbers
  (``.caseno``) broken other than after a hyphen: there are none.

The formal documents (every page that is not a party's "form": circulars, reports, tables) follow
GB/T 9704-2012: body text 三号 (16 pt) 仿宋, the page number "— 1 —" under every page (CSS
``@page`` margin boxes, read back from the PDF's text with ``pypdf``), the 主送机关 after the
title, 签发人 beside the number of a document sent up and the 版记 (抄送, 印发) at the end. The
circular and the escalation report are printed a second time as the shipped campaign files them
(``filed-circular``, ``filed-escalation_report``: its issuer, 主送, 抄送, upward).

Chromium and a CJK font are needed (Debian: ``apt-get install chromium fonts-noto-cjk``); without
them the tests that print skip and say so. The Chromium runs go two at a time; the documents are
printed once for the module (about 30 s on two cores).
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import json
import re
import shutil
import subprocess
import tempfile
import unicodedata
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Final

import pytest
from pypdf import PdfReader

from rectify import NoticeRenderer
from rectify.calendar import load_campaign
from rectify.documents import filing_view, issuer_for
from tests.test_notices import CHROMIUM, RENDERER, Town, build_town, case_context, context_for

#: Every HTML document: (file stem, template name, locale), as the screenshots name them.
DOCUMENTS: Final = [
    *((name, name, "zh-CN") for name in sorted(RENDERER.available())),
    *((f"en-{name}", name, "en") for name in sorted(RENDERER.available("en"))),
]
#: Documents printed again as the shipped campaign files them (issuer, 主送, 抄送, upward).
FILED: Final = ("circular", "escalation_report")
#: The formal documents (GB/T 9704): every page that is not a party's one-sheet form.
FORMAL: Final = frozenset(
    {
        *("circular", "escalation_levels", "escalation_report", "ledger", "ledger_totals"),
        *("lookback_report", "monthly_report", "en-monthly_report"),
        *("survey_coverage", "estate_register", "task_status", "rectification_plan"),
        *(f"filed-{name}" for name in FILED),
    }
)
#: The notices a party signs for: one sheet of paper each, signature and receipt included.
ONE_PAGE: Final = {
    "rectification_slip": "receipt",
    "en-rectification_slip": "receipt",
    "reminder": "signature",
    "overdue_warning": "receipt",
    "supervision_order": "receipt",
}
#: An A4 page at 96 dpi, the window the page is laid out in; the ledger prints landscape.
PORTRAIT: Final = (794, 1123)
LANDSCAPE: Final = (1123, 794)
WIDE: Final = frozenset({"ledger", "estate_register"})
#: Case numbers as the ledger makes them: ``HZ-`` and ten hex digits, ``-R1`` when one came back.
LONG_ID: Final = re.compile(r"HZ-[0-9a-f]{10}(-R1)?")
_FLAGS: Final = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--no-pdf-header-footer",
)
#: A page number as a formal document prints it under the text: "— 3 —".
_PAGE_NUMBER: Final = re.compile(r"—\s*(\d+)\s*—")

#: Run when the page has loaded: lay the page out as wide as the printed page (the ``@page``
#: size less its left and right margins, the last rule winning and the rules of the named page
#: of the first element, ``@page form``, after the others), then list the table cells
#: whose content is wider than the cell and the tables wider than their container, and the
#: case numbers (``.caseno``) broken across lines other than after a hyphen, into
#: ``<pre id="overflow">`` as JSON.
OVERFLOW_SCRIPT: Final = """
addEventListener("load", () => document.fonts.ready.then(() => {
  const paper = {a5: [148, 210], a4: [210, 297], a3: [297, 420], b5: [176, 250],
                 letter: [215.9, 279.4], legal: [215.9, 355.6]};
  let width = "210mm", left = "10mm", right = "10mm";
  const rules = [...document.styleSheets].flatMap((sheet) => [...sheet.cssRules])
    .filter((rule) => rule instanceof CSSPageRule);
  const named = getComputedStyle(document.body.firstElementChild || document.body).page;
  const unnamed = rules.filter((rule) => !rule.selectorText);
  for (const rule of [...unnamed, ...rules.filter((rule) => rule.selectorText === named)]) {
    const words = rule.style.getPropertyValue("size").toLowerCase().split(/\\s+/)
      .filter(Boolean);
    const sheet = words.find((word) => word in paper);
    const turned = words.includes("landscape");
    if (sheet || turned || words.includes("portrait")) {
      const [short, long] = paper[sheet || "a4"];
      width = (turned ? long : short) + "mm";
    } else if (words.length && words[0] !== "auto") {
      width = words[0];
    }
    if (rule.style.marginLeft) left = rule.style.marginLeft;
    if (rule.style.marginRight) right = rule.style.marginRight;
  }
  const root = document.documentElement;
  root.style.width = `calc(${width} - ${left} - ${right})`;
  const text = (el) => el.textContent.replace(/\\s+/g, " ").trim().slice(0, 40);
  const found = [];
  for (const cell of document.querySelectorAll("td, th")) {
    const over = cell.scrollWidth - cell.clientWidth;
    if (over > 1) found.push(`${cell.tagName.toLowerCase()} +${over}px: ${text(cell)}`);
  }
  for (const table of document.querySelectorAll("table")) {
    const over = table.offsetWidth - table.parentElement.clientWidth;
    if (over > 1) found.push(`table +${over}px: ${text(table)}`);
  }
  const badlySplit = (number) => {
    const texts = document.createTreeWalker(number, NodeFilter.SHOW_TEXT);
    let top = null, before = "";
    for (let node = texts.nextNode(); node; node = texts.nextNode()) {
      for (let i = 0; i < node.length; i++) {
        const range = document.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        const box = range.getBoundingClientRect();
        if (!box.height) continue;
        if (top !== null && box.top > top + box.height / 2 && before !== "-") return true;
        top = box.top;
        before = node.data[i];
      }
    }
    return false;
  };
  const split = [...document.querySelectorAll(".caseno")].filter(badlySplit).map(text);
  const box = (el) => {
    if (!el) return null;
    const r = el.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, text: text(el)};
  };
  const px = (el, side) => el ? parseFloat(getComputedStyle(el)[side]) : 0;
  const page = document.querySelector(".page");
  const body = document.querySelector(".page > p:not(.flush)");
  const imprint = document.querySelector(".imprint");
  const heading = document.querySelector("h1");
  const layout = {
    page: box(page),
    body: body && {size: getComputedStyle(body).fontSize, line: getComputedStyle(body).lineHeight,
                   font: getComputedStyle(body).fontFamily},
    number: box(document.querySelector(".docno")),
    signer: box(document.querySelector(".signer")),
    addressee: box(document.querySelector(".addressee")),
    afterTitle: heading && heading.nextElementSibling && heading.nextElementSibling.className,
    imprint: imprint && {
      lines: [px(imprint, "borderTopWidth"), px(imprint.querySelector(".cc"), "borderBottomWidth"),
              px(imprint, "borderBottomWidth")],
      last: imprint === page.lastElementChild,
      text: [...imprint.children].map(text),
    },
  };
  const out = document.createElement("pre");
  out.id = "overflow";
  out.textContent = JSON.stringify({
    count: found.length, first: found.slice(0, 5), split,
    width: root.getBoundingClientRect().width, layout,
  });
  document.body.append(out);
}));
"""
_OVERFLOW: Final = re.compile(r'<pre id="overflow">(.*?)</pre>', re.DOTALL)
#: A page object of a PDF (``/Type /Pages`` is the tree above them).
_PAGE: Final = re.compile(rb"/Type\s*/Page(?![A-Za-z])")


def require_chromium() -> Path:
    """Return Chromium's path, or skip the test as ``tests/test_notices.py``'s browser test does."""
    if not CHROMIUM.is_file() or shutil.which(str(CHROMIUM)) is None:
        pytest.skip(
            f"no Chromium at {CHROMIUM}; to run this test install it with a CJK font: "
            "apt-get install chromium fonts-noto-cjk"
        )
    return CHROMIUM


def long_ids(town: Town) -> dict[str, str]:
    """Map each case number of the town to one the ledger would make (``HZ-21b35457e9``)."""

    def stable(case_id: str) -> str:
        return "HZ-" + hashlib.sha256(case_id.encode()).hexdigest()[:10]

    return {
        c.id: f"{stable(c.recurrence_of)}-R1" if c.recurrence_of else stable(c.id)
        for c in town.cases.values()
    }


def with_long_ids(value: object, ids: Mapping[str, str]) -> object:
    """Return ``value`` (a context) with every case number replaced through ``ids``."""
    if isinstance(value, str):
        return ids.get(value, value)
    if isinstance(value, dict):
        return {k: with_long_ids(v, ids) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(with_long_ids(v, ids) for v in value)
    return value


def render(name: str, locale: str, town: Town, *, filed: bool = False) -> str:
    """Return document ``name`` as printed for the town, its case numbers made long.

    ``filed``: as the shipped campaign files it: its issuer (with the 签发人) and its ``filing``
    (主送, 抄送, sent up or not).
    """
    context = with_long_ids(context_for(name, town=town), long_ids(town))
    assert isinstance(context, dict)
    if filed:
        campaign = load_campaign()
        issuer = issuer_for(campaign, name)
        assert issuer is not None, name
        context["issuer"] = issuer.view()
        context["filing"] = filing_view(campaign, name, issuer)
    return RENDERER.render(name, context, locale=locale).body


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with its own throw-away profile."""
    with tempfile.TemporaryDirectory(prefix="rectify-chromium-") as profile:
        command = [str(require_chromium()), *_FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def pdf_pages(page: Path, pdf: Path) -> int:
    """Print ``page`` to ``pdf`` as a user would and return its number of pages."""
    chromium(f"--print-to-pdf={pdf}", page.as_uri())
    return len(_PAGE.findall(pdf.read_bytes()))


def pdf_texts(pdf: Path) -> tuple[str, ...]:
    """Return the text of each page of ``pdf``, NFKC-normalised (the CJK fonts map some
    characters to Kangxi radicals, ``⼀`` for ``一``; full-width punctuation becomes ASCII)."""
    reader = PdfReader(pdf)
    return tuple(unicodedata.normalize("NFKC", page.extract_text()) for page in reader.pages)


def overflowing(page: Path, size: tuple[int, int]) -> dict[str, object]:
    """Lay out a copy of ``page`` as printed; return what overflows (count, first, split)."""
    copy = page.with_name(f"{page.stem}.overflow.html")
    body = page.read_text(encoding="utf-8")
    assert body.count("</body>") == 1, page
    copy.write_text(body.replace("</body>", f"<script>{OVERFLOW_SCRIPT}</script></body>"), "utf-8")
    run = chromium(
        f"--window-size={size[0]},{size[1]}",
        "--run-all-compositor-stages-before-draw",
        "--virtual-time-budget=2000",
        "--dump-dom",
        copy.as_uri(),
    )
    match = _OVERFLOW.search(run.stdout)
    assert match, f"the overflow script wrote nothing into {copy.name}: {run.stderr[-2000:]}"
    found: dict[str, object] = json.loads(html.unescape(match.group(1)))
    return found


@dataclasses.dataclass(frozen=True)
class Printed:
    """One document as Chromium printed it."""

    body: str
    pages: int
    overflow: dict[str, object]
    #: The text of each printed page.
    texts: tuple[str, ...] = ()

    @property
    def layout(self) -> dict[str, object]:
        """Where the formal parts sit on the laid-out page (see ``OVERFLOW_SCRIPT``)."""
        found = self.overflow["layout"]
        assert isinstance(found, dict)
        return found


def print_all(folder: Path, documents: Mapping[str, str]) -> dict[str, Printed]:
    """Print every document of ``documents`` (stem to HTML), two Chromium runs at a time."""
    paths = {}
    for stem, body in documents.items():
        paths[stem] = folder / f"{stem}.html"
        paths[stem].write_text(body, encoding="utf-8")
    with ThreadPoolExecutor(max_workers=2) as pool:
        pages = {s: pool.submit(pdf_pages, p, folder / f"{s}.pdf") for s, p in paths.items()}
        over = {
            s: pool.submit(overflowing, p, LANDSCAPE if s in WIDE else PORTRAIT)
            for s, p in paths.items()
        }
        return {
            s: Printed(
                documents[s],
                pages[s].result(),
                over[s].result(),
                pdf_texts(folder / f"{s}.pdf"),
            )
            for s in documents
        }


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Printed]:
    """Every HTML document of the town, printed once for all the tests below."""
    require_chromium()
    town = build_town()
    bodies = {stem: render(name, locale, town) for stem, name, locale in DOCUMENTS}
    bodies |= {f"filed-{name}": render(name, "zh-CN", town, filed=True) for name in FILED}
    return print_all(tmp_path_factory.mktemp("print"), bodies)


# -- the checks, proven on documents known to fail them --------------------------------------------

#: A host template on the built-in layout: in narrow columns, a case number kept on one line
#: (it overflows) and one that may break anywhere (it is broken between two digits).
TOO_NARROW: Final = """{% extends "_layout.html.j2" %}{% set title = "案件清单" %}
{% block content %}<table class="list"><colgroup><col style="width:8%"><col style="width:8%">
<col style="width:84%"></colgroup><tbody><tr><td style="white-space:nowrap">HZ-21b35457e9-R1</td>
<td class="caseno">HZ-21b35457e9</td><td>可以换行</td></tr></tbody></table>{% endblock %}"""
#: Three pages, one per ``.page``.
THREE_PAGES: Final = """{% extends "_layout.html.j2" %}{% set title = "三页" %}
{% block pages %}{% for n in range(3) %}<div class="page"><p>第{{ n + 1 }}页</p></div>
{% endfor %}{% endblock %}"""
#: A party's form on the built-in layout: one sheet, no page number.
FORM_PAGE: Final = """{% extends "_layout.html.j2" %}{% set title = "表单" %}
{% block page_class %} form{% endblock %}{% block content %}<p>第1页</p>{% endblock %}"""


def test_the_checks_catch_an_overflowing_cell_and_count_pages(tmp_path: Path) -> None:
    require_chromium()
    host = tmp_path / "templates"
    host.mkdir()
    (host / "too_narrow.html.j2").write_text(TOO_NARROW, encoding="utf-8")
    (host / "three_pages.html.j2").write_text(THREE_PAGES, encoding="utf-8")
    (host / "form_page.html.j2").write_text(FORM_PAGE, encoding="utf-8")
    renderer = NoticeRenderer(host)
    context = case_context("rectification_slip")
    names = ("too_narrow", "three_pages", "form_page")
    bodies = {name: renderer.render(name, context).body for name in names}
    out = print_all(tmp_path, bodies)
    narrow = out["too_narrow"].overflow
    first = narrow["first"]
    assert narrow["count"] == 1, narrow
    assert isinstance(first, list)
    assert re.fullmatch(r"td \+\d+px: HZ-21b35457e9-R1", first[0]), narrow
    assert narrow["split"] == ["HZ-21b35457e9"], narrow
    assert out["three_pages"].overflow["count"] == 0
    assert (out["too_narrow"].pages, out["three_pages"].pages) == (1, 3)
    # A host's page is formal unless it says "form": numbered "— n —" under every page.
    assert page_numbers(out["three_pages"]) == [[1], [2], [3]]
    assert page_numbers(out["form_page"]) == [[]]
    assert out["form_page"].pages == 1


def page_numbers(document: Printed) -> list[list[int]]:
    """Return the page numbers ("— 2 —") found on each printed page of ``document``."""
    return [[int(n) for n in _PAGE_NUMBER.findall(text)] for text in document.texts]


# -- every document --------------------------------------------------------------------------------


def test_the_documents_carry_long_case_numbers() -> None:
    town = build_town()
    ids = long_ids(town)
    assert all(LONG_ID.fullmatch(v) for v in ids.values())
    assert any(v.endswith("-R1") for v in ids.values())
    for name in ("lookback_report", "escalation_levels", "ledger"):
        body = render(name, "zh-CN", town)
        assert LONG_ID.search(body), name
        assert not any(short in body for short in ids), name
    assert "-R1" in render("lookback_report", "zh-CN", town)


@pytest.mark.parametrize("stem", list(ONE_PAGE))
def test_a_notice_served_on_a_party_prints_on_one_page(
    printed: dict[str, Printed], stem: str
) -> None:
    document = printed[stem]
    assert f'<div class="{ONE_PAGE[stem]}">' in document.body
    assert document.pages == 1, f"{stem} prints on {document.pages} pages"


@pytest.mark.parametrize(
    "stem", [*(stem for stem, _, _ in DOCUMENTS), *(f"filed-{name}" for name in FILED)]
)
def test_no_table_cell_overflows_when_printed(printed: dict[str, Printed], stem: str) -> None:
    document = printed[stem]
    assert document.pages >= 1
    assert document.overflow["count"] == 0, f"{stem}: {document.overflow['first']}"
    assert document.overflow["split"] == [], f"{stem}: case numbers split badly"


# -- formal documents: GB/T 9704-2012 --------------------------------------------------------------


def test_the_formal_documents_are_the_pages_that_are_not_forms(printed: dict[str, Printed]) -> None:
    formal = {stem for stem, document in printed.items() if 'class="page formal"' in document.body}
    assert formal == FORMAL - WIDE
    for stem in WIDE:
        assert '<div class="page wide formal">' in printed[stem].body
    forms = {stem for stem, document in printed.items() if 'class="page form"' in document.body}
    assert forms == set(printed) - FORMAL
    assert set(ONE_PAGE) <= forms


@pytest.mark.parametrize("stem", sorted(FORMAL))
def test_a_formal_document_shows_its_page_number_on_every_page(
    printed: dict[str, Printed], stem: str
) -> None:
    document = printed[stem]
    assert len(document.texts) == document.pages
    assert page_numbers(document) == [[n] for n in range(1, document.pages + 1)], stem


@pytest.mark.parametrize("stem", sorted(FORMAL - WIDE - {"ledger_totals"}))
def test_a_formal_documents_body_is_three_hao_fangsong(
    printed: dict[str, Printed], stem: str
) -> None:
    layout = printed[stem].layout
    body = layout["body"]
    page = layout["page"]
    assert isinstance(body, dict)
    assert isinstance(page, dict)
    assert body["size"] == "21.3333px", body  # 16 pt
    assert float(body["line"].removesuffix("px")) == pytest.approx(28.9 * 4 / 3, abs=0.1)
    assert body["font"].startswith("FangSong, "), body
    # 版心 156 mm wide, 28 characters of 16 pt a line (29 would not fit).
    width = page["right"] - page["left"]
    assert width == pytest.approx(156 / 25.4 * 96, abs=1)
    assert 28 * 16 * 0.98 * 4 / 3 <= width < 29 * 16 * 0.98 * 4 / 3


@pytest.mark.parametrize("stem", [stem for stem, _, _ in DOCUMENTS if stem not in FORMAL])
def test_a_form_has_no_page_number_and_no_imprint(printed: dict[str, Printed], stem: str) -> None:
    document = printed[stem]
    assert page_numbers(document) == [[]] * document.pages, stem
    assert 'class="imprint"' not in document.body


def test_the_escalation_report_sent_up_names_its_signatory_and_ends_in_an_imprint(
    printed: dict[str, Printed],
) -> None:
    document = printed["filed-escalation_report"]
    layout = document.layout
    number, signer, page = layout["number"], layout["signer"], layout["page"]
    assert isinstance(number, dict)
    assert isinstance(signer, dict)
    assert isinstance(page, dict)
    # 发文字号 left and 签发人 right, on one line (GB/T 9704 7.2.4).
    assert re.fullmatch(r"虎峰镇消安〔2024〕\d+号", number["text"]), number
    assert signer["text"] == "签发人：陈建华"
    assert number["top"] == pytest.approx(signer["top"], abs=2)
    assert number["left"] < (page["left"] + page["right"]) / 2 < signer["left"]
    assert signer["right"] == pytest.approx(page["right"] - 16 * 4 / 3, abs=2)  # 右空一字
    assert layout["afterTitle"] == "flush addressee"
    assert layout["addressee"]["text"] == "铜梁区消防安全委员会办公室："  # type: ignore[index]
    # 版记: thick line, 抄送, thin line, 印发机关 and date, thick line; last on the last page.
    imprint = layout["imprint"]
    assert isinstance(imprint, dict)
    top, middle, bottom = imprint["lines"]
    assert top == bottom > middle > 0, imprint
    assert imprint["last"] is True
    cc, printer = imprint["text"]
    assert cc == "抄送：铜梁区消防救援支队，虎峰镇人民政府。"
    assert re.fullmatch(r"虎峰镇消防安全委员会办公室\s*2024年\d+月\d+日印发", printer), printer
    assert "签发人" in document.texts[0]
    assert "抄送" in document.texts[-1]
    assert "印发" in document.texts[-1]
    # The same document without a campaign: not sent up, no copies; the number alone, centred.
    plain = printed["escalation_report"]
    assert plain.layout["signer"] is None
    assert "签发人" not in plain.body
    assert "抄送" not in plain.body


def test_the_circular_names_its_addressees_after_the_title(printed: dict[str, Printed]) -> None:
    document = printed["filed-circular"]
    layout = document.layout
    addressee, page = layout["addressee"], layout["page"]
    assert isinstance(addressee, dict)
    assert isinstance(page, dict)
    assert layout["afterTitle"] == "flush addressee"
    assert addressee["text"] == "各社区，镇级有关部门："
    assert addressee["left"] == pytest.approx(page["left"], abs=1)  # flush left
    assert document.body.count('class="flush addressee"') == 1
    assert "各办（站、所）" not in document.body  # the addressee is not printed twice
    imprint = layout["imprint"]
    assert isinstance(imprint, dict)
    assert imprint["text"][0] == "抄送：虎峰镇人民政府。"
    assert "抄送" in document.texts[-1]
    # Without a campaign: its own addressees; no copies, so the 版记 is the printer's line.
    plain = printed["circular"]
    assert plain.layout["addressee"]["text"] == "各社区、各办（站、所），有关单位："  # type: ignore[index]
    plain_imprint = plain.layout["imprint"]
    assert isinstance(plain_imprint, dict)
    assert len(plain_imprint["text"]) == 1
    assert plain_imprint["text"][0].endswith("印发")
    assert plain_imprint["lines"][1] == 0
