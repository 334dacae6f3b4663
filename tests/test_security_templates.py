"""Hostile templates: what a host template (or a name it builds) must not be able to do.

A host folder is written by the town, but a renderer must hold even when it is not: a
template may not read files outside its folder or outside ``notices/``, may not change the
context it is given, and may not hang or exhaust the process. Every such attempt is a
``NoticeError`` naming the template and line; none leaks a foreign exception.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import pytest

from rectify import NoticeError, NoticeRenderer
from rectify._resources import default_notices

SECRET: Final = "TOP-SECRET-MARKER"  # noqa: S105 (a marker, not a password)


def _context() -> dict[str, object]:
    return {
        "reader": {"role": "public", "may_see_phones": False},
        "hazard": {"phone": "15200003801"},
        "items": ["a", "b"],
    }


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A template file outside every template folder (named ``.j2`` so only the path is bad)."""
    path = tmp_path / "outside" / "secret.txt.j2"
    path.parent.mkdir()
    path.write_text(SECRET, encoding="utf-8")
    return path


@pytest.fixture
def host(tmp_path: Path) -> Path:
    folder = tmp_path / "host"
    folder.mkdir()
    return folder


def _render(
    folder: Path, files: Mapping[str, str], context: Mapping[str, object] | None = None, **kw: float
) -> str:
    for name, source in files.items():
        (folder / name).write_text(source, encoding="utf-8")
    renderer = NoticeRenderer(folder, **kw)  # type: ignore[arg-type]
    return renderer.render("start", _context() if context is None else context, fmt="text").body


def _from_builtin(target: Path) -> str:
    """Return ``target`` as a name relative to the built-in ``notices/`` folder."""
    return Path(os.path.relpath(target, Path(str(default_notices())))).as_posix()


def _refused(folder: Path, source: str, *, line: int = 1) -> NoticeError:
    with pytest.raises(NoticeError) as caught:
        _render(folder, {"start.txt.j2": source})
    err = caught.value
    assert (err.template, err.line) == ("start.txt.j2", line)
    assert SECRET not in str(err)
    return err


# -- names -----------------------------------------------------------------------------------------

#: How each kind of reference names a template, ``{}`` standing for the name.
REFERENCES: Final = {
    "include": "{{% include {} %}}",
    "extends": "{{% extends {} %}}",
    "import": "{{% import {} as m %}}{{{{ m }}}}",
    "from-import": "{{% from {} import x %}}{{{{ x }}}}",
}


def test_a_host_template_cannot_reach_a_file_above_the_builtin_folder(
    host: Path, secret: Path
) -> None:
    name = _from_builtin(secret)
    assert name.startswith("../")
    for kind, form in REFERENCES.items():
        err = _refused(host, form.format(repr(name)))
        assert name in str(err), kind


@pytest.mark.parametrize("kind", list(REFERENCES))
@pytest.mark.parametrize(
    "name",
    [
        "../../../../../../../../etc/hostname",
        "../../../../../../../../etc/passwd",
        "/etc/passwd",
        "//etc/passwd",
        "README.md",
        "_common.j2/../README.md",
        "en/../_common.j2",
        "./_common.j2",
        "en//rectification_slip.txt.j2",
        "..\\..\\..\\etc\\passwd",
        "en\\rectification_slip.txt.j2",
        "C:/Windows/win.ini",
        "c:_common.j2",
        "_common.j2\0",
        "",
    ],
)
def test_a_hostile_template_name_is_refused_by_every_reference(
    host: Path, kind: str, name: str
) -> None:
    _refused(host, REFERENCES[kind].format(repr(name)))


@pytest.mark.parametrize("kind", list(REFERENCES))
def test_a_name_built_while_rendering_is_checked_too(host: Path, secret: Path, kind: str) -> None:
    first, rest = _from_builtin(secret).split("/", 1)
    built = f"{first!r} ~ '/' ~ {rest!r}"
    err = _refused(host, REFERENCES[kind].format(f"({built})"))
    assert "cannot render" in str(err)


def test_the_builtin_readme_is_not_a_template(host: Path) -> None:
    err = _refused(host, "{% include 'README.md' %}")
    assert "README.md" in str(err)


def test_a_host_file_without_the_template_suffix_is_not_a_template(host: Path) -> None:
    (host / "notes.txt").write_text(SECRET, encoding="utf-8")
    _refused(host, "{% include 'notes.txt' %}")
    assert "notes" not in NoticeRenderer(host).available()


def test_a_symlink_in_the_host_folder_pointing_outside_is_refused(host: Path, secret: Path) -> None:
    (host / "_link.txt.j2").symlink_to(secret)
    _refused(host, "{% include '_link.txt.j2' %}")
    (host / "start.txt.j2").unlink()
    (host / "start.txt.j2").symlink_to(secret)
    renderer = NoticeRenderer(host)
    assert not renderer.has("start", "text")
    with pytest.raises(NoticeError) as caught:
        renderer.render("start", _context(), fmt="text")
    assert SECRET not in str(caught.value)


def test_a_symlinked_folder_pointing_outside_is_refused(host: Path, secret: Path) -> None:
    (host / "sub").symlink_to(secret.parent, target_is_directory=True)
    _refused(host, "{% include 'sub/secret.txt.j2' %}")
    assert "sub/secret" not in "".join(NoticeRenderer(host).available())


def test_a_symlink_inside_the_host_folder_still_works(host: Path) -> None:
    (host / "_real.txt.j2").write_text("inner", encoding="utf-8")
    (host / "_alias.txt.j2").symlink_to(host / "_real.txt.j2")
    assert _render(host, {"start.txt.j2": "{% include '_alias.txt.j2' %}"}) == "inner"


def test_the_builtin_folder_refuses_names_that_leave_it(tmp_path: Path, secret: Path) -> None:
    builtin = tmp_path / "builtin"
    builtin.mkdir()
    (builtin / "start.txt.j2").write_text(
        "{% include '../outside/secret.txt.j2' %}", encoding="utf-8"
    )
    (builtin / "README.md").write_text(SECRET, encoding="utf-8")
    renderer = NoticeRenderer(builtin=builtin)
    with pytest.raises(NoticeError) as caught:
        renderer.render("start", _context(), fmt="text")
    assert SECRET not in str(caught.value)
    (builtin / "start.txt.j2").write_text("{% include 'README.md' %}", encoding="utf-8")
    with pytest.raises(NoticeError) as caught:
        NoticeRenderer(builtin=builtin).render("start", _context(), fmt="text")
    assert SECRET not in str(caught.value)


def test_a_refused_name_is_a_missing_template_when_checking(host: Path, secret: Path) -> None:
    source = f"\n{{% include {_from_builtin(secret)!r} %}}"
    (host / "start.txt.j2").write_text(source, encoding="utf-8")
    renderer = NoticeRenderer(host)
    [problem] = renderer.problems()
    assert (problem.kind, problem.template, problem.line) == ("missing", "start.txt.j2", 2)
    with pytest.raises(NoticeError) as caught:
        renderer.variables("start", "text")
    assert (caught.value.template, caught.value.line) == ("start.txt.j2", 2)


# -- the context -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{{ reader.update({'may_see_phones': True}) }}{{ hazard.phone | phone }}",
        "{% set _ = reader.update({'may_see_phones': True}) %}{{ hazard.phone | phone }}",
        "{{ reader.__setitem__('may_see_phones', True) }}",
        "{{ reader.setdefault('x', 1) }}",
        "{{ reader.pop('role') }}",
        "{{ reader.clear() }}",
        "{{ items.append('c') }}",
        "{{ items.extend(['c']) }}",
        "{{ items.sort() }}",
        "{% set s = {1, 2} %}{{ s.add(3) }}",
    ],
)
def test_a_host_template_cannot_change_the_context(host: Path, source: str) -> None:
    context = _context()
    with pytest.raises(NoticeError) as caught:
        _render(host, {"start.txt.j2": source}, context)
    assert caught.value.template == "start.txt.j2"
    assert context == _context()


def test_a_host_template_still_reads_the_context(host: Path) -> None:
    source = "{{ reader.get('role') }} {{ items | join(',') }} {{ hazard.phone | phone }}"
    assert _render(host, {"start.txt.j2": source}) == "public a,b 152****3801"


def test_a_host_template_still_builds_values_of_its_own(host: Path) -> None:
    source = (
        "{% set ns = namespace(n=0) %}{% for i in items %}{% set ns.n = ns.n + 1 %}"
        "{{ loop.index }}/{{ loop.length }}{{ ',' if not loop.last }}{% endfor %} {{ ns.n }} "
        "{{ (items + ['c']) | join }} {{ '%03d' % 7 }} {{ '{:>4}'.format('x') }} {{ 2 ** 10 }}"
    )
    assert _render(host, {"start.txt.j2": source}) == "1/2,2/2 2 abc 007    x 1024"


# -- resources -------------------------------------------------------------------------------------


def test_a_recursive_macro_is_a_notice_error(host: Path) -> None:
    err = _refused(host, "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}\n{{ f(0) }}")
    assert "cannot render" in str(err)


def test_a_template_that_includes_itself_is_a_notice_error(host: Path) -> None:
    _refused(host, "x{% include 'start.txt.j2' %}")


def test_templates_that_include_each_other_are_a_notice_error(host: Path) -> None:
    (host / "_other.txt.j2").write_text("{% include 'start.txt.j2' %}", encoding="utf-8")
    _refused(host, "{% include '_other.txt.j2' %}")


def test_a_template_nested_too_deeply_to_read_is_a_notice_error(host: Path) -> None:
    (host / "start.txt.j2").write_text("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}")
    renderer = NoticeRenderer(host)
    for use in (
        lambda: renderer.render("start", _context(), fmt="text"),
        lambda: renderer.variables("start", "text"),
    ):
        with pytest.raises(NoticeError) as caught:
            use()
        assert (caught.value.template, caught.value.line) == ("start.txt.j2", 1)
        assert "nested too deeply" in str(caught.value)
    [problem] = renderer.problems()
    assert (problem.kind, problem.template, problem.line) == ("syntax", "start.txt.j2", 1)


def test_output_beyond_the_limit_is_a_notice_error(host: Path) -> None:
    source = "{% for i in range(2000) %}x{% endfor %}"
    assert len(_render(host, {"start.txt.j2": source}, max_output=2000)) == 2000
    with pytest.raises(NoticeError) as caught:
        _render(host, {"start.txt.j2": source}, max_output=1999)
    assert "1999" in str(caught.value)


def test_huge_output_from_nested_loops_stops_at_the_default_limit(host: Path) -> None:
    _refused(
        host,
        "{% for i in range(100000) %}{% for j in range(100000) %}{{ 'x' * 100 }}"
        "{% endfor %}{% endfor %}",
    )


@pytest.mark.parametrize(
    "source",
    [
        # output every step
        "{% for i in range(3000) %}{% for j in range(3000) %}.{% endfor %}{% endfor %}",
        # no output, a call every step
        "{% for i in range(3000) %}{% for j in range(3000) %}{% endfor %}{% endfor %}",
        # no output, no call: a loop over a list
        "{% set l = range(3000) | list %}{% for i in l %}{% for j in l %}{% endfor %}{% endfor %}",
        # a recursive loop
        "{% for i in [[1], [2]] recursive %}{{ loop(i) if i is iterable }}{% endfor %}",
    ],
)
def test_a_template_past_its_time_budget_is_a_notice_error(host: Path, source: str) -> None:
    with pytest.raises(NoticeError) as caught:
        _render(host, {"start.txt.j2": source}, time_budget=0.0, max_output=10**8)
    assert "time budget" in str(caught.value)


@pytest.mark.parametrize(
    "expression",
    [
        "'a' * 10**9",
        "10**9 * 'a'",
        "[1] * 10**9",
        "('ab',) * 10**9",
        "10**(10**10)",
        "2**(2**40)",
        "(10**10)**(10**10)",
        "(10**20000) * (10**20000) * (10**20000)",
        "'%999999999d' % 1",
        "'%*d' % (999999999, 1)",
        "'{:999999999}'.format(1)",
        "'x'.center(10**9)",
        "'x'.ljust(10**9)",
        "'x'.zfill(10**9)",
        "'x' | center(10**9)",
        "'x' | indent(10**9, true)",
        "('x' * 1000000).replace('x', 'yyyyyyyyyy')",
        "('x' * 1000000) | replace('x', 'yyyyyyyyyy')",
        "('x\\n' * 1000000) | indent('y' * 1000)",
        "('y' * 1000000).join('x' * 1000)",
        "('x' * 1000) | join('y' * 1000000)",
        "range(10) | join('y' * 1000000)",
    ],
)
def test_a_size_bomb_is_refused_before_it_fills_memory(host: Path, expression: str) -> None:
    err = _refused(host, f"{{{{ {expression} }}}}")
    assert "cannot render" in str(err)


def test_filler_text_is_not_available(host: Path) -> None:
    _refused(host, "{{ lipsum(100000, min=100000, max=100000) }}")


def test_a_notice_name_that_leaves_the_folders_is_no_template(host: Path, secret: Path) -> None:
    name = _from_builtin(secret).removesuffix(".txt.j2")
    with pytest.raises(NoticeError) as caught:
        NoticeRenderer(host).render(name, _context(), fmt="text")
    assert "no template" in str(caught.value)
    with pytest.raises(NoticeError):
        NoticeRenderer(host).render("secret", _context(), fmt="text", locale="../outside")


def test_doubling_a_string_is_stopped_at_the_limit(host: Path) -> None:
    doubling = "{% set ns.s = ns.s ~ ns.s %}" * 64
    source = "{% set ns = namespace(s='x') %}" + doubling + "{{ ns.s | length }}"
    _refused(host, source)
    _refused(host, source.replace("ns.s ~ ns.s", "ns.s + ns.s"))
    _refused(host, source.replace("ns.s ~ ns.s", "[ns.s, ns.s] | join"))
    _refused(host, source.replace("ns.s ~ ns.s", "'{}{}'.format(ns.s, ns.s)"))


# -- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "kind"),
    [
        ("1 / 0", "ZeroDivisionError"),
        ("1 // 0", "ZeroDivisionError"),
        ("1 % 0", "ZeroDivisionError"),
        ("2.0 ** 10000", "OverflowError"),
        ("range(10**6)", "OverflowError"),
        ("'{x}'.format()", "KeyError"),
        ("'{0}'.format()", "IndexError"),
        ("'é'.encode('nosuchcodec')", "LookupError"),
        ("'é'.encode('ascii')", "UnicodeEncodeError"),
        ("1 + 'a'", "TypeError"),
        ("'{:d}'.format('x')", "ValueError"),
    ],
)
def test_every_error_a_template_raises_is_a_notice_error(
    host: Path, expression: str, kind: str
) -> None:
    err = _refused(host, f"line one\n{{{{ {expression} }}}}", line=2)
    assert str(err).startswith("start.txt.j2:2: cannot render: ")
    assert type(err.__cause__).__name__ == kind


def test_an_error_in_an_included_template_names_where_it_happened(host: Path) -> None:
    (host / "_part.txt.j2").write_text("\n\n{{ 1 / 0 }}", encoding="utf-8")
    err = _refused(host, "\n{% include '_part.txt.j2' %}", line=2)
    assert "(used at _part.txt.j2:3)" in str(err)
