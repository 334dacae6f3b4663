"""Opening files a user names: regular files only, never a pipe or a device.

A named pipe with no writer blocks ``open()`` forever and ``/dev/zero`` never ends, so every
file rectify reads on a user's word is opened without blocking and checked to be a regular
file before a byte is read.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from typing import BinaryIO

__all__ = ["NotRegularFileError", "open_regular"]


class NotRegularFileError(OSError):
    """The path names a pipe, a device, a socket or a folder, not a regular file."""


@contextlib.contextmanager
def open_regular(path: str | os.PathLike[str]) -> Iterator[tuple[BinaryIO, int]]:
    """Open ``path`` for reading; yield the file and its size.

    Raises:
        NotRegularFileError: ``path`` is not a regular file.
        OSError: ``path`` cannot be opened.
        ValueError: ``path`` holds a NUL.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFileError(f"{os.fsdecode(path)!r} is not a regular file")
        os.set_blocking(fd, True)  # a regular file never blocks; reads behave as usual
        yield file, info.st_size
