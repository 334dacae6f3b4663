"""Jinja2 machinery: the sandboxed environment, template loading, filters, charts.

Owns how a template is found, parsed and rendered, and the formatting filters documents use
(dates, numbering, phone masking), and the Word copy of a rendered HTML document
(``_docx``: docxtpl from ``rectify[docx]``, imported only when a copy is made). It knows
nothing of cases or workflows, so definition checks can ask it which notices exist and what
they use.

May import: ``rectify.exceptions``, ``rectify._resources``, ``rectify._files``. Its public
names are exported by :mod:`rectify.documents`.
"""

from __future__ import annotations

__all__: list[str] = []
