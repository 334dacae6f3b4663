"""Broken and hostile ledger files: every one is refused with a RectifyError naming the file.

The bad files are built here: an XLSX cut short, a zip without the workbook's parts (an
.ods renamed .xlsx), a broken ``[Content_Types].xml``, a CSV cell longer than the csv
module's field limit, NUL bytes, text in no encoding the reader knows. Also checks that a
CSV is read from the file as it goes, not slurped whole first.
"""

from __future__ import annotations

import codecs
import io
import zipfile
from functools import partial
from pathlib import Path

import openpyxl
import pytest

from rectify import load_categories
from rectify.exceptions import RectifyError
from rectify.spreadsheets import _reading as reading
from rectify.spreadsheets import read_earlier, read_ledger, read_register

HEADER = (
    "镇街/社区,小区名称,地址,消防安全管理人（楼栋长）及联系方式,建筑高度（层数）,隐患内容,整改时限"
)
ROW = "虎峰社区,龙门小区,龙门街12号,李华 17012345678,6层,楼道堆放杂物,2024-06-30"


def workbook_bytes() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER.split(","))
    sheet.append(ROW.split(","))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def zip_of(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return out.getvalue()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_truncated_xlsx_is_refused_naming_the_file(tmp_path: Path) -> None:
    data = workbook_bytes()
    path = write(tmp_path, "ledger.xlsx", data[: len(data) // 2])
    with pytest.raises(RectifyError, match=r"ledger\.xlsx.*not a readable \.xlsx workbook"):
        read_ledger(path)


def test_an_ods_renamed_xlsx_is_refused_naming_the_file(tmp_path: Path) -> None:
    ods = zip_of(
        {
            "mimetype": b"application/vnd.oasis.opendocument.spreadsheet",
            "content.xml": b"<office:document-content/>",
        }
    )
    path = write(tmp_path, "ledger.xlsx", ods)
    with pytest.raises(RectifyError, match=r"ledger\.xlsx.*not a readable \.xlsx workbook"):
        read_ledger(path)


def test_a_broken_content_types_part_is_refused_naming_the_file(tmp_path: Path) -> None:
    archive = zipfile.ZipFile(io.BytesIO(workbook_bytes()))
    parts = {name: archive.read(name) for name in archive.namelist()}
    parts["[Content_Types].xml"] = b"<Types><unclosed"
    path = write(tmp_path, "ledger.xlsx", zip_of(parts))
    with pytest.raises(RectifyError, match=r"ledger\.xlsx.*not a readable \.xlsx workbook"):
        read_ledger(path)


def test_a_broken_xlsx_given_as_bytes_is_refused_too() -> None:
    with pytest.raises(RectifyError, match=r"<bytes>.*not a readable \.xlsx workbook"):
        read_ledger(b"PK\x03\x04" + b"\x00" * 40)


def test_a_csv_cell_over_the_field_limit_is_refused_naming_file_and_line(
    tmp_path: Path,
) -> None:
    text = f"{HEADER}\n{ROW}\n{ROW.replace('楼道堆放杂物', 'x' * 131_073)}\n"
    path = write(tmp_path, "ledger.csv", text.encode())
    with pytest.raises(RectifyError, match=r"ledger\.csv: line 3: .*131072"):
        read_ledger(path)


def test_a_csv_with_nul_bytes_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "ledger.csv", f"{HEADER}\n{ROW}\x00\n".encode())
    with pytest.raises(RectifyError, match=r"ledger\.csv.*NUL"):
        read_ledger(path)


def test_utf16_without_a_bom_is_refused_as_nul_laden_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "ledger.csv", f"{HEADER}\n{ROW}\n".encode("utf-16-le"))
    with pytest.raises(RectifyError, match=r"ledger\.csv.*NUL"):
        read_ledger(path)


@pytest.mark.parametrize(
    "data",
    [codecs.BOM_UTF8 + b"\xff\xfe bad", codecs.BOM_UTF16_LE + b"a"],
    ids=["utf-8 bom", "utf-16 odd length"],
)
def test_bytes_that_break_their_own_bom_are_refused_naming_the_file(
    tmp_path: Path, data: bytes
) -> None:
    path = write(tmp_path, "ledger.csv", data)
    with pytest.raises(RectifyError, match=r"ledger\.csv"):
        read_ledger(path)


def test_text_in_no_known_encoding_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "ledger.csv", b"\x81\x20\xff\xff")
    with pytest.raises(RectifyError, match=r"ledger\.csv.*neither UTF-8 nor GBK"):
        read_ledger(path)


def test_csv_results_are_the_same_from_a_path_and_from_bytes(tmp_path: Path) -> None:
    data = f"{HEADER}\n{ROW}\n".encode("gb18030")
    from_path = read_ledger(write(tmp_path, "ledger.csv", data))
    from_bytes = read_ledger(data)
    assert [r.data for r in from_path.rows] == [r.data for r in from_bytes.rows]
    assert len(from_path.rows) == 1


class _Recording(io.BytesIO):
    """A file that records the size of every read and where each one left it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.sizes: list[int] = []
        self.ends: list[int] = []

    def _record(self, chunk: bytes) -> bytes:
        self.sizes.append(len(chunk))
        self.ends.append(self.tell())
        return chunk

    def read(self, size: int | None = -1, /) -> bytes:
        return self._record(super().read(size))

    def read1(self, size: int | None = -1, /) -> bytes:
        return self._record(super().read1(size))


def test_csv_rows_are_read_from_the_file_in_chunks_as_they_are_needed() -> None:
    data = (f"{HEADER}\n" + f"{ROW}\n" * 50_000).encode()
    stream = _Recording(data)
    first = next(reading.csv_rows(stream, "ledger.csv"))
    assert first[:2] == ["镇街/社区", "小区名称"]
    # One pass in chunks settles the encoding; the rows are then read only as far as needed.
    assert max(stream.sizes) < len(data) // 2
    assert stream.ends[-1] < len(data) // 2


# -- the estate register and earlier years' sheet read files as the ledger does -----------------

TABLE = load_categories()
HOSTILE: dict[str, tuple[str, bytes, str]] = {
    "truncated workbook": ("sheet.xlsx", b"PK\x03\x04" + b"\x00" * 40, r"not a readable \.xlsx"),
    "nul bytes": ("sheet.csv", "社区,小区名称,楼栋\n正街社区,供销社宿舍\x00,1栋\n".encode(), "NUL"),
    "cell over the limit": (
        "sheet.csv",
        f"社区,小区名称,楼栋\n正街社区,{'x' * 131_073},1栋\n".encode(),
        r"line 2: .*131072",
    ),
    "no known encoding": ("sheet.csv", b"\x81\x20\xff\xff", r"sheet\.csv.*neither UTF-8 nor GBK"),
}


@pytest.mark.parametrize("kind", ["register", "earlier"])
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_register_and_earlier_sheets_refuse_hostile_files_naming_them(
    kind: str, case: str, tmp_path: Path
) -> None:
    name, data, match = HOSTILE[case]
    path = write(tmp_path, name, data)
    before = sorted(p.name for p in tmp_path.iterdir())
    read = read_register if kind == "register" else partial(read_earlier, categories=TABLE)
    with pytest.raises(RectifyError, match=match):
        read(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written beside it
