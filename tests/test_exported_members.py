"""The public surface is exactly what ``__all__`` says, sorted, and nothing private leaks."""

from __future__ import annotations

import importlib
import pkgutil
import warnings
from types import ModuleType

import pytest

import rectify

PUBLIC = [
    "rectify",
    "rectify.aio",
    "rectify.calendar",
    "rectify.cli",
    "rectify.definitions",
    "rectify.documents",
    "rectify.engine",
    "rectify.exceptions",
    "rectify.ledger",
    "rectify.server",
    "rectify.spreadsheets",
    "rectify.stores",
    "rectify.testing",
]
# Packages that only hold implementation; their names are exported by a public namespace.
INTERNAL = ["rectify.templating"]
# Packages whose __init__ only gathers names from their private modules.
FACADES = [
    "rectify.calendar",
    "rectify.definitions",
    "rectify.documents",
    "rectify.engine",
    "rectify.server",
    "rectify.spreadsheets",
    "rectify.stores",
    "rectify.templating",
    "rectify.testing",
]
DAY_ONE_LIMIT = 40


def _isort_key(name: str) -> tuple[int, str]:
    # ruff's RUF022 order: CONSTANTS, then Classes, then functions, each alphabetically.
    if name.isupper():
        return 0, name
    return (1 if name[:1].isupper() else 2), name


@pytest.mark.parametrize("name", PUBLIC)
def test_all_is_sorted_and_every_name_exists(name: str) -> None:
    module = importlib.import_module(name)
    names = module.__all__
    assert names == sorted(names, key=_isort_key)
    for member in names:
        assert hasattr(module, member), member


@pytest.mark.parametrize("name", FACADES)
def test_no_name_of_rectify_leaks_from_a_namespace_outside_its_all(name: str) -> None:
    module = importlib.import_module(name)
    exported = {
        member
        for member, value in vars(module).items()
        if not member.startswith("_")
        and not isinstance(value, ModuleType)
        and member != "annotations"
        and getattr(value, "__module__", name).startswith("rectify")
    }
    assert exported - set(module.__all__) == set()


def test_every_public_name_of_rectify_is_in_all() -> None:
    exported = {
        name
        for name, value in vars(rectify).items()
        if not name.startswith("_") and not isinstance(value, ModuleType) and name != "annotations"
    }
    assert exported == set(rectify.__all__) - {"__version__"}


def test_every_package_of_rectify_is_public_or_declared_internal() -> None:
    packages = {
        f"rectify.{info.name}"
        for info in pkgutil.iter_modules(rectify.__path__)
        if not info.name.startswith("_")
    }
    assert packages == set(PUBLIC + INTERNAL) - {"rectify"}


def test_rectify_keeps_what_a_host_needs_on_day_one() -> None:
    assert len(rectify.__all__) <= DAY_ONE_LIMIT
    for name in ("Ledger", "Actor", "Case", "Evidence", "Outcome", "load_workflow", "Clock"):
        assert name in rectify.__all__


def test_each_name_is_exported_by_one_namespace_besides_the_top() -> None:
    homes: dict[str, list[str]] = {}
    for name in PUBLIC[1:]:
        for member in importlib.import_module(name).__all__:
            homes.setdefault(member, []).append(name)
    shared = {member: where for member, where in homes.items() if len(where) > 1}
    assert shared == {}


def test_an_old_top_level_name_still_works_and_warns_of_its_new_place() -> None:
    with pytest.warns(DeprecationWarning, match=r"import it from rectify\.documents") as caught:
        zh_date = rectify.zh_date  # type: ignore[attr-defined]
    assert zh_date is rectify.documents.zh_date
    assert "rectify.zh_date" in str(caught[0].message)


@pytest.mark.parametrize("old", sorted(rectify._MOVED))
def test_every_moved_name_resolves_to_the_same_object_in_its_new_place(old: str) -> None:
    where = rectify._MOVED[old]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = getattr(rectify, old)
    assert value is getattr(importlib.import_module(where), old)
    assert old in importlib.import_module(where).__all__
    assert [w.category for w in caught] == [DeprecationWarning]


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = rectify.no_such_name  # type: ignore[attr-defined]


def test_version_comes_from_package_metadata() -> None:
    from importlib.metadata import version  # noqa: PLC0415 - the comparison is the test

    assert rectify.__version__ == version("rectify")


def test_every_exception_derives_from_rectify_error() -> None:
    from rectify import exceptions  # noqa: PLC0415

    for name in exceptions.__all__:
        assert issubclass(getattr(exceptions, name), rectify.RectifyError)
