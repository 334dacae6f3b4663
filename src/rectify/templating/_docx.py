"""Word copies: a rendered HTML document turned into an editable ``.docx`` (``rectify[docx]``).

The HTML rendering is the one source of a document's wording: the Word copy is made from it,
never from the context, so both copies say the same and carry the same number. The HTML is
read with the standard library's parser into blocks (the red header's organ and number, the
title, headings, paragraphs by their classes, the signature and the receipt, tables with
their merged cells and column widths, a chart's caption without its drawing), and those
fill a Word template through docxtpl: the template holds ``{{ organ }}``, ``{{ number }}``
and ``{{p body }}``, where the blocks go as a subdocument.

The template is built in code the first time it is needed (A4, the GB/T 9704 margins, body
in 仿宋 三号, the title in 黑体 22 pt, tables in 10.5 pt with borders, "— 1 —" page numbers in
the footer); a host may put its own as ``_document.docx`` in its template folder. It is
read only from inside that folder, as a regular file of bounded size, and filled in the
same immutable sandbox and time budget as the HTML templates; a template that cannot be
used is a ``NoticeError`` naming it. The same HTML gives the same bytes: the document's
dates are fixed and the archive's entries carry one constant timestamp.

docxtpl (and python-docx) are imported only when a copy is asked for; without them,
``docx_copy`` raises ``NoticeError`` saying to install ``rectify[docx]``.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import io
import re
import zipfile
from collections.abc import Mapping, MutableMapping
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs
import jinja2

from rectify._files import open_regular
from rectify.exceptions import NoticeError
from rectify.templating._renderer import MAX_OUTPUT, TIME_BUDGET, Document, _described
from rectify.templating._sandbox import Limits, Sandbox, limited

if TYPE_CHECKING:
    from docx.document import Document as WordDocument
    from docx.enum.text import WD_PARAGRAPH_ALIGNMENT
    from docx.section import Section
    from docx.styles.style import ParagraphStyle
    from docx.table import Table
    from docx.table import _Cell as WordCell
    from docx.text.paragraph import Paragraph
    from docx.text.run import Run

__all__ = ["DOCX_TEMPLATE", "docx_available", "docx_copy"]

#: The file a host's template folder may hold to replace the built-in Word template.
DOCX_TEMPLATE: Final = "_document.docx"
#: Bytes a host's Word template may have, and may unpack to (a template is a few dozen KB).
MAX_TEMPLATE_BYTES: Final = 16 * 1024 * 1024
MAX_UNPACKED_BYTES: Final = 64 * 1024 * 1024
#: Columns a Word table may have.
MAX_COLUMNS: Final = 63
#: The dates every copy carries (created, modified, printed), and its archive entries' time.
FIXED_DATE: Final = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_ZIP_TIME: Final = (2000, 1, 1, 0, 0, 0)
_INSTALL: Final = "pip install 'rectify[docx]'"
_BUILTIN: Final = "the built-in Word template"

# GB/T 9704-2012: A4, margins 37 mm top, 35 bottom, 28 left, 26 right; a landscape page
# (the ledger) keeps narrower margins, as its HTML does.
_A4: Final = (210.0, 297.0)
_MARGINS: Final = (37.0, 35.0, 28.0, 26.0)
_LANDSCAPE_MARGINS: Final = (20.0, 20.0, 20.0, 20.0)
_LINE: Final = 28.95  # points: 22 lines on the type area, as the standard asks
_RED: Final = "C00000"
_LATIN: Final = "Times New Roman"
_SONG: Final = "仿宋"
_HEI: Final = "黑体"
_LANDSCAPE: Final = re.compile(r"@page\s*\{[^}]*\bsize\s*:[^;}]*\blandscape", re.IGNORECASE)
_WIDTH: Final = re.compile(r"(?:^|;)\s*width\s*:\s*([0-9.]+)\s*%", re.IGNORECASE)
_SPACES: Final = re.compile(r"[ \t\n\r\f]+")
# Characters XML 1.0 cannot hold: C0 controls but tab and newlines, lone surrogates, FFFE/F.
_NOT_XML: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


# -- reading the HTML ----------------------------------------------------------------------


@attrs.define
class _Run:
    """A stretch of text in one formatting, or (``brk``) a line break."""

    text: str
    bold: bool = False
    italic: bool = False
    red: bool = False
    hei: bool = False  # set in 黑体 (table headings, sum rows)
    brk: bool = False


@attrs.define
class _Para:
    """A paragraph: its kind (which style), its runs, and whether it keeps no indent."""

    kind: str
    runs: list[_Run] = attrs.Factory(list)
    flush: bool = False
    align: str = ""  # overrides the style's: left, center or right
    first: bool = False  # the first paragraph of a receipt (a dashed line above it)

    @property
    def text(self) -> str:
        return "".join(r.text for r in self.runs)


@attrs.define
class _Cell:
    paras: list[_Para]
    head: bool
    rowspan: int
    colspan: int


@attrs.define
class _Row:
    cells: list[_Cell] = attrs.Factory(list)
    head: bool = False


@attrs.define
class _Table:
    rows: list[_Row] = attrs.Factory(list)
    widths: list[float | None] = attrs.Factory(list)


@attrs.frozen
class _PageBreak:
    """Where the HTML starts a new ``div.page``."""


_Block = _Para | _Table | _PageBreak


@attrs.define
class _Frame:
    """An open element and what it passes on to the text inside it."""

    tag: str
    classes: frozenset[str]
    bold: bool
    italic: bool
    red: bool
    hei: bool
    skip: bool


@attrs.define
class Parsed:
    """What a rendered HTML document holds, block by block.

    Attributes:
        organ: The issuing organ of the red header (``p.organ``), if any.
        number: The document number under it (``p.docno``), if any.
        landscape: Whether the page prints landscape (its CSS says ``size: A4 landscape``).
        blocks: The paragraphs, tables and page breaks after the header, in order.
    """

    organ: str = ""
    number: str = ""
    landscape: bool = False
    blocks: list[_Block] = attrs.Factory(list)


_VOID: Final = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
_SKIPPED: Final = frozenset(
    {"head", "title", "style", "script", "svg", "math", "template", "noscript", "button"}
)
_BLOCKS: Final = frozenset(
    {
        *("p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "dl", "dt", "dd"),
        *("figure", "figcaption", "caption", "section", "article", "header", "footer"),
        *("main", "nav", "aside", "blockquote", "pre", "address", "hr", "table", "body"),
        *("thead", "tbody", "tfoot", "tr", "td", "th", "colgroup"),
    }
)
_KINDS: Final = (  # a paragraph's kind by its classes (its own and its ancestors'), first wins
    ("organ", "organ"),
    ("docno", "number"),
    ("attachment", "attachment"),
    ("unit", "unit"),
    ("note", "note"),
    ("notes", "note"),
    ("signature", "signature"),
    ("receipt", "receipt"),
    ("form-meta", "meta"),
)


class _Reader(HTMLParser):
    """Reads a rendered document's HTML into :class:`Parsed` blocks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parsed = Parsed()
        self._stack: list[_Frame] = []
        self._para: _Para | None = None
        self._tables: list[_Table] = []  # open tables, outermost first
        self._cell: _Cell | None = None
        self._pages = 0
        self._receipt_started = False

    # The stack ---------------------------------------------------------------------------

    def _frame(self, tag: str, attrs_: list[tuple[str, str | None]]) -> _Frame:
        values = dict(attrs_)
        classes = frozenset((values.get("class") or "").split())
        top = self._stack[-1] if self._stack else None
        return _Frame(
            tag=tag,
            classes=classes | (top.classes if top else frozenset()),
            bold=(top.bold if top else False) or tag in ("strong", "b") or "level" in classes,
            italic=(top.italic if top else False) or tag in ("em", "i"),
            red=(top.red if top else False) or "seal" in classes,
            hei=(top.hei if top else False) or tag == "th" or "sum" in classes,
            skip=(top.skip if top else False) or tag in _SKIPPED,
        )

    @property
    def _skipping(self) -> bool:
        return bool(self._stack) and self._stack[-1].skip

    # Parser callbacks --------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "p" and self._stack and self._stack[-1].tag == "p":
            self.handle_endtag("p")  # a <p> ends the paragraph open before it
        frame = self._frame(tag, attrs)
        if not frame.skip:
            if tag in _BLOCKS:
                self._end_paragraph()
            self._open(tag, dict(attrs), frame)
        if tag not in _VOID:
            self._stack.append(frame)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        index = next(
            (i for i in range(len(self._stack) - 1, -1, -1) if self._stack[i].tag == tag), -1
        )
        if index < 0:
            return  # an end tag nothing opened (or a void element's)
        if not self._stack[index].skip:
            if tag in _BLOCKS:
                self._end_paragraph()
            self._shut(tag)
        del self._stack[index:]

    def handle_data(self, data: str) -> None:
        if self._stack and self._stack[-1].tag == "style":
            if _LANDSCAPE.search(data):
                self.parsed.landscape = True
            return
        text = _NOT_XML.sub("", _SPACES.sub(" ", data))
        if self._skipping or not text or (text == " " and self._para is None):
            return  # a drawing's text, or spaces between blocks
        if self._tables and self._cell is None and not text.strip():
            return  # spaces between a table's rows
        frame = self._stack[-1] if self._stack else self._frame("", [])
        self._paragraph().runs.append(
            _Run(text, bold=frame.bold, italic=frame.italic, red=frame.red, hei=frame.hei)
        )

    # Elements ----------------------------------------------------------------------------

    def _open(self, tag: str, attrs_: Mapping[str, str | None], frame: _Frame) -> None:
        if tag == "br":
            self._paragraph().runs.append(_Run("\n", brk=True))
        elif tag == "div" and "page" in (attrs_.get("class") or "").split():
            self._pages += 1
            if self._pages > 1:
                self.parsed.blocks.append(_PageBreak())
        elif tag == "span" and "form-meta" in frame.classes and self._para and self._para.runs:
            self._para.runs.append(_Run("\u3000\u3000"))  # the spans stand apart
        elif tag == "table":
            if self._tables and self._cell is not None:  # a table in a cell: its text only
                self._paragraph()
            self._tables.append(_Table())
        elif len(self._tables) == 1 and self._cell is None:
            self._open_table_part(tag, attrs_)
        elif self._tables and self._cell is not None and tag in ("td", "th") and self._para:
            self._para.runs.append(_Run(" "))  # a cell of a table inside a cell

    def _open_table_part(self, tag: str, attrs_: Mapping[str, str | None]) -> None:
        table = self._tables[0]
        if tag == "col":
            match = _WIDTH.search(attrs_.get("style") or "")
            width = float(match.group(1)) if match else None
            table.widths.extend([width] * _span(attrs_.get("span"), 1000))
        elif tag == "tr":
            table.rows.append(_Row(head=any(f.tag == "thead" for f in self._stack)))
        elif tag in ("td", "th"):
            if not table.rows:
                table.rows.append(_Row())
            row = table.rows[-1]
            self._cell = _Cell(
                paras=[],
                head=tag == "th",
                rowspan=_span(attrs_.get("rowspan"), 65534, zero=0),
                colspan=_span(attrs_.get("colspan"), 1000),
            )
            row.cells.append(self._cell)

    def _shut(self, tag: str) -> None:
        if tag == "table" and self._tables:
            table = self._tables.pop()
            if not self._tables:
                self.parsed.blocks.append(table)
        elif tag in ("td", "th") and len(self._tables) == 1:
            self._cell = None

    # Paragraphs --------------------------------------------------------------------------

    def _paragraph(self) -> _Para:
        if self._para is None:
            self._para = self._new_paragraph()
        return self._para

    def _new_paragraph(self) -> _Para:
        tags = [f.tag for f in self._stack]
        classes = self._stack[-1].classes if self._stack else frozenset()
        if self._cell is not None:
            cell_row = self._tables[0].rows[-1] if self._tables[0].rows else _Row()
            align = "right" if "num" in classes else ""
            if cell_row.head:
                align = "center"
            return _Para("head" if self._cell.head else "cell", align=align)
        heading = next((t for t in reversed(tags) if re.fullmatch(r"h[1-6]", t)), "")
        if heading:
            return _Para("title" if heading == "h1" else "heading")
        if any(t in ("figcaption", "caption") for t in tags):
            return _Para("caption")
        kind = next((k for c, k in _KINDS if c in classes), "body")
        para = _Para(kind, flush="flush" in classes or "notes" in classes)
        if kind == "receipt" or (kind == "note" and "receipt" in classes):
            para.first = not self._receipt_started
            self._receipt_started = True
        return para

    def _end_paragraph(self) -> None:
        para, self._para = self._para, None
        if para is None or not _trim(para):
            return
        if self._cell is not None:
            self._cell.paras.append(para)
        elif para.kind == "organ" and not self.parsed.organ and not self.parsed.blocks:
            self.parsed.organ = para.text
        elif para.kind == "number" and not self.parsed.number and not self.parsed.blocks:
            self.parsed.number = para.text
        else:
            self.parsed.blocks.append(para)

    def close(self) -> None:
        super().close()
        self._end_paragraph()
        while self._tables:  # tables the HTML never closed
            self._shut("table")


def _span(value: str | None, most: int, *, zero: int = 1) -> int:
    """Return a ``rowspan``, ``colspan`` or ``span`` attribute as HTML reads it (bounded)."""
    try:
        number = int((value or "1").strip())
    except ValueError:
        return 1
    if number == 0:
        return zero
    return max(1, min(number, most))


def _trim(para: _Para) -> bool:
    """Drop the spaces HTML would not show; return whether anything is left."""
    runs: list[_Run] = []
    for run in para.runs:
        if not run.brk and (not runs or runs[-1].brk):
            run.text = run.text.lstrip(" ")  # at the start of a line
        if run.brk and runs and not runs[-1].brk:
            runs[-1].text = runs[-1].text.rstrip(" ")  # at the end of a line
        if run.text:
            runs.append(run)
    if runs and not runs[-1].brk:
        runs[-1].text = runs[-1].text.rstrip(" ")
    para.runs = [r for r in runs if r.text]
    return bool(para.runs)


def parse_html(body: str) -> Parsed:
    """Return the blocks of a rendered HTML document (see :class:`Parsed`)."""
    reader = _Reader()
    reader.feed(body)
    reader.close()
    return reader.parsed


# -- docxtpl, when installed ---------------------------------------------------------------


def _docxtpl() -> object:
    """Return the docxtpl module, or say how to install it."""
    try:
        return importlib.import_module("docxtpl")
    except ImportError as exc:
        raise NoticeError(
            f"a Word copy needs docxtpl, which is not installed: {_INSTALL}",
            template=DOCX_TEMPLATE,
        ) from exc


@functools.cache
def docx_available() -> bool:
    """Return whether Word copies can be made (``rectify[docx]`` is installed)."""
    try:
        _docxtpl()
    except NoticeError:
        return False
    return True


# -- the Word template ---------------------------------------------------------------------


@attrs.frozen
class _Style:
    """A paragraph style rectify's blocks use; a host's template may define its own."""

    name: str
    east: str = _SONG
    size: float = 16
    align: str = "justify"
    indent: bool = False
    bold: bool = False
    red: bool = False
    exact: bool = True  # the standard's fixed line pitch, else single spacing
    before: float = 0
    after: float = 0
    keep: bool = False


_STYLES: Final = {
    "organ": _Style("Rectify Organ", _HEI, 22, "center", bold=True, red=True, exact=False),
    "number": _Style("Rectify Number", align="center", after=4),
    "title": _Style("Rectify Title", _HEI, 22, "center", exact=False, before=12, after=18),
    "heading": _Style("Rectify Heading", _HEI, indent=True, keep=True),
    "body": _Style("Rectify Body", indent=True),
    "flush": _Style("Rectify Flush"),
    "attachment": _Style("Rectify Attachment", _HEI, align="left"),
    "signature": _Style("Rectify Signature", align="right", keep=True),
    "receipt": _Style("Rectify Receipt", size=14, align="left", exact=False, before=2),
    "note": _Style("Rectify Note", size=12, align="left", indent=True, exact=False),
    "unit": _Style("Rectify Unit", size=12, align="right", exact=False),
    "meta": _Style("Rectify Meta", size=12, align="left", exact=False, after=2),
    "caption": _Style("Rectify Caption", size=12, align="center", exact=False, after=6),
    "cell": _Style("Rectify Table Text", size=10.5, align="left", exact=False),
    "head": _Style("Rectify Table Head", _HEI, 10.5, "left", exact=False),
}


def _template(host_folder: Path | None) -> tuple[bytes, str]:
    """Return the Word template to fill (the host's, else the built-in) and its name."""
    if host_folder is not None:
        path = Path(host_folder) / DOCX_TEMPLATE
        if path.exists() or path.is_symlink():
            return _read_host(Path(host_folder), path), str(path)
    return _base(), _BUILTIN


def _read_host(folder: Path, path: Path) -> bytes:
    """Read a host's Word template: a regular file inside ``folder``, of bounded size."""
    name = str(path)
    try:
        inside = path.resolve(strict=True).is_relative_to(folder.resolve(strict=True))
    except (OSError, RuntimeError) as exc:
        raise NoticeError(f"cannot read the Word template: {exc}", template=name) from exc
    if not inside:
        raise NoticeError("the Word template lies outside the template folder", template=name)
    try:
        with open_regular(path) as (file, size):
            if size > MAX_TEMPLATE_BYTES:
                raise NoticeError(
                    f"the Word template has {size} bytes; at most {MAX_TEMPLATE_BYTES} are read",
                    template=name,
                )
            data = file.read(MAX_TEMPLATE_BYTES + 1)
    except OSError as exc:
        raise NoticeError(f"cannot read the Word template: {exc}", template=name) from exc
    _check_archive(data, name)
    return data


def _check_archive(data: bytes, name: str) -> None:
    """Refuse what is not a Word document, or unpacks to far more than a template holds."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise NoticeError(f"not a Word document (.docx): {exc}", template=name) from exc
    names = {e.filename for e in entries}
    if "word/document.xml" not in names or "[Content_Types].xml" not in names:
        raise NoticeError("not a Word document (.docx): it has no word/document.xml", template=name)
    unpacked = sum(e.file_size for e in entries)
    if unpacked > MAX_UNPACKED_BYTES:
        raise NoticeError(
            f"the Word template unpacks to {unpacked} bytes; at most {MAX_UNPACKED_BYTES}",
            template=name,
        )


@functools.cache
def _base() -> bytes:
    """Return the built-in Word template, built with python-docx the first time."""
    import docx  # noqa: PLC0415 - only with rectify[docx]
    from docx.oxml.ns import qn  # noqa: PLC0415

    word = docx.Document()
    defaults = word.styles.element.find(qn("w:docDefaults"))
    if defaults is not None:  # no theme fonts: they would win over the styles' 仿宋
        for fonts in defaults.iter(qn("w:rFonts")):
            _set_fonts(fonts, _LATIN, _SONG)
        for spacing in defaults.iter(qn("w:spacing")):
            spacing.set(qn("w:after"), "0")
    _keep_styles(
        word, {"Normal", "Default Paragraph Font", "Normal Table", "No List", "Table Grid"}
    )
    normal = word.styles["Normal"]
    normal.font.size = _pt(16)
    _set_fonts(normal.element.get_or_add_rPr().get_or_add_rFonts(), _LATIN, _SONG)
    _add_styles(word)
    _set_page(word.sections[0], landscape=False, margins=_MARGINS)
    # The red line runs under the number, or under the organ of a document without one.
    word.add_paragraph("{%p if number %}")
    word.add_paragraph("{%p if organ %}")
    word.add_paragraph("{{ organ }}", style=_STYLES["organ"].name)
    word.add_paragraph("{%p endif %}")
    number = word.add_paragraph("{{ number }}", style=_STYLES["number"].name)
    _border(number, "bottom", color=_RED, size=12, space=4)
    word.add_paragraph("{%p elif organ %}")
    organ = word.add_paragraph("{{ organ }}", style=_STYLES["organ"].name)
    _border(organ, "bottom", color=_RED, size=12, space=4)
    word.add_paragraph("{%p endif %}")
    word.add_paragraph("{{p body }}")
    _page_number(word.sections[0])
    out = io.BytesIO()
    word.save(out)
    return out.getvalue()


def _keep_styles(word: WordDocument, names: set[str]) -> None:
    """Drop every style of python-docx's own template but ``names`` (and their latent list)."""
    from docx.oxml.ns import qn  # noqa: PLC0415 - only with rectify[docx]

    element = word.styles.element
    for style in list(element.findall(qn("w:style"))):
        name = style.find(qn("w:name"))
        if name is None or name.get(qn("w:val")) not in names:
            element.remove(style)
    latent = element.find(qn("w:latentStyles"))
    if latent is not None:
        element.remove(latent)


def _add_styles(word: WordDocument) -> dict[str, ParagraphStyle]:
    """Return the styles the blocks use, adding those ``word`` lacks."""
    from docx.enum.style import WD_STYLE_TYPE  # noqa: PLC0415 - only with rectify[docx]

    known = {s.name: s for s in word.styles if s.type == WD_STYLE_TYPE.PARAGRAPH}
    out: dict[str, ParagraphStyle] = {}
    for kind, spec in _STYLES.items():
        style = known.get(spec.name)
        if style is None:
            style = word.styles.add_style(spec.name, WD_STYLE_TYPE.PARAGRAPH)
            _define(style, spec)
        out[kind] = style
    return out


def _define(style: ParagraphStyle, spec: _Style) -> None:
    from docx.enum.text import WD_LINE_SPACING  # noqa: PLC0415 - only with rectify[docx]
    from docx.oxml.ns import qn  # noqa: PLC0415
    from docx.shared import RGBColor  # noqa: PLC0415

    style.base_style = None
    style.quick_style = True
    font = style.font
    font.size = _pt(spec.size)
    font.bold = spec.bold
    if spec.red:
        font.color.rgb = RGBColor.from_string(_RED)
    _set_fonts(style.element.get_or_add_rPr().get_or_add_rFonts(), _LATIN, spec.east)
    layout = style.paragraph_format
    layout.alignment = _alignment(spec.align)
    layout.space_before = _pt(spec.before)
    layout.space_after = _pt(spec.after)
    layout.keep_with_next = spec.keep or None
    layout.widow_control = True
    if spec.exact:
        layout.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        layout.line_spacing = _pt(_LINE)
    else:
        layout.line_spacing = 1.0
    if spec.indent:
        layout.first_line_indent = _pt(spec.size * 2)
        ind = style.element.get_or_add_pPr().find(qn("w:ind"))
        if ind is not None:
            ind.set(qn("w:firstLineChars"), "200")  # two characters, whatever the font


def _set_fonts(fonts: object, latin: str, east: str) -> None:
    """Name the Latin and East-Asian fonts on ``<w:rFonts>`` (Word ignores CJK without it)."""
    from docx.oxml.ns import qn  # noqa: PLC0415 - only with rectify[docx]

    element = fonts
    for theme in ("asciiTheme", "hAnsiTheme", "eastAsiaTheme", "cstheme"):
        element.attrib.pop(qn(f"w:{theme}"), None)  # type: ignore[attr-defined]
    for attribute in ("ascii", "hAnsi", "cs"):
        element.set(qn(f"w:{attribute}"), latin)  # type: ignore[attr-defined]
    element.set(qn("w:eastAsia"), east)  # type: ignore[attr-defined]


def _set_page(section: Section, *, landscape: bool, margins: tuple[float, ...] | None) -> None:
    """Lay ``section`` out on A4, portrait or landscape, with ``margins`` (mm) if given."""
    from docx.enum.section import WD_ORIENT  # noqa: PLC0415 - only with rectify[docx]
    from docx.shared import Mm  # noqa: PLC0415

    short, long = (Mm(v) for v in _A4)
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = (long, short) if landscape else (short, long)
    if margins is not None:
        top, bottom, left, right = (Mm(v) for v in margins)
        section.top_margin, section.bottom_margin = top, bottom
        section.left_margin, section.right_margin = left, right
        section.header_distance, section.footer_distance = Mm(15), Mm(25)


def _page_number(section: Section) -> None:
    """Put "— PAGE —" in the footer, centered, as a field Word and WPS fill in."""
    from docx.oxml import OxmlElement  # noqa: PLC0415 - only with rectify[docx]
    from docx.oxml.ns import qn  # noqa: PLC0415

    paragraph = section.footer.paragraphs[0]
    paragraph.alignment = _alignment("center")
    pieces: list[tuple[str, str]] = [
        ("text", "— "),
        ("begin", ""),
        ("instr", " PAGE "),
        ("separate", ""),
        ("text", "1"),
        ("end", ""),
        ("text", " —"),
    ]
    for what, text in pieces:
        run = paragraph.add_run()
        run.font.size = _pt(14)
        _set_fonts(run._r.get_or_add_rPr().get_or_add_rFonts(), _LATIN, _SONG)
        if what == "text":
            run.text = text
        elif what == "instr":
            instr = OxmlElement("w:instrText")
            instr.set(qn("xml:space"), "preserve")
            instr.text = text
            run._r.append(instr)
        else:
            char = OxmlElement("w:fldChar")
            char.set(qn("w:fldCharType"), what)
            run._r.append(char)


def _border(
    paragraph: Paragraph, side: str, *, color: str, size: int, space: int, style: str = "single"
) -> None:
    from docx.oxml import OxmlElement  # noqa: PLC0415 - only with rectify[docx]
    from docx.oxml.ns import qn  # noqa: PLC0415

    ppr = paragraph._p.get_or_add_pPr()
    borders = ppr.find(qn("w:pBdr"))
    if borders is None:
        borders = OxmlElement("w:pBdr")
        ppr.insert_element_before(
            borders, "w:shd", "w:tabs", "w:suppressAutoHyphens", "w:spacing", "w:ind", "w:jc"
        )
    line = OxmlElement(f"w:{side}")
    for key, value in (("val", style), ("sz", str(size)), ("space", str(space)), ("color", color)):
        line.set(qn(f"w:{key}"), value)
    borders.append(line)


def _pt(points: float) -> int:
    from docx.shared import Pt  # noqa: PLC0415 - only with rectify[docx]

    return Pt(points)


def _alignment(name: str) -> WD_PARAGRAPH_ALIGNMENT:
    from docx.enum.text import WD_ALIGN_PARAGRAPH  # noqa: PLC0415 - only with rectify[docx]

    return {
        "left": WD_ALIGN_PARAGRAPH.LEFT,
        "center": WD_ALIGN_PARAGRAPH.CENTER,
        "right": WD_ALIGN_PARAGRAPH.RIGHT,
        "justify": WD_ALIGN_PARAGRAPH.JUSTIFY,
    }[name]


# -- writing the blocks --------------------------------------------------------------------


@attrs.define
class _Writer:
    """Writes blocks into a (sub)document with the styles of its template."""

    word: WordDocument
    styles: Mapping[str, ParagraphStyle]
    width: int  # the type area's width, in EMU
    grid: object | None = None  # the template's "Table Grid" style, if it has one

    def blocks(self, blocks: list[_Block]) -> None:
        from docx.enum.text import WD_BREAK  # noqa: PLC0415 - only with rectify[docx]

        for block in blocks:
            if isinstance(block, _Para):
                self.paragraph(self.word.add_paragraph(), block)
            elif isinstance(block, _Table):
                self.table(block)
            else:
                self.word.add_paragraph().add_run().add_break(WD_BREAK.PAGE)

    def paragraph(self, paragraph: Paragraph, para: _Para) -> None:
        kind = "flush" if para.kind == "body" and para.flush else para.kind
        style = self.styles.get(kind, self.styles["body"])
        paragraph._p.style = style.style_id  # by id: by name scans every style
        if para.flush and _STYLES.get(kind, _STYLES["body"]).indent:
            paragraph.paragraph_format.first_line_indent = 0
        if para.align:
            paragraph.paragraph_format.alignment = _alignment(para.align)
        if para.first:
            _border(paragraph, "top", color="000000", size=4, space=8, style="dashed")
        for piece in para.runs:
            if piece.brk:
                paragraph.add_run().add_break()
                continue
            run = paragraph.add_run(piece.text)
            self.format(run, piece)

    def format(self, run: Run, piece: _Run) -> None:
        from docx.shared import RGBColor  # noqa: PLC0415 - only with rectify[docx]

        if piece.bold:
            run.bold = True
        if piece.italic:
            run.italic = True
        if piece.red:
            run.font.color.rgb = RGBColor.from_string(_RED)
        if piece.hei:
            _set_fonts(run._r.get_or_add_rPr().get_or_add_rFonts(), _LATIN, _HEI)

    def table(self, block: _Table) -> None:
        placed, columns = _layout(block)
        if not columns:
            return
        widths = _widths(block.widths, columns, self.width)
        table = self.word.add_table(rows=0, cols=columns)
        if self.grid is not None:
            table.style = self.grid
        _table_frame(table, widths)
        rows = []
        for spec in block.rows:
            row = table.add_row()
            if spec.head:
                _row_flag(row._tr, "w:tblHeader")  # repeated on each page
            _row_flag(row._tr, "w:cantSplit")
            rows.append(row.cells)
        for r, c, rowspan, colspan, cell in placed:
            target = rows[r][c]
            self.cell(target, cell, sum(widths[c : c + colspan]))
            if rowspan > 1 or colspan > 1:
                target.merge(rows[r + rowspan - 1][c + colspan - 1])

    def cell(self, target: WordCell, cell: _Cell, width: int) -> None:
        from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT  # noqa: PLC0415

        target.width = width  # type: ignore[assignment]
        if cell.head:
            target.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
        paragraphs = cell.paras or [_Para("head" if cell.head else "cell")]
        for index, para in enumerate(paragraphs):
            paragraph = target.paragraphs[0] if index == 0 else target.add_paragraph()
            self.paragraph(paragraph, para)


def _layout(table: _Table) -> tuple[list[tuple[int, int, int, int, _Cell]], int]:
    """Place each cell on the table's grid; return the places and the number of columns."""
    taken: set[tuple[int, int]] = set()
    placed: list[tuple[int, int, int, int, _Cell]] = []
    height = len(table.rows)
    columns = 0
    for r, row in enumerate(table.rows):
        c = 0
        for cell in row.cells:
            while (r, c) in taken:
                c += 1
            rowspan = min(cell.rowspan or height - r, height - r)
            colspan = min(cell.colspan, MAX_COLUMNS)
            for i in range(rowspan):
                taken.update((r + i, c + j) for j in range(colspan))
            placed.append((r, c, rowspan, colspan, cell))
            c += colspan
            columns = max(columns, c)
            if columns > MAX_COLUMNS:
                raise NoticeError(
                    f"a table of more than {MAX_COLUMNS} columns, which Word cannot hold",
                    template=DOCX_TEMPLATE,
                )
    columns = max([columns, *(c + 1 for _, c in taken)]) if taken else columns
    return placed, min(columns, MAX_COLUMNS)


def _widths(given: list[float | None], columns: int, width: int) -> list[int]:
    """Return each column's width (EMU): the HTML's percentages, the rest shared evenly."""
    percents = (given + [None] * columns)[:columns]
    known = sum(p for p in percents if p is not None)
    unknown = [i for i, p in enumerate(percents) if p is None]
    rest = max(0.0, 100.0 - known) / len(unknown) if unknown else 0.0
    shares = [p if p is not None else rest for p in percents]
    total = sum(shares) or 1.0
    twip = 635  # EMU in a twentieth of a point: widths in whole twips
    return [int(width * s / total) // twip * twip for s in shares]


def _table_frame(table: Table, widths: list[int]) -> None:
    """Give ``table`` the full width, its columns' widths, a fixed layout and borders."""
    from docx.oxml import OxmlElement  # noqa: PLC0415 - only with rectify[docx]
    from docx.oxml.ns import qn  # noqa: PLC0415

    table.autofit = False
    for column, width in zip(table.columns, widths, strict=True):
        column.width = width
    properties = table._tbl.tblPr
    size = OxmlElement("w:tblW")
    size.set(qn("w:w"), str(sum(widths) // 635))
    size.set(qn("w:type"), "dxa")
    old = properties.find(qn("w:tblW"))
    if old is not None:
        properties.remove(old)
    borders = OxmlElement("w:tblBorders")
    for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
        line = OxmlElement(f"w:{side}")
        for key, value in (("val", "single"), ("sz", "4"), ("space", "0"), ("color", "000000")):
            line.set(qn(f"w:{key}"), value)
        borders.append(line)
    margins = OxmlElement("w:tblCellMar")
    for side, twips in (("top", 20), ("left", 85), ("bottom", 20), ("right", 85)):
        margin = OxmlElement(f"w:{side}")
        margin.set(qn("w:w"), str(twips))
        margin.set(qn("w:type"), "dxa")
        margins.append(margin)
    for element in (size, borders, margins):
        _insert(properties, element, _TBLPR)


#: The order of ``<w:tblPr>``'s children in the schema.
_TBLPR: Final = (
    *("tblStyle", "tblpPr", "tblOverlap", "bidiVisual", "tblStyleRowBandSize"),
    *("tblStyleColBandSize", "tblW", "jc", "tblCellSpacing", "tblInd", "tblBorders", "shd"),
    *("tblLayout", "tblCellMar", "tblLook", "tblCaption", "tblDescription", "tblPrChange"),
)


def _insert(parent: object, element: object, order: tuple[str, ...]) -> None:
    """Insert ``element`` into ``parent`` where the schema's ``order`` puts it."""
    tag = element.tag.rsplit("}", 1)[-1]  # type: ignore[attr-defined]
    after = order[order.index(tag) + 1 :]
    parent.insert_element_before(element, *(f"w:{t}" for t in after))  # type: ignore[attr-defined]


def _row_flag(tr: object, name: str) -> None:
    from docx.oxml import OxmlElement  # noqa: PLC0415 - only with rectify[docx]

    row = tr.get_or_add_trPr()  # type: ignore[attr-defined]
    row.append(OxmlElement(name))


# -- the copy ------------------------------------------------------------------------------


def docx_copy(document: Document, *, host_folder: Path | None = None) -> bytes:
    """Return an editable Word copy (``.docx``) of a rendered HTML document.

    The copy says what the HTML says, block by block: the red header's organ and number,
    the title, the text, the tables (merged cells and column widths kept), the signature and
    the receipt; a chart is left out, its caption kept. The same document gives the same
    bytes.

    Args:
        document: A document rendered as HTML (``NoticeRenderer.render(..., fmt="html")``).
        host_folder: The host's template folder; its ``_document.docx``, if there is one,
            is the Word template (``{{ organ }}``, ``{{ number }}``, ``{{ title }}`` and
            ``{{p body }}``) instead of the built-in one.

    Raises:
        NoticeError: The document is not HTML, docxtpl is not installed (``rectify[docx]``),
            or the host's Word template cannot be read or filled (the error names it).
    """
    if document.format != "html":
        raise NoticeError(
            f"a Word copy is made from the HTML document, not from {document.format!r}",
            template=document.template,
        )
    docxtpl = _docxtpl()
    parsed = parse_html(document.body)
    source, name = _template(host_folder)
    try:
        template = docxtpl.DocxTemplate(io.BytesIO(source))  # type: ignore[attr-defined]
        template.init_docx()
        word: WordDocument = template.docx
        styles = _add_styles(word)
        section = word.sections[-1]
        margins = (
            (_LANDSCAPE_MARGINS if parsed.landscape else _MARGINS) if name == _BUILTIN else None
        )
        if parsed.landscape or name == _BUILTIN:
            _set_page(section, landscape=parsed.landscape, margins=margins)
        width = _type_width(section)
        grid = next((s for s in word.styles if s.name == "Table Grid"), None)
        body = template.new_subdoc()
        _Writer(body.subdocx, styles, width, grid).blocks(parsed.blocks)
    except NoticeError:
        raise
    except Exception as exc:  # python-docx and lxml raise many kinds on a broken package
        raise NoticeError(f"not a usable Word template: {_described(exc)}", template=name) from exc
    context = {
        "organ": parsed.organ,
        "number": parsed.number,
        "title": document.title,
        "body": body,
    }
    try:
        with limited(Limits(max_output=MAX_OUTPUT, time_budget=TIME_BUDGET)):
            template.render(context, jinja_env=_environment())
    except jinja2.UndefinedError as exc:
        raise NoticeError(f"undefined variable: {exc}", template=name) from exc
    except jinja2.TemplateSyntaxError as exc:
        raise NoticeError(
            f"syntax error: {exc.message}", template=name, line=exc.lineno or 0
        ) from exc
    except Exception as exc:
        raise NoticeError(
            f"cannot fill the Word template: {_described(exc)}", template=name
        ) from exc
    _properties(word, document)
    out = io.BytesIO()
    template.save(out)
    return _fixed_archive(out.getvalue())


class _WordSandbox(Sandbox):
    """The sandbox a Word template is filled in, keeping each part's compiled template.

    docxtpl compiles the body, every header and footer and every document property of the
    template on each fill; they are the same for every copy made from one template.
    """

    def __init__(self) -> None:
        super().__init__(autoescape=True, undefined=jinja2.StrictUndefined)
        self.guard_filters()
        self._compiled: dict[str, jinja2.Template] = {}

    def from_string(
        self,
        source: str | jinja2.nodes.Template,
        globals: MutableMapping[str, Any] | None = None,
        template_class: type[jinja2.Template] | None = None,
    ) -> jinja2.Template:
        """Return ``source`` compiled, once per source text (as docxtpl calls it)."""
        if not isinstance(source, str) or globals is not None or template_class is not None:
            return super().from_string(source, globals, template_class)
        known = self._compiled.get(source)
        if known is None:
            if len(self._compiled) >= _COMPILED:
                self._compiled.clear()
            known = self._compiled[source] = super().from_string(source)
        return known


_COMPILED: Final = 256  # compiled parts kept (a template has a dozen)


@functools.cache
def _environment() -> _WordSandbox:
    """Return the sandbox Word templates are filled in: as the HTML templates', escaping XML."""
    return _WordSandbox()


def _type_width(section: Section) -> int:
    """Return the width text may take on ``section``'s pages (EMU)."""
    from docx.shared import Mm  # noqa: PLC0415 - only with rectify[docx]

    page, left, right = section.page_width, section.left_margin, section.right_margin
    if page is None or left is None or right is None or page - left - right <= 0:
        return int(Mm(_A4[0] - _MARGINS[2] - _MARGINS[3]))
    return int(page - left - right)


def _properties(word: WordDocument, document: Document) -> None:
    """Set the copy's properties: its title, and fixed dates so the bytes do not change."""
    properties = word.core_properties
    properties.title = document.title
    properties.subject = ""
    properties.author = ""
    properties.last_modified_by = ""
    properties.comments = ""
    properties.keywords = ""
    properties.category = ""
    properties.revision = 1
    properties.created = FIXED_DATE
    properties.modified = FIXED_DATE
    properties.last_printed = FIXED_DATE


def _fixed_archive(data: bytes) -> bytes:
    """Return the .docx ``data`` re-packed with one constant time on every entry."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for entry in source.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            target.writestr(info, source.read(entry))
    return out.getvalue()
