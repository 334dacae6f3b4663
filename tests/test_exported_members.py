"""The public surface is exactly what ``__all__`` says, sorted, and nothing private leaks."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

import rectify

PUBLIC = ["rectify", "rectify.cli", "rectify.exceptions", "rectify.stores", "rectify.testing"]


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


def test_every_public_name_of_rectify_is_in_all() -> None:
    exported = {
        name
        for name, value in vars(rectify).items()
        if not name.startswith("_") and not isinstance(value, ModuleType) and name != "annotations"
    }
    assert exported == set(rectify.__all__) - {"__version__"}


def test_version_comes_from_package_metadata() -> None:
    from importlib.metadata import version  # noqa: PLC0415 - the comparison is the test

    assert rectify.__version__ == version("rectify")


def test_every_exception_derives_from_rectify_error() -> None:
    from rectify import exceptions  # noqa: PLC0415

    for name in exceptions.__all__:
        assert issubclass(getattr(exceptions, name), rectify.RectifyError)
