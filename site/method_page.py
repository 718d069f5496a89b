"""Method pages and the claims page: what a method is, how it was tuned, and its paper's claims vs ours.

A method page shows the docstring (summary, then the rest: the update rule or equation as the
author wrote it), its fidelity to the source, defaults and search space, the hyperparameters the
tuning protocol selected on each task (from ``tuning/selections/*.json``), its results, and each
claim of its paper next to what this benchmark measured (:func:`regsuite.claims.assess`).
"""

from __future__ import annotations

import inspect
import json
import math

from .data import SiteData, slug

VERDICT_CLASS = {"consistent": "v-ok", "smaller": "v-small", "not reproduced": "v-no",
                 "not measurable here": "v-na"}


def _hp_list(hparams) -> list[str]:
    if not isinstance(hparams, dict):
        return []
    out = []
    for comp, values in sorted(hparams.items()):
        if isinstance(values, dict):
            out += [f"{comp}.{k}={v}" for k, v in sorted(values.items())]
    return out


def selections_of(data: SiteData, name: str) -> list[dict]:
    rows = []
    with_pages = set(data.tasks())
    for rec in data.selections:
        if rec.get("method") != name:
            continue
        selected = rec.get("selected") or {}
        vmetric = rec.get("validation_metric") or ""
        value = selected.get(vmetric) if isinstance(selected, dict) else None
        rows.append({
            "task": rec["task"], "task_page": rec["task"] in with_pages, "protocol": str(rec.get("protocol", "")),
            "trials": rec.get("trials"),
            "validation_metric": str(vmetric),
            "validation": value if isinstance(value, (int, float)) and not isinstance(value, bool) else None,
            "hparams": _hp_list(selected.get("hparams")) if isinstance(selected, dict) else [],
            "note": str(selected.get("note", "")) if isinstance(selected, dict) else "",
            "selected": bool(selected),
            "space": [f"{k}: {v}" for k, v in sorted((rec.get("space") or {}).items())]
            if isinstance(rec.get("space"), dict) else [],
        })
    return sorted(rows, key=lambda r: (r["task"], r["protocol"]))


def assessments(data: SiteData, name: str, cls) -> list[dict]:
    from regsuite.claims import assess

    tasks = dict(data.registry.tasks) if data.registry is not None else {}
    with_pages = set(data.tasks())
    out = []
    for claim in getattr(cls, "claims", ()) or ():
        a = assess(claim, name, data.runs, tasks)
        out.append({
            "method": name, "quote": claim.quote, "kind": claim.kind.replace("_", " "), "value": claim.value,
            "bound": "at most" if claim.bound == "at_most" else "at least", "setting": claim.setting,
            "task": claim.task, "task_page": claim.task in with_pages, "versus": claim.versus or (tasks[claim.task].baseline if claim.task in tasks else None),
            "verdict": a.verdict, "verdict_class": VERDICT_CLASS.get(a.verdict, "v-na"),
            "measured": None if math.isnan(a.measured) else a.measured,
            "low": None if math.isnan(a.low) else a.low, "high": None if math.isnan(a.high) else a.high,
            "n": a.n, "note": a.note,
        })
    return out


def _docstring_body(cls) -> str:
    """The docstring after its first line: the update rule, equation and notes as the author wrote them."""
    doc = inspect.cleandoc(cls.__doc__ or "")
    lines = doc.splitlines()
    return "\n".join(lines[1:]).strip() if len(lines) > 1 else ""


def method(data: SiteData, name: str) -> dict:
    cls = data.method_info(name)
    components = name.split("+") if "+" in name else []
    known = set(data.methods())
    info = None
    if cls is not None:
        fidelity = getattr(cls, "fidelity", None)
        info = {
            "family": cls.family,
            "version": cls.version,
            "summary": cls.summary(),
            "body": _docstring_body(cls),
            "citation": cls.citation,
            "fidelity": fidelity.describe() if fidelity is not None else "",
            "fidelity_kind": fidelity.kind if fidelity is not None else "",
            "reference": getattr(cls, "reference", None) or "",
            "requires": sorted(cls.requires),
            "params": [
                {"name": k, "default": v, "space": cls.space[k].describe() if k in cls.space else "fixed"}
                for k, v in cls.defaults.items()
            ],
            "plugin": data.registry.method_plugin.get(name, "") if data.registry is not None else "",
        }
    part = data.agg[data.agg["method"] == name]
    results = list(part.sort_values(["suite", "task", "tier", "protocol"]).itertuples(index=False))
    sizes = data.agg.groupby(["suite", "suite_version", "task", "tier", "protocol"], dropna=False).size()
    of = [int(sizes[(r.suite, r.suite_version, r.task, r.tier, r.protocol)]) for r in results]
    recorded = data.runs.loc[data.runs["method"] == name, "components"]
    try:
        resolved = json.loads(recorded.iloc[0]) if len(recorded) and recorded.iloc[0] else []
    except ValueError:
        resolved = []
    return {
        "name": name,
        "info": info,
        "components": [{"name": c, "slug": slug(c), "known": c in known} for c in components],
        "results": list(zip(results, of)),
        "resolved": [str(c) for c in resolved] if isinstance(resolved, list) else [],
        "selections": selections_of(data, name),
        "claims": assessments(data, name, cls) if cls is not None else [],
    }


def claims(data: SiteData) -> dict:
    rows = []
    for name in data.methods():
        cls = data.method_info(name)
        if cls is not None:
            rows += assessments(data, name, cls)
    counts = {v: sum(r["verdict"] == v for r in rows) for v in VERDICT_CLASS}
    return {"claims": rows, "counts": counts}
