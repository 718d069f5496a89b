"""``regsuite plugin new`` and ``regsuite plugin check``: start and verify a plugin package."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from .errors import UsageError

NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

# template file -> path in the new package ({module} is replaced)
FILES = {
    "pyproject.toml.j2": "pyproject.toml",
    "module.py.j2": "{module}/__init__.py",
    "test_module.py.j2": "tests/test_{module}.py",
    "README.md.j2": "README.md",
    "workflow.yml.j2": ".github/workflows/tests.yml",
}


def render_plugin(name: str, directory: Path) -> list[Path]:
    """Write a ready plugin package for method ``name`` into ``directory``; return the files written."""
    import jinja2

    from .provenance import regsuite_version

    if not NAME_RE.match(name):
        raise UsageError(f"plugin name {name!r} must be lowercase letters and digits, words joined by '-'")
    if len(name) > 64:  # it becomes a directory, a distribution and a module name
        raise UsageError(f"plugin name is {len(name)} characters long; use at most 64")
    if directory.exists() and any(directory.iterdir()):
        raise UsageError(f"{directory} exists and is not empty; choose another --dir")
    module = "regsuite_" + name.replace("-", "_")
    values = {
        "name": name,
        "module": module,
        "distribution": f"regsuite-{name}",
        "class_name": "".join(part.capitalize() for part in name.split("-")),
        "regsuite_version": regsuite_version().split("+")[0],
        "torch_version": _torch_version(),
    }
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("regsuite", "templates/plugin"),
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # code and TOML, not HTML; values are validated by NAME_RE
    )
    written = []
    try:
        for template, target in FILES.items():
            path = directory / target.format(module=module)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(env.get_template(template).render(**values), encoding="utf-8")
            written.append(path)
    except OSError as exc:  # a full disk, a read-only folder, a name the file system refuses
        for path in written:
            path.unlink(missing_ok=True)
        raise UsageError(f"could not write the plugin to {directory}: {exc.strerror or exc}") from None
    return written


def _torch_version() -> str:
    """The torch release regsuite pins (its pyproject.toml), else the one installed here: the
    plugin's CI installs its CPU build before regsuite, so pip does not fetch a CUDA build."""
    import re
    from importlib.metadata import PackageNotFoundError, requires, version

    for requirement in requires("regsuite") or ():
        pinned = re.fullmatch(r"torch\s*==\s*([\w.]+)", requirement.split(";")[0].strip())
        if pinned:
            return pinned.group(1)
    try:
        return version("torch").split("+")[0]
    except PackageNotFoundError:
        raise UsageError("torch is not installed, and regsuite pins no torch version") from None


@click.group("plugin")
def plugin_group():
    """Create and check method plugins."""


@plugin_group.command("new")
@click.argument("name")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the package (default: ./regsuite-NAME).")
@click.pass_obj
def plugin_new(obj, name, directory):
    """Write a ready plugin package for a method called NAME."""
    if obj is not None and NAME_RE.match(name) and name in obj.registry.methods:
        owner = obj.registry.method_plugin.get(name, "an installed plugin")
        raise UsageError(f"a method called {name!r} already exists (from {owner}); choose another name")
    directory = directory or Path(f"regsuite-{name}")
    files = render_plugin(name, directory)
    for path in files:
        click.echo(f"wrote {path}")
    click.echo(f"\nnext: pip install -e '{directory}[test]' && pytest {directory} && regsuite list methods")


@plugin_group.command("check")
@click.argument("plugin", required=False)
@click.option("--method", "methods", multiple=True, help="Check these methods instead of a whole plugin.")
@click.option("--task", default=None, help="Smoke task to run on (default: the first compatible one).")
@click.pass_obj
def plugin_check(obj, plugin, methods, task):
    """Run the conformance checks for PLUGIN's methods (entry-point or distribution name).

    Without PLUGIN, checks every method of every plugin not shipped with regsuite. A plugin that
    failed to load, had something left out, or provides a name another plugin provides too fails
    (exit 1) with the reason.
    """
    from .testing import CHECKS, conformance, plugin_problems

    reg = obj.registry
    broken: list[str] = []
    if not plugin and not methods:
        third = sorted(m for m, p in reg.method_plugin.items()
                       if next(i for i in reg.loaded.plugins if i.name == p).distribution != "regsuite")
        broken = plugin_problems(reg)
        if not third and not broken:
            raise UsageError("no third-party plugin is installed; name a plugin or --method to check")
        methods = tuple(third)
    elif plugin and not methods:
        broken = plugin_problems(reg, plugin)
    results = conformance(methods, plugin if not methods else None, task, reg=reg) if methods or plugin else []
    by_method: dict[str, dict[str, object]] = {}
    for r in results:
        by_method.setdefault(r.method, {})[r.check] = r
    if by_method:
        width = max(len(m) for m in by_method)
        click.echo(f"{'method':<{width}}  " + "  ".join(CHECKS))
        for method, checks in by_method.items():
            cells = [("ok" if checks[c].ok else "FAIL").ljust(len(c)) for c in CHECKS]
            click.echo(f"{method:<{width}}  " + "  ".join(cells).rstrip())
    failed = [r for r in results if not r.ok]
    for line in broken:
        click.echo(f"FAIL {line}")
    for r in failed:
        click.echo(f"FAIL {r.method} {r.check}: {r.detail}")
    tail = f", {len(broken)} plugin problems" if broken else ""
    click.echo(f"{len(by_method)} methods, {len(results) - len(failed)} checks passed, {len(failed)} failed{tail}")
    if failed or broken:
        sys.exit(1)
