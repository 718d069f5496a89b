"""The results store at 100,000 runs: `regsuite results`, and a fully cached re-check of a 1,000-run plan.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/store_scale.py [--runs 100000] [--recent 200] [--repeat 3]

Set-up (not timed): 100,000 synthetic runs (site/synthetic.py: 5 suites x 10 tasks, 2 curve points each)
are written in files of 2,000 rows and compacted the way a bench's appends would be; then the 1,000 runs of
a real plan (faults/probe, probe-opt, seeds 0..999: rows cloned from one real run with each spec's run id and
seed) and ``--recent`` more single-run files, which automatic compaction has not merged yet, as a live store
would have. Timed, each as a fresh process (imports included), median of ``--repeat``:

* ``regsuite results --results DIR`` (target <= 2 s): reads, validates, deduplicates and scores 101,000 rows;
* ``regsuite -p faultplugin bench --task faults/probe --method probe-opt --seeds 1000 --out DIR`` with every
  run cached (target <= 1 s): plans, asks the store which runs are finished, prints the plan's table.

Also timed in process: ``Store.finished_ids()`` on a fresh Store, ``Store.runs(plan_ids)``, ``Store.runs()``,
and ``scoring.aggregate`` / ``format_table`` over all rows, without baselines (as ``results`` sees the synthetic
tasks, which no registry knows) and with one per task (``sgd``, 400 Welch tests against it per task).

Each command runs once untimed first, with bytecode caching on (``PYTHONDONTWRITEBYTECODE`` removed from the
children's environment): a user's imports come from ``__pycache__``; compiling regsuite's modules on every
start would add about 0.2 s that no user pays. The load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent / "tests"
REGSUITE = [sys.executable, "-c", "from regsuite.cli import main; main()"]


def setup(root: Path, runs: int, recent: int) -> list[str]:
    sys.path.insert(0, str(TESTS))
    from regsuite.plan import build_plan
    from regsuite.registry import build_registry
    from regsuite.runner import execute_run
    from regsuite.site.synthetic import write_synthetic
    from regsuite.store import Store
    from regsuite.store_compact import compact

    write_synthetic(root, runs, curve_points=2, chunk=2_000)
    compact(Store(root), full=True)
    reg = build_registry(["faultplugin"])
    plan = build_plan(reg, tasks=["faults/probe"], methods=["probe-opt"], seeds=1000).runs
    template, curves = execute_run(reg, plan[0])
    rows = [dict(template, run_id=spec.run_id, seed=spec.seed) for spec in plan]
    store = Store(root)
    store.append(rows[: len(rows) - recent], [dict(c, run_id=s.run_id) for s in plan[: len(plan) - recent]
                                              for c in curves])
    for spec, row in zip(plan[len(plan) - recent:], rows[len(rows) - recent:]):
        store.append([row], [dict(c, run_id=spec.run_id) for c in curves])
    return [spec.run_id for spec in plan]


def child_cpu() -> float:
    import resource

    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def in_process_scoring(runs, repeat: int) -> None:
    from regsuite.scoring import aggregate, format_table

    baselines = {task: "sgd" for task in set(runs["task"])}
    for label, base in [("no baselines", {}), ("a baseline per task", baselines)]:
        cpus, fmt = [], []
        for _ in range(repeat):
            c0 = time.process_time()
            agg = aggregate(runs, base)
            c1 = time.process_time()
            format_table(agg)
            cpus.append(c1 - c0)
            fmt.append(time.process_time() - c1)
        print(f"in process: aggregate() over {len(runs)} rows, {label}: {statistics.median(cpus):.3f} s CPU; "
              f"format_table(): {statistics.median(fmt):.3f} s CPU ({len(agg)} rows)")


def timed(cmd: list[str], repeat: int, env: dict, limit: float) -> tuple[float, float, str]:
    """Median wall and CPU seconds of ``cmd`` (CPU time: what a busy shared machine distorts least)."""
    times, cpus, out = [], [], ""
    try:  # untimed: writes __pycache__ and warms the page cache, as any earlier use of the store would
        subprocess.run(cmd, capture_output=True, env=env, timeout=limit)
    except subprocess.TimeoutExpired:
        return float("inf"), float("inf"), f"did not finish in {limit:.0f} s"
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), child_cpu()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=limit)
        except subprocess.TimeoutExpired:
            return float("inf"), float("inf"), f"did not finish in {limit:.0f} s"
        times.append(time.perf_counter() - t0)
        cpus.append(child_cpu() - c0)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd[3:])} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
        out = proc.stderr
    return statistics.median(times), statistics.median(cpus), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--recent", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--store", type=Path, default=None, help="Keep the store here (reused if it exists).")
    parser.add_argument("--limit", type=float, default=120.0, help="Give up on one command after this many s.")
    args = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    env.setdefault("OMP_NUM_THREADS", "1")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.store or Path(tmp) / "store"
        t0 = time.perf_counter()
        ids_file = root / "plan_ids.txt"
        if not ids_file.exists():
            plan_ids = setup(root, args.runs, args.recent)
            ids_file.write_text("\n".join(plan_ids))
        plan_ids = ids_file.read_text().split()
        files = len(list((root / "runs").glob("*.parquet")))
        print(f"set-up: {args.runs} + 1000 runs in {files} runs files, {time.perf_counter() - t0:.1f} s (not timed)")

        from regsuite.store import Store

        Store(root).finished_ids()  # first use: imports (pyarrow.compute, ...) are not the store's cost
        for label, call in [("finished_ids()", lambda: Store(root).finished_ids()),
                            ("runs(plan ids)", lambda: Store(root).runs(plan_ids)),
                            ("runs() [the store's part of `results`]", lambda: Store(root).runs())]:
            walls, cpus = [], []
            for _ in range(args.repeat):
                t0, c0 = time.perf_counter(), time.process_time()
                got = call()
                walls.append(time.perf_counter() - t0)
                cpus.append(time.process_time() - c0)
            print(f"in process: {label}: {statistics.median(walls):.3f} s wall, {statistics.median(cpus):.3f} s CPU "
                  f"({len(got)} rows/ids)")
        in_process_scoring(Store(root).runs(), args.repeat)

        print(f"load average (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
        t_results, c_results, err = timed([*REGSUITE, "results", "--results", str(root)], args.repeat, env,
                                          args.limit)
        print(f"regsuite results (101,000 runs): {t_results:.2f} s wall, {c_results:.2f} s CPU, median of "
              f"{args.repeat} (target <= 2 s) {err.strip()[-100:] if t_results == float('inf') else ''}")
        bench = [*REGSUITE, "-p", "faultplugin", "bench", "--task", "faults/probe", "--method", "probe-opt",
                 "--seeds", "1000", "--out", str(root), "--quiet"]
        t_bench, c_bench, err = timed(bench, args.repeat, env, args.limit)
        summary = next((ln for ln in err.splitlines() if ln.startswith("1000 runs:")), err.strip()[-200:])
        print(f"cached re-check of a 1,000-run plan: {t_bench:.2f} s wall, {c_bench:.2f} s CPU, median of "
              f"{args.repeat} (target <= 1 s): "
              f"{summary}")


if __name__ == "__main__":
    main()
