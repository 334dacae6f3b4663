"""The YAML adapter: safe loading that remembers where every key and value stands.

Definitions are read as plain data (dicts, lists, scalars) plus a table of positions, so
that every later diagnostic can point at a file, line and column. Only the YAML 1.2 booleans
``true``/``false`` are booleans: ``on``, ``off``, ``yes`` and ``no`` stay strings (a state
called ``on`` must not turn into ``True``). Duplicate keys, which PyYAML silently collapses,
are reported. Size, depth and alias expansion are bounded so no input can hang the loader.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path as FsPath
from typing import Final

import attrs
import yaml

from rectify._diagnostics import Diagnostic, Location, Severity
from rectify._files import NotRegularFileError, open_regular
from rectify.exceptions import DefinitionError

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "Path",
    "Source",
    "Unreadable",
    "YamlDocument",
    "load_yaml",
    "read_source",
]

Path = tuple[str | int, ...]
#: A file path, or (for a string with a newline or without a .yaml/.yml ending) YAML text.
Source = str | os.PathLike[str]

MAX_BYTES: Final = 2_000_000
MAX_DEPTH: Final = 50
MAX_NODES: Final = 200_000
_MAX_INT_BITS: Final = 1000  # about 300 digits: far below Python's int-to-text limit

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BOOL_TAG: Final = "tag:yaml.org,2002:bool"


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """A safe loader whose only booleans are ``true`` and ``false``."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _BOOL_TAG]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


@attrs.frozen
class YamlDocument:
    """Plain data from one YAML document, with the position of each key and value.

    Attributes:
        file: File name used in locations.
        data: The document as dicts, lists and scalars (``None`` when it could not be read).
        diagnostics: Problems found while reading (syntax, duplicate keys, limits).
    """

    file: str
    data: object
    diagnostics: tuple[Diagnostic, ...]
    _values: dict[Path, tuple[int, int]] = attrs.field(eq=False, repr=False)
    _keys: dict[Path, tuple[int, int]] = attrs.field(eq=False, repr=False)

    def has(self, path: Path) -> bool:
        """Return whether the document has a value at ``path``."""
        return path in self._values

    def value(self, path: Path) -> object:
        """Return the raw value at ``path`` (``None`` when there is none)."""
        node = self.data
        for part in path:
            fits = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
            if not fits and not (isinstance(node, dict) and part in node):
                return None
            node = node[part]  # type: ignore[index]
        return node

    def locate(self, path: Path, *, key: bool = False) -> Location:
        """Return the location of the value at ``path`` (or of its key when ``key``).

        An unknown path falls back to its nearest known ancestor. A value that starts on a
        later line than its key (a block mapping or list, which starts at its first item) is
        located at its key.
        """
        table = self._keys if key else self._values
        probe = path
        while probe and probe not in table:
            if probe in self._values:
                table = self._values
                break
            probe = probe[:-1]
        line, column = table.get(probe, self._values.get((), (1, 1)))
        if table is self._values and probe in self._keys and self._keys[probe][0] < line:
            line, column = self._keys[probe]
        return Location(self.file, line, column, dotted(path))


def dotted(path: Path) -> str:
    """Return a path as ``events.verify.to`` (list indexes as ``[0]``)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


class _Walker:
    """Turns a composed node tree into plain data, recording positions."""

    def __init__(self, file: str, loader: _Loader) -> None:
        self.file = file
        self.loader = loader
        self.values: dict[Path, tuple[int, int]] = {}
        self.keys: dict[Path, tuple[int, int]] = {}
        self.diagnostics: list[Diagnostic] = []
        self.count = 0

    def problem(self, code: str, message: str, node: yaml.Node, path: Path) -> None:
        mark = node.start_mark
        loc = Location(self.file, mark.line + 1, mark.column + 1, dotted(path))
        self.diagnostics.append(Diagnostic(Severity.ERROR, code, message, loc))

    def walk(self, node: yaml.Node, path: Path, depth: int) -> object:
        self.count += 1
        if self.count > MAX_NODES:
            raise _LimitError("too-large", f"document expands to more than {MAX_NODES} nodes")
        if depth > MAX_DEPTH:
            raise _LimitError("too-deep", f"document nests deeper than {MAX_DEPTH} levels")
        self.values.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.walk(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _mapping(self, node: yaml.MappingNode, path: Path, depth: int) -> dict[str, object]:
        out: dict[str, object] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem("wrong-type", "a key must be a plain name", key_node, path)
                continue
            key = str(key_node.value)
            child = (*path, key)
            if key in out:
                first = self.keys[child]
                self.problem(
                    "duplicate-key",
                    f"key {key!r} appears twice (first at line {first[0]}); the first is kept",
                    key_node,
                    child,
                )
                continue
            self.keys[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = self.walk(value_node, child, depth + 1)
        return out

    def _scalar(self, node: yaml.Node, path: Path) -> object:
        try:
            value = self.loader.construct_object(node, deep=True)
        # PyYAML's scalar constructors fail in odd ways on explicit tags: "!!bool maybe" is a
        # KeyError, "!!int ''" an IndexError, "!!timestamp x" an AttributeError.
        except (
            yaml.YAMLError,
            ValueError,
            OverflowError,
            TypeError,
            LookupError,
            AttributeError,
        ) as exc:
            return self._unreadable(node, path, getattr(exc, "problem", None) or str(exc))
        if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
            return self._unreadable(node, path, "the number is too large")  # too long to print
        return value

    def _unreadable(self, node: yaml.Node, path: Path, problem: str) -> Unreadable:
        self.problem("bad-value", f"cannot read value {node.value!r}: {problem}", node, path)
        return Unreadable(str(node.value))


@attrs.frozen
class Unreadable:
    """A scalar that could not be read (already reported); later checks stay quiet on it."""

    text: str


class _LimitError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def load_yaml(text: str | bytes, file: str = "<string>") -> YamlDocument:
    """Read one YAML document safely, never raising for bad input.

    Args:
        text: The document, as text or UTF-8 bytes.
        file: The name used in locations.

    Returns:
        The data and positions; problems are in ``diagnostics`` and ``data`` is ``None``
        when nothing usable could be read.
    """
    empty: dict[Path, tuple[int, int]] = {}
    fail = Location(file, 1, 1)
    if len(text) > MAX_BYTES:
        diag = _error("too-large", f"document is larger than {MAX_BYTES} bytes", fail)
        return YamlDocument(file, None, (diag,), empty, empty)
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            diag = _error("encoding", f"not UTF-8 text: {exc.reason} at byte {exc.start}", fail)
            return YamlDocument(file, None, (diag,), empty, empty)
    try:
        loader = _Loader(text)
    except UnicodeEncodeError as exc:  # lone surrogates in a str cannot be UTF-8 for libyaml
        diag = _error("encoding", f"not UTF-8 text: {exc.reason} at character {exc.start}", fail)
        return YamlDocument(file, None, (diag,), empty, empty)
    try:
        node = loader.get_single_node()
        if node is None:
            diag = _error("empty", "the document is empty", fail)
            return YamlDocument(file, None, (diag,), empty, empty)
        walker = _Walker(file, loader)
        data = walker.walk(node, (), 0)
        if data is None:  # a document of only "---" or "~" holds nothing either
            diag = _error("empty", "the document is empty", fail)
            return YamlDocument(file, None, (diag,), empty, empty)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(file, mark.line + 1, mark.column + 1) if mark else fail
        message = " ".join(str(p) for p in (exc.context, exc.problem) if p) or str(exc)
        return YamlDocument(file, None, (_error("yaml-syntax", message, loc),), empty, empty)
    except yaml.YAMLError as exc:
        return YamlDocument(file, None, (_error("yaml-syntax", str(exc), fail),), empty, empty)
    except RecursionError:
        diag = _error("too-deep", f"document nests deeper than {MAX_DEPTH} levels", fail)
        return YamlDocument(file, None, (diag,), empty, empty)
    except _LimitError as exc:
        return YamlDocument(file, None, (_error(exc.code, exc.message, fail),), empty, empty)
    finally:
        loader.dispose()
    return YamlDocument(file, data, tuple(walker.diagnostics), walker.values, walker.keys)


def _error(code: str, message: str, location: Location) -> Diagnostic:
    return Diagnostic(Severity.ERROR, code, message, location)


def iter_paths(doc: YamlDocument) -> Iterator[Path]:
    """Yield every path that has a recorded value position (for tests and tools)."""
    yield from doc._values


def _read_regular(path: FsPath, name: str) -> bytes:
    """Return the bytes of ``path``, a regular file (a pipe or a device would never end).

    The file is opened without blocking, so that a named pipe with no writer is refused
    rather than waited for. One byte more than ``MAX_BYTES`` is read at most: enough for
    the ``too-large`` diagnostic, without reading a huge file whole.

    Raises:
        DefinitionError: ``path`` is not a regular file.
        OSError: ``path`` cannot be read.
    """
    try:
        with open_regular(path) as (file, _size):
            return file.read(MAX_BYTES + 1)
    except NotRegularFileError as exc:
        raise DefinitionError(f"cannot read {name!r}: not a regular file") from exc


def read_source(source: Source) -> tuple[str | bytes, str]:
    """Return the text of ``source`` and the name to report it under.

    A path-like, or a one-line string ending in ``.yaml``/``.yml``, is a file; any other
    string is the document itself.
    """
    if isinstance(source, str) and ("\n" in source or not source.endswith((".yaml", ".yml"))):
        return source, "<string>"
    path = FsPath(source)
    try:
        return _read_regular(path, str(source)), str(source)
    except OSError as exc:
        raise DefinitionError(f"cannot read {str(source)!r}: {exc.strerror or exc}") from exc
    except ValueError as exc:  # a NUL or an unencodable character in the name
        raise DefinitionError(f"cannot read {str(source)!r}: {exc}") from exc
