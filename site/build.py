"""Render the static leaderboard: Jinja2 templates (autoescape on), static assets, data downloads.

Layout of the built site::

    index.html  methodology.html  claims.html  suites/<suite>.html  tasks/<task>.html  methods/<method>.html
    static/site.css  static/site.js  static/plotly.min.js (from the installed plotly wheel: no CDN)
    data/runs.parquet  data/curves.parquet  data/runs.csv  data/curves.csv  data/leaderboard.csv
    data/tasks/<task>.parquet (one task's run rows: what each board row links to)

Every string that comes from a plugin or a results file reaches the page
through autoescaping; JSON embedded in ``<script>`` goes through
:func:`script_json`, which escapes ``<``, ``>`` and ``&``.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import jinja2
import pandas as pd
from markupsafe import Markup

from . import pages
from .curves import task_curves
from .data import load, slug

HERE = Path(__file__).resolve().parent


@dataclass
class BuildReport:
    pages: int = 0
    runs: int = 0
    problems: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ filters


def script_json(value) -> Markup:
    """JSON safe inside a ``<script type="application/json">`` element: no tag or entity can close it."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=False, default=str)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _nan(x) -> bool:
    """None, NaN and pandas' NA (a nullable integer rank) all print as a dash."""
    if x is None:
        return True
    if isinstance(x, (float, int)):
        return x != x
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def pm(mean, ci, digits: int = 4) -> str:
    if _nan(mean):
        return "—"
    return f"{mean:.{digits}f}" if _nan(ci) else f"{mean:.{digits}f} ± {ci:.{digits}f}"


def primary(row) -> str:
    """A board cell: mean ± CI; with censored seeds (a time to target never reached, entered at the
    budget) a lower bound "≥ ..." and how many seeds reached it; "not reached in N" when none did."""
    def get(key):
        return row.get(key) if isinstance(row, dict) else getattr(row, key, None)

    censored = get("censored")
    censored = 0 if _nan(censored) else int(censored)
    text = pm(get("mean"), get("ci95"))
    if not censored:
        return text
    n = int(get("n"))
    if censored >= n:
        return f"not reached in {float(get('mean')):,.0f} (0/{n} reached)"
    return f"≥ {text} ({n - censored}/{n} reached)"


def num(x, fmt: str = ".4g") -> str:
    return "—" if _nan(x) else format(float(x), fmt)


def pct(x) -> str:
    return "—" if _nan(x) else f"{float(x):+.2f}%"


def ratio(x) -> str:
    return "—" if _nan(x) else f"{float(x):.2f}×"


def sortval(x) -> str:
    """The data-sort attribute of a numeric cell; empty sorts last."""
    return "" if _nan(x) else repr(float(x))


def when(stamp) -> str:
    """An ISO 8601 time as ``YYYY-MM-DD HH:MM UTC`` (left as given when it does not parse)."""
    from datetime import datetime, timezone

    try:
        moment = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return str(stamp)
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def safe_url(url) -> str | None:
    """Only http(s) links from plugin metadata become hrefs (no javascript: or data: URLs)."""
    if not isinstance(url, str):
        return None
    return url if urlparse(url.strip()).scheme in ("http", "https") else None


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(script_json=script_json, pm=pm, primary=primary, num=num, pct=pct, ratio=ratio, sortval=sortval, slug=slug,
                       safe_url=safe_url, when=when)
    return env


# ------------------------------------------------------------------ assets and downloads


def plotly_bundle() -> Path:
    """The plotly.js bundle shipped inside the plotly wheel (found without importing plotly)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the plotly package is not installed (pip install plotly)")
    path = Path(list(spec.submodule_search_locations)[0]) / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise RuntimeError(f"the plotly wheel has no JavaScript bundle at {path}")
    return path


def write_downloads(data, out: Path) -> list[dict]:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from regsuite.store import CURVES_SCHEMA, META_TABLE, META_VERSION, RUNS_SCHEMA, SCHEMA_VERSION, runs_table

    folder = out / "data"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, df, schema, about in [
        ("runs", data.runs, RUNS_SCHEMA, "one row per run: configuration, status, metrics, cost, provenance"),
        ("curves", data.curves, CURVES_SCHEMA, "per-step values logged by every run"),
    ]:
        if name == "runs":  # metrics are typed on disk (a map), JSON text in memory
            table = runs_table(df)
        else:
            table = pa.Table.from_pandas(df[schema.names], schema=schema, preserve_index=False)
        table = table.replace_schema_metadata({META_VERSION: SCHEMA_VERSION.encode(), META_TABLE: name.encode()})
        pq.write_table(table, folder / f"{name}.parquet")
        if "metrics" in table.column_names:  # CSV has no map type: metrics as JSON text there
            i = table.column_names.index("metrics")
            table = table.set_column(i, "metrics", pa.array(df["metrics"].tolist(), pa.string()))
        pacsv.write_csv(table, folder / f"{name}.csv")
        written += [
            {"file": f"data/{name}.parquet", "about": about + " (Parquet, regsuite store schema)"},
            {"file": f"data/{name}.csv", "about": about + " (CSV)"},
        ]
    data.agg.to_csv(folder / "leaderboard.csv", index=False)
    written.append({"file": "data/leaderboard.csv", "about": "the aggregate: mean, 95% CI, rank, delta, cost ratios"})
    for item in written:
        item["size"] = _size((out / item["file"]).stat().st_size)
    return written


def write_task_rows(data, out: Path) -> None:
    """``data/tasks/<task>.parquet``: each task's run rows, the file a board row links to."""
    import pyarrow.parquet as pq

    from regsuite.store import META_TABLE, META_VERSION, SCHEMA_VERSION, runs_table

    folder = out / "data" / "tasks"
    folder.mkdir(parents=True, exist_ok=True)
    for key, runs in data.runs.groupby("task", sort=True):
        table = runs_table(runs.reset_index(drop=True))
        table = table.replace_schema_metadata({META_VERSION: SCHEMA_VERSION.encode(), META_TABLE: b"runs"})
        pq.write_table(table, folder / f"{slug(key)}.parquet")


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


# ------------------------------------------------------------------ build


MARKER = ".regsuite-site"  # written into every built site: only a folder holding it is ever replaced


_LAYOUT_DIRS = {"static", "suites", "tasks", "methods", "data"}


def _legacy_site(out: Path) -> bool:
    """A site built before the marker existed: only pages and the site's own folders, with its assets."""
    names = {p.name for p in out.iterdir()}
    if not {"index.html", "methodology.html", "static"} <= names or not (out / "static" / "site.css").is_file():
        return False
    return all(n.endswith(".html") or (n in _LAYOUT_DIRS and (out / n).is_dir()) for n in names)


def _check_target(out: Path) -> None:
    """Refuse an ``--out`` that is not ours to replace: a file, or a non-empty folder that is not a site."""
    from regsuite.errors import UsageError

    if not str(out) or str(out) in (".", ""):
        raise UsageError("--out must name a folder for the site (not empty, not the current directory)")
    try:
        if out.is_symlink() or (out.exists() and not out.is_dir()):
            raise UsageError(f"--out {out} exists and is not a folder; choose another --out")
        if out.is_dir() and not (out / MARKER).is_file() and any(out.iterdir()) and not _legacy_site(out):
            raise UsageError(f"--out {out} is a folder that is not a regsuite site (no {MARKER} marker): "
                             "refusing to replace it; choose an empty or new folder")
    except OSError as exc:
        raise UsageError(f"--out {out}: {exc.strerror or exc}") from None


def build_site(results, out, registry=None) -> BuildReport:
    """Read ``results`` (store directories, or folders of them) and write the site into ``out``.

    The site is built in a hidden temporary folder beside ``out`` and swapped in only once complete, so a
    failed build leaves the previous site as it was. ``out`` is replaced only if it is empty or a site an
    earlier build wrote (it holds :data:`MARKER`); anything else is refused.
    """
    import os
    import tempfile

    from regsuite.errors import UsageError

    out = Path(out)
    _check_target(out)
    data = load(results, registry)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name[:100]}.", suffix=".building", dir=out.parent))
    except OSError as exc:
        raise UsageError(f"could not create the site folder {out}: {exc.strerror or exc}") from None
    try:
        report = _render_into(data, staging)
        (staging / MARKER).write_text("built by regsuite site build; this folder is replaced by the next build\n")
        if out.exists():
            _check_target(out)  # it may have changed while we rendered
            old = Path(tempfile.mkdtemp(prefix=f".{out.name[:100]}.", suffix=".old", dir=out.parent))
            os.replace(out, old / "site")
            os.replace(staging, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, out)
    except OSError as exc:
        raise UsageError(f"could not write the site to {out}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def _render_into(data, out: Path) -> BuildReport:
    for sub in ("static", "suites", "tasks", "methods"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(HERE / "site.css", out / "static" / "site.css")
    shutil.copyfile(HERE / "site.js", out / "static" / "site.js")
    shutil.copyfile(plotly_bundle(), out / "static" / "plotly.min.js")

    from regsuite.provenance import regsuite_version

    env = environment()
    common = {
        "nav_suites": [{"name": s, "slug": slug(s)} for s in data.suites()],
        "built_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "n_runs_total": len(data.runs),
        "version": regsuite_version(),
    }
    report = BuildReport(runs=len(data.runs), problems=list(data.problems))

    def render(template: str, path: str, title: str, **ctx) -> None:
        root = "../" * path.count("/")
        html = env.get_template(template).render(title=title, root=root, **common, **ctx)
        (out / path).write_text(html, encoding="utf-8")
        report.pages += 1

    render("index.html", "index.html", "Leaderboard", **pages.overview(data))
    for name in data.suites():
        render("suite.html", f"suites/{slug(name)}.html", f"Suite: {name}", **pages.suite(data, name))
    figures = task_curves(data.runs, data.curves)
    write_task_rows(data, out)
    for key, runs in data.runs.groupby("task", sort=True):
        ctx = pages.task(data, key, figures.get(key, []), runs)
        render("task.html", f"tasks/{slug(key)}.html", f"Task: {key}", **ctx)
    for name in data.methods():
        render("method.html", f"methods/{slug(name)}.html", f"Method: {name}", **pages.method(data, name))
    render("claims.html", "claims.html", "Claims against measurements", **pages.claims(data))
    downloads = write_downloads(data, out)
    render("methodology.html", "methodology.html", "Methodology", **pages.methodology(data, downloads))
    return report
