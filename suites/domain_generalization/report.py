"""DomainBed-style result tables for ``regsuite results --suite domain-generalization``.

One table per task and model-selection method (as DomainBed's
``collect_results.py``): a row per method, a column per held-out domain, then
``Avg`` (the mean over held-out domains) and ``Worst`` (the worst held-out
domain, a secondary metric). Cells are accuracy in % as mean ± standard error
over trials (seeds); the average and worst columns are computed per trial
first, then summarised over trials.
"""

from __future__ import annotations

import json
import math

import pandas as pd

SELECTION_TITLES = {
    "trainval": "training-domain validation",
    "lodo": "leave-one-domain-out",
    "oracle": "test-domain oracle",
}


def _domain_order(task: str, metrics: list[dict]) -> list[str]:
    from .tasks import ALL

    for cls in ALL:
        if cls.key() == task:  # the held-out domains only (the others have no accuracy of their own)
            return list(cls.test_domains or cls.domains)
    seen = []
    for m in metrics:
        for key in m:
            if key.startswith("acc_trainval@") and key.split("@", 1)[1] not in seen:
                seen.append(key.split("@", 1)[1])
    return seen


def mean_se(values) -> tuple[float, float, int]:
    vals = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    n = len(vals)
    if not n:
        return math.nan, math.nan, 0
    mean = sum(vals) / n
    if n < 2:
        return mean, math.nan, n
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1))
    return mean, sd / math.sqrt(n), n


def _cell(values) -> str:
    mean, se, n = mean_se(values)
    if not n:
        return "-"
    return f"{100 * mean:.1f} ± {100 * se:.1f}" if n > 1 else f"{100 * mean:.1f} ± -"


def tables(runs: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """``[(title, table)]``: one table per (task, protocol, selection method)."""
    out = []
    if runs is None or not len(runs):
        return out
    ok = runs[runs["status"] == "ok"]
    for (task, protocol), grp in ok.groupby(["task", "protocol"], sort=True):
        parsed = [json.loads(m) for m in grp["metrics"]]
        domains = _domain_order(task, parsed)
        grp = grp.assign(_m=parsed)
        for sel, title in SELECTION_TITLES.items():
            if not any(f"test_accuracy_{sel}" in m for m in parsed):
                continue
            rows = []
            for method, mg in grp.groupby("method", sort=True):
                ms = list(mg["_m"])
                row = {"method": method, "n": len(ms)}
                for d in domains:
                    row[d] = _cell([m.get(f"acc_{sel}@{d}") for m in ms])
                row["Avg"] = _cell([m.get(f"test_accuracy_{sel}") for m in ms])
                row["Worst"] = _cell([m.get(f"worst_domain_accuracy_{sel}") for m in ms])
                row["_sort"] = mean_se([m.get(f"test_accuracy_{sel}") for m in ms])[0]
                rows.append(row)
            table = pd.DataFrame(rows).sort_values("_sort", ascending=False).drop(columns="_sort")
            suffix = f", protocol {protocol}" if protocol != "default" else ""
            heading = (f"{task}: held-out domain accuracy (%), model selection: {title} [{sel}]{suffix}; "
                       "mean ± standard error over trials")
            out.append((heading, table.reset_index(drop=True)))
    return out


def domainbed_tables(runs: pd.DataFrame, fmt: str = "table") -> str:
    """Render every table in ``fmt`` (table, markdown, csv, json); the suite's ``report`` hook."""
    parts = tables(runs)
    if not parts:
        return "domain-generalization: no finished runs"
    if fmt == "json":
        return json.dumps([{"title": t, "rows": df.to_dict(orient="records")} for t, df in parts], indent=2)
    blocks = []
    for title, df in parts:
        if fmt == "csv":
            blocks.append(f"# {title}\n" + df.to_csv(index=False))
        elif fmt == "markdown":
            header = "| " + " | ".join(map(str, df.columns)) + " |"
            sep = "|" + "|".join("---" for _ in df.columns) + "|"
            body = ["| " + " | ".join(str(v) for v in row) + " |" for row in df.itertuples(index=False)]
            blocks.append(f"**{title}**\n\n" + "\n".join([header, sep, *body]))
        else:
            blocks.append(title + "\n" + df.to_string(index=False))
    return "\n\n".join(blocks)
