"""A document as PDF (printed by headless Chromium) or as a Word copy, for the service.

The service renders a notice or report as HTML and text itself. A PDF needs a browser to
lay the HTML out: Chromium, found as ``RECTIFY_CHROMIUM`` or on the ``PATH`` (Debian's
``chromium`` package), run headless with a throw-away profile and no network. A Word copy
needs the ``docx`` extra. Without them the service answers 501 with what to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Final

from rectify.exceptions import RectifyError
from rectify.templating._docx import docx_available, docx_copy
from rectify.templating._renderer import Document

__all__ = ["MEDIA_TYPES", "UnavailableError", "as_docx", "as_pdf", "chromium"]

#: The formats a document is served in, and their media types.
MEDIA_TYPES: Final = {
    "html": "text/html; charset=utf-8",
    "text": "text/plain; charset=utf-8",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
#: The seconds a PDF may take to print.
PRINT_TIMEOUT: Final = 60.0
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


class UnavailableError(RectifyError):
    """A format needs what this server does not have (Chromium, the docx extra)."""


def chromium() -> Path | None:
    """Return the Chromium to print with: ``RECTIFY_CHROMIUM``, or one on the ``PATH``."""
    named = os.environ.get("RECTIFY_CHROMIUM")
    if named:
        return Path(named) if Path(named).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def as_pdf(document: Document) -> bytes:
    """Return ``document`` (HTML) printed to PDF by headless Chromium.

    Raises:
        UnavailableError: No Chromium is installed, or it failed to print.
    """
    browser = chromium()
    if browser is None:
        raise UnavailableError(
            "PDF needs Chromium: install Debian's chromium package or set RECTIFY_CHROMIUM"
        )
    with tempfile.TemporaryDirectory(prefix="rectify-print-") as folder:
        page, pdf = Path(folder) / "document.html", Path(folder) / "document.pdf"
        page.write_text(document.body, encoding="utf-8")
        command = [
            str(browser),
            *_FLAGS,
            f"--user-data-dir={Path(folder) / 'profile'}",
            f"--print-to-pdf={pdf}",
            page.as_uri(),
        ]
        try:
            subprocess.run(  # noqa: S603 - our own arguments, no shell
                command, capture_output=True, timeout=PRINT_TIMEOUT, check=True
            )
            return pdf.read_bytes()
        except (OSError, subprocess.SubprocessError) as exc:
            raise UnavailableError(f"Chromium could not print the document: {exc}") from exc


def as_docx(document: Document) -> bytes:
    """Return a Word copy of ``document`` (HTML).

    Raises:
        UnavailableError: The ``docx`` extra is not installed.
    """
    if not docx_available():
        raise UnavailableError("a Word copy needs the docx extra: pip install 'rectify[docx]'")
    return docx_copy(document)
