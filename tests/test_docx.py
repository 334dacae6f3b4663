"""Word copies: every document kind as an editable .docx, saying what its HTML says.

Each document kind of ``tests/test_notices.py`` is rendered as HTML once from the town and
turned into a Word copy (``docx_copy``); the copy, opened with python-docx, has the HTML's red
header (the organ, in red), its number, its title, its addressee and its tables cell by cell.
The HTML side is read here with regular expressions, independently of the converter's parser.
A host's ``_document.docx`` replaces the built-in Word template; one that is broken, leaves
its folder or breaks the sandbox is a ``NoticeError`` naming it; the same HTML gives the same
bytes; and ``rectify notices`` and ``rectify report`` write Word copies with ``--format docx``.
"""

from __future__ import annotations

import html
import io
import re
import sys
import zipfile
from pathlib import Path
from typing import Final

import docx
import pytest
from docx.document import Document as WordDocument
from docx.oxml.ns import qn

from rectify.documents import Document, docx_available, docx_copy
from rectify.exceptions import NoticeError
from rectify.templating._docx import FIXED_DATE, _PageBreak, _Para, _Table, parse_html
from tests import test_cli
from tests.test_cli import copy_store, invoke, run
from tests.test_notices import RENDERER, Town, build_town, context_for

# The command line's stores, as tests/test_cli.py builds them.
surveyed = test_cli.surveyed
worked = test_cli.worked

NAMES: Final = sorted(RENDERER.available())
_TAGS: Final = re.compile(r"<[^>]+>")


@pytest.fixture(scope="module")
def town() -> Town:
    return build_town()


@pytest.fixture(scope="module")
def documents(town: Town) -> dict[str, Document]:
    return {n: RENDERER.render(n, context_for(n, town=town), fmt="html") for n in NAMES}


@pytest.fixture(scope="module")
def copies(documents: dict[str, Document]) -> dict[str, bytes]:
    return {name: docx_copy(document) for name, document in documents.items()}


# -- reading both sides ---------------------------------------------------------------------


def squeeze(text: str) -> str:
    """Return ``text`` without any whitespace (HTML and Word break lines differently)."""
    return "".join(text.split())


def html_text(fragment: str) -> str:
    fragment = re.sub(r"<svg.*?</svg>", "", fragment, flags=re.DOTALL)
    return squeeze(html.unescape(_TAGS.sub("", fragment)))


def html_paragraph(body: str, css: str) -> str | None:
    found = re.search(rf'<p class="{css}">(.*?)</p>', body, re.DOTALL)
    return html_text(found.group(1)) if found else None


def html_tables(body: str) -> list[list[list[str]]]:
    tables = re.findall(r"<table.*?</table>", body, re.DOTALL)
    return [
        [
            [html_text(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.DOTALL)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.DOTALL)
        ]
        for table in tables
    ]


def open_copy(data: bytes) -> WordDocument:
    return docx.Document(io.BytesIO(data))


def word_tables(word: WordDocument) -> list[list[list[str]]]:
    """Return each table's rows as their cells' texts; a merged cell counts once."""
    out = []
    for table in word.element.body.iter(qn("w:tbl")):
        rows = []
        for tr in table.iter(qn("w:tr")):
            cells = []
            for tc in tr.iter(qn("w:tc")):
                merge = tc.find(f"{qn('w:tcPr')}/{qn('w:vMerge')}")
                if merge is not None and merge.get(qn("w:val")) != "restart":
                    continue  # covered by the cell above
                cells.append(squeeze("".join(t.text or "" for t in tc.iter(qn("w:t")))))
            rows.append(cells)
        out.append(rows)
    return out


def paragraphs(word: WordDocument) -> list[str]:
    return [squeeze(p.text) for p in word.paragraphs if p.text.strip()]


# -- every document kind --------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_the_copy_has_the_red_header_number_and_title_of_the_html(
    name: str, documents: dict[str, Document], copies: dict[str, bytes]
) -> None:
    body = documents[name].body
    word = open_copy(copies[name])
    texts = paragraphs(word)
    organ, number = html_paragraph(body, "organ flush"), html_paragraph(body, "docno flush")
    if organ is not None:
        assert texts[0] == organ
        first = word.paragraphs[0]
        assert first.style is not None
        assert first.style.font.color.rgb is not None
        assert str(first.style.font.color.rgb) == "C00000"  # the red header
        if number is not None:
            assert texts[1] == number
        else:  # a notice without a number of its own: the title follows the organ
            assert "docno" not in body.split("<body>", 1)[1]
    else:  # the ledger forms: no red header, the number in the form's line
        assert 'class="organ' not in body
        found = re.search(r"编号：([^<]+)<", body)
        assert found, "the number is on the form"
        assert any(squeeze(found.group(1)) in t for t in texts)
    title = re.search(r"<h1>(.*?)</h1>", body, re.DOTALL)
    assert title
    titles = [p for p in word.paragraphs if p.style is not None and p.style.name == "Rectify Title"]
    assert [squeeze(p.text) for p in titles] == [html_text(title.group(1))]
    assert word.core_properties.title == documents[name].title


@pytest.mark.parametrize("name", NAMES)
def test_the_copy_is_addressed_as_the_html_is(
    name: str, documents: dict[str, Document], copies: dict[str, bytes]
) -> None:
    body = documents[name].body
    after_title = body.split("</h1>", 1)[1]
    wanted = next(
        (
            html_text(p)
            for p in re.findall(r'<p class="flush(?: addressee)?">(.*?)</p>', after_title, re.S)
            if html_text(p).endswith("：")
        ),
        None,
    )
    texts = paragraphs(open_copy(copies[name]))
    got = next((t for t in texts[texts.index(texts[0]) :] if t.endswith("：")), None)
    if wanted is None:  # the reports in a form's layout have no addressee
        assert name in {"ledger", "ledger_totals", "lookback_report", "escalation_levels"}
    else:
        assert got == wanted


@pytest.mark.parametrize("name", NAMES)
def test_the_copy_has_the_tables_of_the_html_cell_by_cell(
    name: str, documents: dict[str, Document], copies: dict[str, bytes]
) -> None:
    expected = html_tables(documents[name].body)
    assert expected, "every document kind has a table"
    assert word_tables(open_copy(copies[name])) == expected


@pytest.mark.parametrize("name", NAMES)
def test_the_copy_says_everything_the_html_says_in_order(
    name: str, documents: dict[str, Document], copies: dict[str, bytes]
) -> None:
    body = documents[name].body.split("<body>", 1)[1]
    word = open_copy(copies[name])
    text = squeeze("".join(t.text or "" for t in word.element.body.iter(qn("w:t"))))
    assert text == html_text(re.sub(r"<figure.*?<figcaption>", "", body, flags=re.DOTALL))


def test_the_ledger_prints_landscape_and_the_rest_portrait(copies: dict[str, bytes]) -> None:
    for name, data in copies.items():
        section = open_copy(data).sections[0]
        assert section.page_width is not None
        assert section.page_height is not None
        wide = section.page_width > section.page_height
        assert wide == (name in {"ledger", "estate_register"}), name
        if not wide:  # GB/T 9704's margins
            assert section.top_margin is not None
            assert section.left_margin is not None
            assert (round(section.top_margin.mm), round(section.left_margin.mm)) == (37, 28)


def test_the_body_is_in_fangsong_named_for_east_asian_text(copies: dict[str, bytes]) -> None:
    word = open_copy(copies["rectification_slip"])
    style = word.styles["Rectify Body"]
    fonts = style.element.rPr.rFonts
    assert fonts.get(qn("w:eastAsia")) == "仿宋"
    assert style.font.size is not None
    assert style.font.size.pt == 16
    footer = word.sections[0].footer.paragraphs[0]
    assert "PAGE" in "".join(t.text or "" for t in footer._p.iter(qn("w:instrText")))
    assert footer.text.startswith("— ")


# -- the same bytes ---------------------------------------------------------------------------


def test_the_same_html_gives_the_same_bytes(documents: dict[str, Document]) -> None:
    document = documents["circular"]
    first = docx_copy(document)
    assert docx_copy(document) == first
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert {e.date_time for e in archive.infolist()} == {(2000, 1, 1, 0, 0, 0)}
    word = open_copy(first)
    assert word.core_properties.created == FIXED_DATE
    assert word.core_properties.modified == FIXED_DATE


# -- the host's Word template ---------------------------------------------------------------


def host_template(folder: Path, *lines: str) -> Path:
    word = docx.Document()
    for line in lines:
        word.add_paragraph(line)
    path = folder / "_document.docx"
    word.save(str(path))
    return path


def test_a_hosts_word_template_is_used(tmp_path: Path, documents: dict[str, Document]) -> None:
    host_template(tmp_path, "县消安委 {{ organ }}", "文号 {{ number }}", "{{p body }}", "完")
    word = open_copy(docx_copy(documents["reminder"], host_folder=tmp_path))
    texts = [p.text for p in word.paragraphs if p.text]
    organ = html_paragraph(documents["reminder"].body, "organ flush")
    assert texts[0] == f"县消安委 {organ}"
    assert texts[1].startswith("文号 ")
    assert texts[-1] == "完"
    assert any(p.style is not None and p.style.name == "Rectify Title" for p in word.paragraphs)
    # A folder without one uses the built-in template.
    assert docx_copy(documents["reminder"], host_folder=tmp_path / "none") == docx_copy(
        documents["reminder"]
    )


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (("{%p if organ %}",), "syntax error"),
        (("{{ missing }}",), "undefined"),
        (("{{ organ.__class__.__mro__ }}",), "unsafe"),  # the sandbox hides internals
    ],
)
def test_a_word_template_that_cannot_be_filled_is_a_notice_error(
    tmp_path: Path, documents: dict[str, Document], lines: tuple[str, ...], message: str
) -> None:
    path = host_template(tmp_path, *lines, "{{p body }}")
    with pytest.raises(NoticeError, match=re.escape(message)) as caught:
        docx_copy(documents["reminder"], host_folder=tmp_path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    "content",
    [b"not a zip at all", b"PK\x03\x04broken", b""],
)
def test_a_broken_word_template_is_a_notice_error_naming_it(
    tmp_path: Path, documents: dict[str, Document], content: bytes
) -> None:
    path = tmp_path / "_document.docx"
    path.write_bytes(content)
    with pytest.raises(NoticeError, match="not a Word document") as caught:
        docx_copy(documents["reminder"], host_folder=tmp_path)
    assert str(path) in str(caught.value)


def test_a_zip_that_is_not_a_word_document_is_refused(
    tmp_path: Path, documents: dict[str, Document]
) -> None:
    path = tmp_path / "_document.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hello")
    with pytest.raises(NoticeError, match=r"not a Word document.*word/document\.xml"):
        docx_copy(documents["reminder"], host_folder=tmp_path)


def test_a_word_template_linked_from_outside_the_folder_is_refused(
    tmp_path: Path, documents: dict[str, Document]
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    real = host_template(outside, "{{p body }}")
    folder = tmp_path / "host"
    folder.mkdir()
    (folder / "_document.docx").symlink_to(real)
    with pytest.raises(NoticeError, match="outside the template folder"):
        docx_copy(documents["reminder"], host_folder=folder)


def test_a_text_document_has_no_word_copy(town: Town) -> None:
    text = RENDERER.render("reminder", context_for("reminder", town=town), fmt="text")
    with pytest.raises(NoticeError, match="made from the HTML"):
        docx_copy(text)


def test_without_docxtpl_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, documents: dict[str, Document]
) -> None:
    monkeypatch.setitem(sys.modules, "docxtpl", None)  # as if rectify[docx] were not installed
    docx_available.cache_clear()
    try:
        assert not docx_available()
        with pytest.raises(NoticeError, match=re.escape("pip install 'rectify[docx]'")):
            docx_copy(documents["reminder"])
    finally:
        docx_available.cache_clear()


# -- the reader of HTML ---------------------------------------------------------------------


def test_merged_cells_breaks_and_charts_are_read_as_the_html_shows_them() -> None:
    parsed = parse_html(
        '<div class="page"><p class="organ flush">镇政府</p><p class="docno flush">第1号</p>'
        "<h1>标题<br>\n第二行</h1><table><thead><tr><th rowspan=2>甲</th><th colspan=2>乙</th>"
        "</tr><tr><th>丙</th><th>丁</th></tr></thead><tbody><tr><td>1</td><td>2</td><td>3</td>"
        '</tr></tbody></table><figure class="chart"><svg><title>图</title><text>9</text></svg>'
        "<figcaption>图1　说明</figcaption></figure></div>"
        '<div class="page"><p>次页 &amp; 正文</p></div>'
    )
    assert (parsed.organ, parsed.number) == ("镇政府", "第1号")
    title, table, caption, page_break, text = parsed.blocks
    assert isinstance(title, _Para)
    assert [r.text for r in title.runs] == ["标题", "\n", "第二行"]
    assert isinstance(table, _Table)
    assert [[(c.rowspan, c.colspan) for c in r.cells] for r in table.rows] == [
        [(2, 1), (1, 2)],
        [(1, 1), (1, 1)],
        [(1, 1), (1, 1), (1, 1)],
    ]
    assert isinstance(caption, _Para)
    assert caption.text == "图1　说明"
    assert isinstance(page_break, _PageBreak)
    assert isinstance(text, _Para)
    assert text.text == "次页 & 正文"


# -- the command line -----------------------------------------------------------------------


def test_report_writes_a_word_copy_with_format_docx(worked: Path, tmp_path: Path) -> None:
    target = tmp_path / "circular.docx"
    args = ("report", "circular", "--db", worked, "--month", "2024-08")
    result = invoke(*args, "--format", "docx", "--out", target)
    assert result.exit_code == 0, result.output
    title = "关于2024年8月老旧小区消防安全专项整治工作进展情况的通报"
    assert result.stderr == f"已写入 {target}：{title}\n"
    html_body = run(*args)  # the same report again: the same number, the same words
    word = open_copy(target.read_bytes())
    assert paragraphs(word)[1] == html_paragraph(html_body, "docno flush")
    assert word_tables(word) == html_tables(html_body)


def test_report_format_docx_needs_out(worked: Path) -> None:
    result = invoke("report", "circular", "--db", worked, "--month", "2024-08", "--format", "docx")
    assert result.exit_code == 2
    assert "--out" in result.output


def test_notices_writes_word_copies_with_format_docx(worked: Path, tmp_path: Path) -> None:
    db = copy_store(worked, tmp_path)
    out = tmp_path / "notices"
    line = run("notices", "--db", db, "--out", out, "--format", "html", "--format", "docx")
    assert line.startswith("已生成通知 ")
    pages, copies_ = sorted(out.glob("*.html")), sorted(out.glob("*.docx"))
    assert not list(out.glob("*.txt"))
    assert pages
    assert [p.stem for p in pages] == [p.stem for p in copies_]
    for page, copy in zip(pages, copies_, strict=True):
        body = page.read_text(encoding="utf-8")
        word = open_copy(copy.read_bytes())
        number = html_paragraph(body, "docno flush")
        assert number is None or paragraphs(word)[1] == number
        assert word_tables(word) == html_tables(body)


def test_docx_is_available_in_the_test_environment() -> None:
    assert docx_available()  # the dev extra installs docxtpl: the tests above must run
