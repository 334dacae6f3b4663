"""Render every HTML document type from real case data and take a screenshot of each.

The town is the one ``tests/test_notices.py`` builds through the engine (the shipped
workflows, the official calendar, the 2024 campaign). Each document is written to a
temporary folder and photographed by headless Chromium; the PNGs land in ``--out``
(this folder by default), one per document type: ``NAME.png`` for zh-CN and
``en-NAME.png`` for the English templates. The formal documents (circulars, reports, tables)
are filed as the shipped campaign files them: its issuer, 主送, 抄送 and, for the escalation
report sent up to the district, its 签发人.

Usage, from the repository root::

    .venv/bin/python docs/screenshots/make_screenshots.py [--out DIR] [--chromium PATH]

Chromium and a CJK font are needed (Debian: ``apt-get install chromium fonts-noto-cjk``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import rectify  # noqa: E402 - after the repository root is importable
from rectify.calendar import load_campaign  # noqa: E402
from rectify.documents import filing_view, issuer_for  # noqa: E402
from tests.test_notices import (  # noqa: E402
    CAMPAIGN_REPORTS,
    CASE_SAMPLES,
    REPORTS,
    build_town,
    context_for,
)

#: Chromium's window: an A4 page at screen size; the landscape ledger gets a wide one.
PORTRAIT: Final = (900, 1300)
LANDSCAPE: Final = (1300, 900)
WIDE: Final = frozenset({"ledger", "estate_register"})
#: The English templates (``notices/en/``).
ENGLISH: Final = ("rectification_slip", "monthly_report")
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
)


def documents() -> list[tuple[str, str, str]]:
    """Return (file stem, notice, locale) of every HTML document type."""
    zh = [(name, name, "zh-CN") for name in (*CASE_SAMPLES, *REPORTS, *CAMPAIGN_REPORTS)]
    return zh + [(f"en-{name}", name, "en") for name in ENGLISH]


def filed(notice: str, context: dict[str, object]) -> dict[str, object]:
    """Return ``context`` as the shipped campaign files ``notice``.

    The town office's documents take the campaign's issuer (its 签发人) and the number series
    of their kind (a slip 虎峰镇消整〔2024〕第12号, a reminder none); a community's monthly
    report keeps its committee and takes the campaign's addressee.
    """
    campaign = load_campaign()
    issuer = issuer_for(campaign, notice, str(context.get("community") or "金龙社区"))
    if issuer is None:
        return context
    if notice == "monthly_report":
        filing = filing_view(campaign, notice, issuer)
        signer = context["issuer"]
        name = signer["name"] if isinstance(signer, dict) else issuer.name
        return {**context, "filing": {**filing, "printed_by": name}}
    sequence = re.search(r"(\d+)号$", str(context.get("number", "")))
    issued_on = context.get("issued_on")
    number = context.get("number", "")
    if sequence and isinstance(issued_on, dt.date):
        number = issuer.number(issued_on.year, int(sequence[1]))
    out = {
        **context,
        "issuer": issuer.view(),
        "filing": filing_view(campaign, notice, issuer),
        "number": number,
    }
    people = context.get("people")
    if isinstance(people, dict):  # the office's people are the campaign's
        office = {"supervisor": issuer.supervisor, "contact": issuer.contact}
        out["people"] = {**people, **office, "officials": list(issuer.officials)}
    return out


def render_all(folder: Path) -> list[tuple[str, Path]]:
    """Write every HTML document into ``folder``; return (stem, path) of each."""
    town = build_town()
    renderer = rectify.NoticeRenderer()
    written = []
    for stem, notice, locale in documents():
        context = filed(notice, context_for(notice, town=town))
        document = renderer.render(notice, context, locale=locale)
        path = folder / f"{stem}.html"
        path.write_text(document.body, encoding="utf-8")
        written.append((stem, path))
    return written


def screenshot(chromium: Path, page: Path, png: Path, size: tuple[int, int]) -> None:
    """Take a screenshot of ``page`` with headless Chromium into ``png``."""
    with tempfile.TemporaryDirectory(prefix="rectify-chromium-") as profile:
        command = [
            str(chromium),
            *_FLAGS,
            f"--user-data-dir={profile}",
            f"--screenshot={png}",
            f"--window-size={size[0]},{size[1]}",
            page.as_uri(),
        ]
        subprocess.run(command, check=True, capture_output=True, timeout=120)  # noqa: S603
    if not png.is_file():
        raise RuntimeError(f"Chromium wrote no screenshot of {page.name}")


def main(argv: Sequence[str] | None = None) -> int:
    """Render the documents and photograph them; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--chromium", type=Path, default=Path("/usr/bin/chromium"))
    args = parser.parse_args(argv)
    out: Path = args.out
    chromium: Path = args.chromium
    if not chromium.is_file():
        sys.stderr.write(f"no Chromium at {chromium}: apt-get install chromium fonts-noto-cjk\n")
        return 2
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rectify-documents-") as tmp:
        for stem, page in render_all(Path(tmp)):
            png = out / f"{stem}.png"
            screenshot(chromium, page, png, LANDSCAPE if stem in WIDE else PORTRAIT)
            sys.stdout.write(f"{png}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
