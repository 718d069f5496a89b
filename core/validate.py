"""Checks of command-line input shared by the commands: finite numbers, output folders, names with close matches.

Each failure is a :class:`click.BadParameter` or :class:`regsuite.errors.UsageError`, which the CLI prints
as one ``error:`` line with exit code 2.
"""

from __future__ import annotations

import difflib
import math
import os
from pathlib import Path

import click

from .errors import UsageError

NAME_MAX = 255  # bytes in one path component on the file systems we support


class Finite(click.ParamType):
    """A float that is finite (no nan, no inf) and within ``[lo, hi]`` (or the open interval where asked)."""

    name = "number"

    def __init__(self, lo: float | None = None, hi: float | None = None, lo_open: bool = False,
                 hi_open: bool = False) -> None:
        self.lo, self.hi, self.lo_open, self.hi_open = lo, hi, lo_open, hi_open

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            x = float(value)
        else:
            try:
                x = float(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(x):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if self.lo is not None and (x < self.lo or (self.lo_open and x == self.lo)):
            self.fail(f"{x:g} is out of range: must be {'>' if self.lo_open else '>='} {self.lo:g}", param, ctx)
        if self.hi is not None and (x > self.hi or (self.hi_open and x == self.hi)):
            self.fail(f"{x:g} is out of range: must be {'<' if self.hi_open else '<='} {self.hi:g}", param, ctx)
        return x


def finite(value, what: str, lo: float | None = None, hi: float | None = None, lo_open: bool = False) -> float:
    """The same check for values from files (executor configs): raises UsageError."""
    try:
        return Finite(lo, hi, lo_open).convert(value, None, None)
    except click.BadParameter as exc:
        raise UsageError(f"{what}: {exc.message}") from None


class OutDir(click.ParamType):
    """A folder to write into: not empty, not a file, UTF-8, each name within the file system's limit."""

    name = "directory"

    def convert(self, value, param, ctx):
        text = os.fsdecode(value) if isinstance(value, bytes) else str(value)
        if not text.strip():
            self.fail("must name a folder (an empty string would write into the current directory)", param, ctx)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            self.fail(f"{text.encode('utf-8', 'surrogateescape')!r} is not valid UTF-8; choose a UTF-8 name",
                      param, ctx)
        path = Path(text)
        for part in path.parts:
            if len(os.fsencode(part)) > NAME_MAX:
                self.fail(f"a folder name in it is {len(os.fsencode(part))} bytes long; the limit is {NAME_MAX}",
                          param, ctx)
        probe = path
        while not probe.exists() and probe.parent != probe:
            probe = probe.parent
        if probe.exists() and not probe.is_dir():
            self.fail(f"{probe} is a file, not a folder", param, ctx)
        if probe.exists() and not os.access(probe, os.R_OK | os.W_OK | os.X_OK):
            self.fail(f"{probe} cannot be read and written (permission denied)", param, ctx)
        return path


def known(values, names, what: str) -> None:
    """Refuse any of ``values`` not in ``names``, suggesting the closest names."""
    names = sorted(set(names))
    for value in values:
        if value in names:
            continue
        close = difflib.get_close_matches(value, names, n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else (
            f"; known: {', '.join(names[:12])}{', ...' if len(names) > 12 else ''}" if names else "")
        raise UsageError(f"unknown {what} {value!r}{hint}")
