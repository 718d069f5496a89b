"""Provenance recorded with every run: versions, hardware, code revision."""

from __future__ import annotations

import functools
import json
import platform
import socket
import subprocess
from importlib import metadata
from pathlib import Path

# Libraries whose versions can move a result.
TRACKED = ("torch", "numpy", "pytorch-optimizer", "scikit-learn", "scipy", "POT", "geomloss", "pluggy", "pandas", "pyarrow")


def _version(dist: str) -> str | None:
    """``importlib.metadata.version(dist)``, or None when not installed.

    The same distribution (``Distribution.from_name``, as ``version`` looks it up), but its Version
    header read from the METADATA text directly: ``version`` parses every header of the file with the
    email package, a millisecond each, and a run's row asks for twelve (tests/test_provenance.py checks
    the two agree on every installed distribution). Anything unusual goes to ``version`` itself.
    """
    try:
        found = metadata.Distribution.from_name(dist)
    except metadata.PackageNotFoundError:
        return None
    return _header_version(found) or found.version


def _header_version(found) -> str | None:
    """The first ``Version:`` header (any case, as the email parser finds it); None when absent or folded."""
    text = found.read_text("METADATA") or found.read_text("PKG-INFO")
    if not text:
        return None
    lines = text.split("\n")
    for i, line in enumerate(lines):
        line = line.rstrip("\r")
        if not line:
            return None  # end of the headers
        if line[:1] in (" ", "\t"):
            continue  # the continuation of another header
        name, colon, value = line.partition(":")
        if not colon or not name or not all("!" <= ch <= "~" for ch in name):
            return None  # not a header line: the email parser's rules decide
        if name.lower() == "version":
            following = lines[i + 1] if i + 1 < len(lines) else ""
            if following[:1] in (" ", "\t"):
                return None  # a folded header: left to the email parser
            return value.lstrip(" \t") or None
    return None


@functools.lru_cache(maxsize=1)
def regsuite_version() -> str:
    return _version("regsuite") or "0+unknown"


@functools.lru_cache(maxsize=1)
def libraries() -> str:
    return json.dumps({d: v for d in TRACKED if (v := _version(d))}, sort_keys=True)


@functools.lru_cache(maxsize=1)
def git_sha() -> str | None:
    """The revision of the regsuite checkout, when running from one."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    sha = out.stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=here, capture_output=True, text=True, check=False
    )
    return sha + ("-dirty" if dirty.stdout.strip() else "")


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device) -> str:
    if getattr(device, "type", "cpu") == "cuda":
        import torch

        return torch.cuda.get_device_name(device)
    return f"cpu ({cpu_model()})"


@functools.lru_cache(maxsize=1)
def static_fields() -> dict:
    return {
        "cpu": cpu_model(),
        "host": socket.gethostname(),
        "python_version": platform.python_version(),
        "torch_version": _version("torch"),
        "regsuite_version": regsuite_version(),
        "libraries": libraries(),
        "git_sha": git_sha(),
    }
