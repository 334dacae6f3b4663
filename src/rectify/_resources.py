"""Where the shipped workflows and notices are, installed or in a checkout."""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

__all__ = ["default_notices", "default_workflows", "sample_file", "sample_ledger"]


def _shipped(name: str) -> Traversable:
    # A wheel carries the folders as package data under rectify/_data; an editable
    # install or a source checkout has them at the top of the repository.
    packaged = resources.files("rectify") / "_data" / name
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / name


def default_workflows() -> Traversable:
    """Return the folder of the workflows shipped with rectify."""
    return _shipped("workflows")


def default_notices() -> Traversable:
    """Return the folder of the notice templates shipped with rectify."""
    return _shipped("notices")


def sample_file(name: str) -> Traversable:
    """Return a sample file the campaign demo reads (a CSV of ``examples/data``).

    ``ledger-2024.csv`` (the hazard ledger), ``register-2024.csv`` (the old-estate register,
    one row per building) and ``earlier-2022-2023.csv`` (earlier years' rectified hazards).
    """
    packaged = resources.files("rectify") / "_data" / "sample" / name
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parents[2] / "examples" / "data" / name


def sample_ledger() -> Traversable:
    """Return the sample ledger (CSV) the campaign demo imports."""
    return sample_file("ledger-2024.csv")
