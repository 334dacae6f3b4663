"""The workflow suite: loading and validating workflow definitions, against the YAML alone."""

from __future__ import annotations

import sys

import yaml

import rectify
from suites.base import C_SAFE_LOADER, WORKFLOWS, Measurement, Settings, time_call


def suite(settings: Settings) -> list[Measurement]:
    """Loading and validating workflow definitions, against parsing the YAML alone.

    Floors: ``yaml.load`` with the libyaml C loader (the pure-Python SafeLoader when
    PyYAML has no C loader), which is also what rectify's own loader is built on; and the
    pure-Python SafeLoader, the floor a host without libyaml would have.
    """
    hazard = WORKFLOWS / "hazard.yaml"
    text = hazard.read_text(encoding="utf-8")  # read once, outside the timing
    files = sorted(p for p in WORKFLOWS.rglob("*") if p.suffix in (".yaml", ".yml"))
    folder = str(WORKFLOWS)

    report = rectify.validate_paths([folder])
    if not report.clean:  # the timing is still taken, but say that the folder is not clean
        print(
            f"note: validate_paths found {len(report.diagnostics)} diagnostics in {folder}",
            file=sys.stderr,
        )

    def python_load() -> object:
        return yaml.load(text, Loader=yaml.SafeLoader)

    if C_SAFE_LOADER is not None:
        c_loader = C_SAFE_LOADER

        def floor_load() -> object:
            return yaml.load(text, Loader=c_loader)  # noqa: S506 - CSafeLoader is safe

        def floor_folder() -> object:
            return [yaml.load(p.read_bytes(), Loader=c_loader) for p in files]  # noqa: S506

        loader = "CSafeLoader"
        loader_note = "the libyaml C loader"
    else:
        floor_load = python_load

        def floor_folder() -> object:
            return [yaml.load(p.read_bytes(), Loader=yaml.SafeLoader) for p in files]

        loader = "SafeLoader"
        loader_note = "pure Python: this PyYAML has no C loader (libyaml), so no CSafeLoader"

    floor = f"yaml.load[{loader}]"
    python_floor = "yaml.load[SafeLoader]"
    folder_floor = f"yaml.load[{loader}] x{len(files)} files"
    out = [
        time_call(
            floor,
            floor_load,
            settings,
            description=f"yaml.load(text, Loader=yaml.{loader}) of {hazard.name}: {loader_note}",
        )
    ]
    if C_SAFE_LOADER is not None:
        out.append(
            time_call(
                python_floor,
                python_load,
                settings,
                description=f"yaml.load(text, Loader=yaml.SafeLoader) of {hazard.name}: "
                "pure Python",
            )
        )
    out.append(
        time_call(
            "rectify.load_workflow",
            lambda: rectify.load_workflow(text),
            settings,
            floor=floor,
            extra_floors=(python_floor,) if C_SAFE_LOADER is not None else (),
            description=f"rectify.load_workflow(text) of {hazard.name}: located YAML, "
            "parse, static checks, frozen spec",
        )
    )
    out.append(
        time_call(
            folder_floor,
            floor_folder,
            settings,
            description=f"read and yaml.load every file of workflows/ with {loader}: "
            + ", ".join(p.name for p in files),
        )
    )
    out.append(
        time_call(
            "rectify.validate_paths",
            lambda: rectify.validate_paths([folder]),
            settings,
            floor=folder_floor,
            description='rectify.validate_paths(["workflows"]): read, parse and check every '
            "file of the folder (workflows against the category table and back)",
        )
    )
    return out
