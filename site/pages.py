"""The context each template receives: plain values, never markup (the templates escape everything)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pandas as pd

from regsuite.suite_scores import TAU_GRID

from .curves import label_text as _plotly_text, style
from .data import SiteData, boards, slug
from .method_page import claims, method  # noqa: F401  (the method and claims pages' contexts)
from .overview import best_cards, board_key, coverage
from .provenance import row_provenance
from .recorded import recorded


def _pairs(counter: Counter) -> list[tuple[str, int]]:
    return sorted(((str(k), v) for k, v in counter.items()), key=lambda kv: (-kv[1], kv[0]))


def overview(data: SiteData) -> dict:
    runs = data.runs
    suites = []
    for name in data.suites():
        part = runs[runs["suite"] == name]
        info = data.suite_info(name)
        suites.append(
            {
                "name": name,
                "slug": slug(name),
                "description": info.description if info is not None else "",
                "versions": ", ".join(sorted(set(part["suite_version"]))),
                "tiers": ", ".join(sorted(set(part["tier"]))),
                "tasks": part["task"].nunique(),
                "methods": part["method"].nunique(),
                "runs": len(part),
                "updated": part["finished_at"].max(),
            }
        )
    tasks_of = runs.groupby("method")["task"].nunique().to_dict()
    methods = []
    for name in data.methods():
        cls = data.method_info(name)
        methods.append({
            "name": name, "slug": slug(name), "family": cls.family if cls is not None else "",
            "citation": cls.citation.short() if cls is not None and cls.citation else "",
            "summary": cls.summary() if cls is not None else "", "tasks": tasks_of.get(name, 0),
        })
    return {
        "suites": suites,
        "methods": [m for m in methods if m["tasks"]],
        "idle_methods": [m for m in methods if not m["tasks"]],
        "coverage": coverage(data),
        "cards": best_cards(data, data.scores()),
        "n_methods": runs["method"].nunique(),
        "n_tasks": runs["task"].nunique(),
        "n_runs": len(runs),
        "n_ok": int((runs["status"] == "ok").sum()),
        "updated": runs["finished_at"].max(),
    }


def suite(data: SiteData, name: str) -> dict:
    info = data.suite_info(name)
    part = data.agg[data.agg["suite"] == name]
    tasks = []
    for key in data.tasks(name):
        t = data.task_info(key)
        tasks.append({"key": key, "slug": slug(key), "description": t.description if t is not None else "",
                      "baseline": t.baseline if t is not None else None})
    bs = sorted(boards(part, data.scores()), key=lambda b: board_key(b["version"], b["tier"], b["protocol"]))
    runs = data.runs[data.runs["suite"] == name]
    machines = {}
    for (version, tier, protocol), grp in runs.groupby(["suite_version", "tier", "protocol"], sort=False):
        machines[(version, tier, protocol)] = sorted(
            {f"{d} · {c}" if isinstance(c, str) and c else str(d)
             for d, c in zip(grp["device"].fillna("unknown"), grp["cpu"].fillna(""))})
    for b in bs:
        b["machines"] = machines.get((b["version"], b["tier"], b["protocol"]), [])
    return {
        "name": name,
        "description": info.description if info is not None else "",
        "boards": bs,
        "tiers": sorted({b["tier"] for b in bs}),
        "versions": sorted({b["version"] for b in bs}),
        "tasks": tasks,
        "task_meta": {r.task: (r.metric, r.direction) for r in part.itertuples(index=False)},
        "profiles": [{"id": b["id"], "label": f"tier {b['tier']} · version {b['version']}"
                      + ("" if b["protocol"] == "default" else f" · protocol {b['protocol']}"),
                      "traces": [{"label": r["method"], "name": _plotly_text(r["method"]), "y": r["profile"],
                                  **style(i)} for i, r in enumerate(x for x in b["rows"] if x["profile"])]}
                     for b in bs if not b["pipeline"]],
        "tau": [round(t, 3) for t in TAU_GRID],
    }


def _hparams_text(blob: str | None) -> str:
    if not blob:
        return ""
    try:
        hp = json.loads(blob)
    except ValueError:
        return str(blob)
    if not isinstance(hp, dict):
        return str(hp)
    parts = []
    for comp, values in hp.items():
        if isinstance(values, dict) and values:
            parts.append(f"{comp}: " + ", ".join(f"{k}={v}" for k, v in values.items()))
        else:
            parts.append(f"{comp}: —")
    return "; ".join(parts)


def _value(x):
    """Missing values (None, NaN, pandas NA) become None, so templates test one thing."""
    if x is None or isinstance(x, str):
        return x
    if isinstance(x, float):
        return None if x != x else x
    try:
        return None if pd.isna(x) else x
    except (TypeError, ValueError):
        return x


RUN_COLUMNS = ["run_id", "method", "seed", "status", "primary_value", "hparams", "step_time_ms", "state_mem_mb",
               "wall_s", "suite_version", "protocol", "device", "git_sha", "finished_at", "error"]


def _board_rows(grp: pd.DataFrame, prov: dict, key: str, parquet: str) -> list[dict]:
    rows = []
    for r in grp.sort_values(["reference", "rank", "method"]).itertuples(index=False):
        row = r._asdict()
        p = prov.get((key, r.tier, r.suite_version, r.protocol, r.method), {})
        row.update(command=p.get("command", ""), machines=p.get("machines", []), dirty=p.get("dirty", False),
                   shas=p.get("shas", []), note=p.get("note", ""), parquet=parquet)
        rows.append(row)
    return rows


def budget_curves_of(data: SiteData, key: str) -> list[dict]:
    """Expected best-of-k test score per method, from this task's tuning trials (empty without trials)."""
    from regsuite.tuning_curves import budget_curves

    if data.trials is None or not len(data.trials) or data.registry is None:
        return []
    trials = data.trials[data.trials["task"] == key]
    if not len(trials):
        return []
    curves = budget_curves(trials, {key: data.task_info(key)} if data.task_info(key) is not None else {})
    out = []
    for tier, part in curves.groupby("tier", sort=True):
        methods = []
        for i, (method, line) in enumerate(part.groupby("method", sort=True)):
            line = line.sort_values("k")
            methods.append({"method": method, "k": line["k"].tolist(),
                            "test": [None if pd.isna(v) else float(v) for v in line["expected_test"]],
                            "validation": [None if pd.isna(v) else float(v) for v in line["expected_validation"]]})
        kmax = int(part["k"].max())
        out.append({"tier": tier, "metric": part["metric"].iloc[0], "validation_metric": part["validation_metric"].iloc[0],
                    "methods": methods, "ks": list(range(1, kmax + 1))})
    return out


def task(data: SiteData, key: str, figures: list[dict], runs: pd.DataFrame) -> dict:
    t = data.task_info(key)
    part = data.agg[data.agg["task"] == key]
    prov = row_provenance(runs)
    parquet = f"../data/tasks/{slug(key)}.parquet"
    tables = []
    for (version, tier, protocol), grp in part.groupby(["suite_version", "tier", "protocol"], sort=True):
        tables.append({"version": version, "tier": tier, "protocol": protocol, "pipeline": tier == "smoke",
                       "id": f"board-{slug(tier)}-{slug(version)}-{slug(protocol)}",
                       "rows": _board_rows(grp, prov, key, parquet),
                       "ranked": int((~grp["reference"].astype(bool)).sum())})
    tables.sort(key=lambda t: board_key(t["version"], t["tier"], t["protocol"]))
    run_rows = []
    for r in runs.sort_values(["method", "protocol", "seed"]).itertuples(index=False):
        row = {c: _value(getattr(r, c)) for c in RUN_COLUMNS}
        row["hparams"] = _hparams_text(row["hparams"])
        error = (row["error"] or "").strip()
        row["error"] = error.splitlines()[-1][:200] if error else ""
        row["dirty"] = str(row["git_sha"] or "").endswith("-dirty")
        run_rows.append(row)
    first = runs.iloc[0]
    return {
        "key": key,
        "suite": first["suite"],
        "suite_slug": slug(first["suite"]),
        "description": t.description if t is not None else "",
        "baseline": t.baseline if t is not None else None,
        "metric": first["primary_metric"],
        "direction": first["primary_direction"],
        "secondary": list(t.secondary) if t is not None else [],
        "budget": t.budget if t is not None else None,
        "target": t.target.describe() if t is not None and getattr(t, "target", None) is not None else "",
        "tables": tables,
        "curves": figures,
        "recorded": sorted(recorded(runs, first["primary_metric"], list(t.secondary) if t is not None else None),
                           key=lambda b: board_key(b["version"], b["tier"], b["protocol"])),
        "budget_curves": budget_curves_of(data, key),
        "parquet": parquet,
        "runs": run_rows,
    }


def methodology(data: SiteData, downloads: list[dict]) -> dict:
    runs = data.runs
    metrics = []
    for key in data.tasks():
        t = data.task_info(key)
        rows = runs[runs["task"] == key]
        logged = set()
        for blob in rows["metrics"].drop_duplicates():
            if blob:
                logged.update(json.loads(blob))
        metrics.append({
            "task": key, "slug": slug(key), "metric": rows["primary_metric"].iloc[0],
            "direction": rows["primary_direction"].iloc[0], "baseline": t.baseline if t is not None else None,
            "validation": (f"{t.validation.name} ({t.validation.direction})" if t is not None and t.validation
                           else None),
            "budget": t.budget if t is not None else None, "recorded": sorted(logged),
        })
    libraries: dict[str, Counter] = {}
    for blob, count in runs["libraries"].value_counts().items():
        for lib, version in (json.loads(blob) if blob else {}).items():
            libraries.setdefault(lib, Counter())[version] += count
    plugins = Counter()
    for blob, count in runs["plugins"].value_counts().items():
        for p in json.loads(blob) if blob else []:
            plugins[f"{p.get('distribution') or p.get('name')} {p.get('version') or ''}".strip()] += count
    provenance = {
        col: _pairs(Counter(runs[col].fillna("unknown")))
        for col in ["device", "cpu", "python_version", "torch_version", "regsuite_version", "git_sha"]
    }
    return {
        "metrics": metrics,
        "protocols": _pairs(Counter(runs["protocol"])),
        "statuses": _pairs(Counter(runs["status"])),
        "provenance": provenance,
        "libraries": sorted((lib, _pairs(c)) for lib, c in libraries.items()),
        "plugins": _pairs(plugins),
        "downloads": downloads,
        "stores": [str(p) for p in data.stores],
        "protocol_html": protocol_html(),
    }


PROTOCOL_DOC = Path(__file__).resolve().parents[1] / "docs" / "protocol.md"


def protocol_html(path: Path = PROTOCOL_DOC):
    """docs/protocol.md as HTML (CommonMark with tables; raw HTML in it is escaped, not passed through).

    None when the file is not there (an install without the repository's docs/).
    """
    from markdown_it import MarkdownIt
    from markupsafe import Markup

    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    # Headings one level down (the page has its own h1) so the outline stays valid.
    body = md.render(text)
    for level in (5, 4, 3, 2, 1):
        body = body.replace(f"<h{level}>", f"<h{level + 1}>").replace(f"</h{level}>", f"</h{level + 1}>")
    return Markup(body.replace("<table>", '<div class="scroll"><table>').replace("</table>", "</table></div>"))
