"""The leaderboard builder: pages, escaping of plugin and result strings, scores, downloads, CLI."""

from __future__ import annotations

import html
import json
import re
import shutil

import pandas as pd
import pytest
from click.testing import CliRunner

from regsuite.cli import cli
from regsuite.scoring import aggregate
from regsuite.site.build import build_site, plotly_bundle, safe_url, script_json
from regsuite.site.data import boards, find_stores, slug
from regsuite.site.synthetic import run_row
from regsuite.store import Store
from site_results import EVIL, registry, write_results


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    write_results(root / "results")
    report = build_site([root / "results"], root / "out", registry=registry())
    return root / "out", report


def pages(out):
    return {p.relative_to(out).as_posix(): p.read_text() for p in out.rglob("*.html")}


def test_every_page_is_written(site):
    out, report = site
    names = set(pages(out))
    expected = {"index.html", "methodology.html", "claims.html", "suites/suite0.html", "tasks/suite0--task-00.html",
                "tasks/suite0--task-01.html", "tasks/suite0--task-big.html", "tasks/suite0--task-tuned.html",
                "methods/sgd.html", "methods/adamw.html", "methods/tied.html", f"methods/{slug(EVIL)}.html"}
    assert names == expected and report.pages == len(expected)
    assert report.runs == 31 and not report.problems
    bundle = out / "static" / "plotly.min.js"
    assert bundle.read_bytes() == plotly_bundle().read_bytes()


def test_every_internal_link_resolves(site):
    out, _ = site
    for name, text in pages(out).items():
        for href in re.findall(r'href="([^"#]+)', text):
            href = html.unescape(href)
            if href.startswith(("http://", "https://", "data:")):
                continue
            target = (out / name).parent / href.split("?")[0]
            assert target.resolve().is_file(), f"{name} links to missing {href}"


def test_no_script_or_stylesheet_comes_from_elsewhere(site):
    for name, text in pages(site[0]).items():
        assert not re.search(r'(src|href)="(https?:)?//', text.replace('href="https://proceedings', "")), name


def test_strings_from_plugins_and_results_are_escaped(site):
    out, _ = site
    for name, text in pages(out).items():
        assert EVIL not in text, name
        assert "<img" not in text and "<b>bold" not in text and "<i>Synthetic" not in text, name
        assert not re.search(r"href=\"\s*javascript", text, re.I), name
    escaped = html.escape(EVIL, quote=False)
    assert escaped in (out / "suites" / "suite0.html").read_text()
    method_page = (out / "methods" / f"{slug(EVIL)}.html").read_text()
    assert "&lt;img src=x onerror=alert(3)&gt;" in method_page  # the title, as text and not a link
    assert "&lt;b&gt;bold&lt;/b&gt; claims from a plugin." in method_page


def test_plot_data_cannot_close_its_script_element(site):
    text = (site[0] / "tasks" / "suite0--task-00.html").read_text()
    blob = re.search(r'<script type="application/json" id="curve-data">(.*?)</script>', text, re.S).group(1)
    assert "<" not in blob and ">" not in blob and "&" not in blob
    (board,) = json.loads(blob)
    names = {trace["name"] for series in board["series"] for trace in series["traces"]}
    # plotly reads names as an HTML subset: entity-escaped, it shows the tags as text.
    assert names == {"sgd", "adamw", "&lt;script&gt;alert(1)&lt;/script&gt;"}
    labels = {trace["label"] for series in board["series"] for trace in series["traces"]}
    assert labels == {"sgd", "adamw", EVIL}  # the table alternative sets it as text
    assert {series["label"] for series in board["series"]} == {"train loss", "val test_accuracy"}


def test_script_json_escapes_markup():
    assert script_json({"a": "</script><!--&"}) == '{"a":"\\u003c/script\\u003e\\u003c!--\\u0026"}'
    with pytest.raises(ValueError):
        script_json({"x": float("nan")})  # NaN is not JSON: JSON.parse would throw in the browser


def test_slugs_are_readable_and_unique():
    assert slug("sgd") == "sgd"
    assert slug("vision/digits-mlp") == "vision--digits-mlp"
    assert re.fullmatch(r"script-alert-1-script-[0-9a-f]{8}", slug(EVIL))
    assert slug("SGD") != slug("sgd") and slug("sam+cutout") != slug("sam-cutout")
    assert "/" not in slug("../../etc/passwd") and not slug("../x").startswith(".")


def test_only_web_links_become_hrefs():
    assert safe_url("https://arxiv.org/abs/1412.6980") == "https://arxiv.org/abs/1412.6980"
    assert safe_url("javascript:alert(1)") is None
    assert safe_url(" JavaScript:alert(1)") is None
    assert safe_url("data:text/html,<script>") is None


def test_board_scores_and_ranks():
    rows = []
    for task, direction, sgd, a in [("s/t1", "max", 0.80, 0.88), ("s/t2", "min", 1.00, 0.90)]:
        for method, value, step in [("sgd", sgd, 1.0), ("a", a, 2.0 if task == "s/t1" else 0.5)]:
            rows += [run_row(f"{task}{method}{i}", "s", task, method, i, value, direction=direction,
                             step_time_ms=step) for i in range(3)]
    import pandas as pd

    (board,) = boards(aggregate(pd.DataFrame(rows), {"s/t1": "sgd", "s/t2": "sgd"}))
    assert board["tasks"] == ["s/t1", "s/t2"]
    a, sgd = board["rows"]  # sorted by performance-profile area
    assert a["method"] == "a" and a["mean_rank"] == 1.0 and sgd["mean_rank"] == 2.0
    # a is best on both tasks: area 1, wins every comparison. sgd: t1 error ratio 0.20 / 0.12 = 5/3,
    # t2 loss ratio 1.00 / 0.90 = 10/9; area = mean((4 - 5/3) / 3, (4 - 10/9) / 3)
    assert a["profile_area"] == pytest.approx(1.0) and a["win_rate"] == 1.0 and a["covered"] == 2
    assert sgd["profile_area"] == pytest.approx(((4 - 5 / 3) / 3 + (4 - 10 / 9) / 3) / 2)
    assert sgd["win_rate"] == 0.0
    assert a["step_time"] == pytest.approx(1.0)  # geometric mean of 2.0 and 0.5
    assert a["seeds"] == "3" and a["failed"] == 0


def test_downloads_round_trip_through_the_store(site, tmp_path):
    out, _ = site
    (tmp_path / "runs").mkdir()
    shutil.copy(out / "data" / "runs.parquet", tmp_path / "runs" / "runs.parquet")
    store = Store(tmp_path)
    assert len(store.runs()) == 31 and not store.problems
    assert len((out / "data" / "runs.csv").read_text().strip().splitlines()) == 32
    assert (out / "data" / "leaderboard.csv").read_text().startswith("suite,suite_version,task,tier")


def test_a_folder_of_stores_is_read_whole(tmp_path):
    for name in ("baseline", "other"):
        write_results(tmp_path / "results" / name)
    assert find_stores([tmp_path / "results"]) == [tmp_path / "results" / "baseline", tmp_path / "results" / "other"]


def test_cli_builds_and_refuses_bad_input(site, tmp_path):
    results = site[0].parent / "results"
    runner = CliRunner()
    ok = runner.invoke(cli, ["site", "build", "--no-registry", "--results", str(results), "--out", str(tmp_path / "o")])
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "o" / "index.html").is_file()
    for bad, message in [(tmp_path / "missing", "does not exist"), (tmp_path, "holds no results")]:
        result = runner.invoke(cli, ["site", "build", "--no-registry", "--results", str(bad), "--out",
                                     str(tmp_path / "o2")])
        assert result.exit_code == 2
        assert result.stderr.strip().count("\n") == 0 and message in result.stderr, result.stderr


# ------------------------------------------------------------------ issue 17: what the pages say, by hand


def _text(path) -> str:
    """A page's visible text, whitespace collapsed (script elements dropped)."""
    raw = re.sub(r"<script.*?</script>", "", path.read_text(), flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", raw)))


def test_the_reproduce_command_names_every_non_default_hyperparameter():
    from regsuite.site.provenance import bench_command, hp_overrides

    defaults = {"sgd": {"lr": 0.1, "momentum": 0.9}}
    chosen = {"sgd": {"lr": 0.05, "momentum": 0.9}, "sam": {"rho": 0.1, "adaptive": False}}
    assert hp_overrides(chosen, defaults) == ["sam.adaptive=false", "sam.rho=0.1", "sgd.lr=0.05"]
    assert hp_overrides(chosen, None) == ["sam.adaptive=false", "sam.rho=0.1", "sgd.lr=0.05", "sgd.momentum=0.9"]
    assert bench_command("vision/mnist1d-mlp", "standard", "sam", 5, ["sgd.lr=0.05"]) == (
        "regsuite bench --tier standard --task vision/mnist1d-mlp --method sam --seeds 5 --hp sgd.lr=0.05")
    # A hostile name stays one shell word.
    assert bench_command("s/t", "smoke", "x; rm -rf ~", 3, []).endswith("--method 'x; rm -rf ~' --seeds 3")


def test_task_rows_carry_their_command_cost_machine_and_dirty_flag(site):
    out, _ = site
    tuned = _text(out / "tasks" / "suite0--task-tuned.html")
    # defaults track: lr 0.1 is the default, nothing to override; the tuned row selected lr 0.05.
    assert "regsuite bench --tier full --task suite0/task-tuned --method sgd --seeds 2 copy" in tuned
    assert "regsuite bench --tier full --task suite0/task-tuned --method sgd --seeds 2 --hp sgd.lr=0.05 copy" in tuned
    big = (out / "tasks" / "suite0--task-big.html").read_text()
    row = re.search(r'<tr data-method="adamw">(.*?)</tr>', big, re.S).group(1)
    # adamw steps 2 ms against sgd's 1 ms; wall time is 0.1 x step time in the fixture.
    assert "2.00×" in row and "cpu (synthetic) · synthetic CPU" in row and "dirty tree" in row
    assert 'href="../data/tasks/suite0--task-big.parquet"' in row
    assert "dirty tree" not in re.search(r'<tr data-method="sgd">(.*?)</tr>', big, re.S).group(1)
    rows = pd.read_parquet(out / "data" / "tasks" / "suite0--task-big.parquet")
    assert sorted(rows["run_id"]) == sorted(f"std-{m}-{s}" for m in ("sgd", "adamw", "tied") for s in range(3))


def test_suite_boards_name_the_machine_their_costs_come_from(site):
    text = _text(site[0] / "suites" / "suite0.html")
    assert text.count("Cost ratios measured against the baseline in the same runs, on: cpu (synthetic) · synthetic CPU.") == 4


def test_recorded_metrics_time_to_target_and_domain_tables(site):
    text = _text(site[0] / "tasks" / "suite0--task-big.html")
    # test_ece 0.10/0.11/0.12: mean 0.11, half-width t(0.975, 2) x 0.01 / sqrt(3) = 4.3027 x 0.005774 = 0.0248.
    assert "Method test_ece adamw 0.1100 ± 0.0248" in text
    # Medians with censored seeds as +inf: adamw {40, 50, inf} -> 50; sgd {80, inf, inf} -> inf (not reached).
    assert "adamw steps 2/3 seeds 50 steps" in text
    assert "sgd steps 1/3 seeds not reached in 100 steps" in text
    assert "tied steps 3/3 seeds 95 steps" in text
    # Domain A: 0.60/0.61/0.62 -> 61.0 ± 2.5 (%); oracle's domain B is 0.82/0.83/0.84 -> 83.0.
    assert "model selection: training-domain validation Method A B Avg Worst adamw 61.0 ± 2.5 81.0 ± 2.5" in text
    assert "model selection: test-domain oracle Method A B Avg Worst adamw 61.0 ± 2.5 83.0 ± 2.5" in text
    assert "after \\ on 1 2 1 0.900 0.000 2 0.500 0.950" in text  # the accuracy matrix's table alternative


def test_tuning_budget_curve_and_selected_hyperparameters(site):
    out, _ = site
    text = _text(out / "tasks" / "suite0--task-tuned.html")
    # Trials (val, test): (0.6, 0.65), (0.7, 0.72). k=1: mean test 0.685; k=2: the better validation, 0.72.
    assert "Method k=1 k=2 sgd 0.685 0.72" in text
    method = _text(out / "methods" / "sgd.html")
    assert "suite0/task-tuned tuned:sobol-2 2 sgd.lr=0.05 val_accuracy 0.7" in method
    assert "Fidelity faithful (paper)" in method and "Update: w <- w - lr * g." in method


def test_claims_page_and_method_page_show_verdicts(site):
    out, _ = site
    text = _text(out / "claims.html")
    # 100 x (adamw - sgd) = 5 points; half-width sqrt(2) x 4.3027 x 1 / sqrt(3) = 3.513: 1.49 to 8.51 > 0 and
    # reaching the claimed 5: consistent. The ImageNet claim names no task here.
    assert "five points more accurate accuracy delta at least 5 a made-up setting suite0/task-big vs sgd 5 (1.49 to 8.51), n=3" in text
    assert "1 consistent 0 smaller 0 not reproduced 3 not measurable here" in text
    assert "suite0/task-never (no runs yet)" in text  # a page that does not exist is not linked
    assert "twice as fast on ImageNet" in _text(out / "methods" / "adamw.html")


def test_overview_cards_coverage_and_idle_methods(site):
    text = _text(site[0] / "index.html")
    # The card reads the standard board (not smoke): adamw best on task-big; Welch 95% interval of
    # 0.76 - 0.71: 0.05 ± t(0.975, 4) x sqrt(2 x 0.0001 / 3) = 0.05 ± 0.02267, over sgd's 0.71 in %.
    assert "tier standard · version 2 · protocol default Largest performance-profile area: adamw (1.00;" in text
    assert "adamw vs sgd: ▲ +7.04% (95% CI +3.85% to +10.24%), step time 2.00×, wall time 2.00×, state memory 1.00×" in text
    assert "Method suite0 Suites" in text and "tied 1/4 standard 1" in text and "sgd 4/4 full, smoke, standard 1" in text
    assert "installed methods without results" not in text  # every fixture method has results


def test_idle_methods_sit_behind_a_toggle(tmp_path):
    from site_results import Sgd

    class Idle(Sgd):
        """A method nobody ran."""

        name = "idle"

    write_results(tmp_path / "results")
    reg = registry()
    reg.methods["idle"] = Idle
    build_site([tmp_path / "results"], tmp_path / "out", registry=reg)
    page = (tmp_path / "out" / "index.html").read_text()
    toggle = re.search(r'<details class="toggle" id="idle-methods">(.*?)</details>', page, re.S).group(1)
    assert "1 installed methods without results yet" in toggle and 'href="methods/idle.html"' in toggle
    assert page.count('href="methods/idle.html"') == 1  # not in the main table


def test_smoke_boards_are_listed_by_name_not_score():
    rows = [run_row(f"{m}{i}", "s", "s/t", m, i, v + 0.001 * i) for m, v in [("b", 0.9), ("a", 0.5), ("sgd", 0.7)]
            for i in range(3)]
    (board,) = boards(aggregate(pd.DataFrame(rows), {"s/t": "sgd"}))
    assert board["pipeline"] and [r["method"] for r in board["rows"]] == ["a", "b", "sgd"]
    standard = [dict(r, tier="standard") for r in rows]
    (board,) = boards(aggregate(pd.DataFrame(standard), {"s/t": "sgd"}))
    assert not board["pipeline"] and [r["method"] for r in board["rows"]] == ["b", "sgd", "a"]


def test_the_card_reads_standard_before_full_before_smoke_and_tuned_before_defaults():
    from regsuite.site.overview import board_preference, diff_interval

    boards_ = [("1", "smoke", "default"), ("2", "standard", "default"), ("2", "standard", "tuned:sobol-6"),
               ("1", "full", "tuned:sobol-6"), ("1", "standard", "tuned:sobol-6")]
    assert board_preference(boards_) == ("2", "standard", "tuned:sobol-6")
    assert board_preference([("1", "smoke", "default"), ("1", "full", "default")]) == ("1", "full", "default")
    d, lo, hi = diff_interval([0.75, 0.76, 0.77], [0.70, 0.71, 0.72])
    assert d == pytest.approx(0.05) and hi - d == pytest.approx(2.776445 * (2 * 0.0001 / 3) ** 0.5, rel=1e-5)


def test_curves_leave_out_failed_runs_and_never_mix_tiers():
    from regsuite.site.curves import style, task_curves, thin

    runs = pd.DataFrame([
        run_row("ok1", "s", "s/t", "sgd", 0, 0.8), run_row("ok2", "s", "s/t", "sgd", 1, 0.8),
        run_row("bad", "s", "s/t", "sgd", 2, None, status="diverged"),
        run_row("std", "s", "s/t", "sgd", 0, 0.8, tier="standard"),
    ])
    values = {"ok1": 1.0, "ok2": 3.0, "bad": 1e9, "std": 100.0}
    curves = pd.DataFrame([{"run_id": r, "step": 10, "wall_s": 0.5, "split": "train", "metric": "loss", "value": v}
                           for r, v in values.items()]
                          + [{"run_id": r, "step": 20, "wall_s": 1.0, "split": "train", "metric": "loss", "value": v}
                             for r, v in values.items()])
    boards_ = task_curves(runs, curves)["s/t"]
    assert [b["tier"] for b in boards_] == ["standard", "smoke"]  # the most telling board first
    (trace,) = boards_[1]["series"][0]["traces"]
    assert trace["mean"] == [2.0, 2.0] and trace["lo"] == [1.0, 1.0] and trace["hi"] == [3.0, 3.0]  # no 1e9
    assert trace["n"] == 2 and trace["wall"] == [0.5, 1.0] and boards_[1]["axes"] == ["steps", "seconds"]
    assert boards_[0]["series"][0]["traces"][0]["mean"] == [100.0, 100.0]
    assert boards_[1]["label"] == "tier smoke · version 1 (pipeline check)"
    # Ten colours, then the colours again with the next marker and dash.
    assert style(10)["color"] == style(0)["color"] and style(10)["symbol"] != style(0)["symbol"]
    assert style(10)["dash"] != style(0)["dash"] and len({style(i)["color"] for i in range(10)}) == 10
    assert thin(list(range(10)), 4) == [0, 3, 6, 9] and thin(list(range(3)), 4) == [0, 1, 2]


def test_a_diagnostic_logged_once_is_a_bar_not_a_line():
    from regsuite.site.curves import task_curves

    runs = pd.DataFrame([run_row(f"r{i}", "s", "s/t", "sgd", i, 0.8) for i in range(2)])
    curves = pd.DataFrame([{"run_id": f"r{i}", "step": 100, "wall_s": 1.0, "split": "test", "metric": "ece",
                            "value": 0.1 * (i + 1)} for i in range(2)])
    (series,) = task_curves(runs, curves)["s/t"][0]["series"]
    assert series["single"] and series["traces"][0]["mean"] == [0.15]


def test_a_task_page_with_many_series_stays_small(tmp_path):
    """One domain-generalization page used to carry 93 plots and 2.4 MB: now one plot and its data."""
    methods = [f"m{i:02d}" for i in range(12)]
    rows, curves = [], []
    for m in methods:
        for s in range(3):
            rid = f"{m}-{s}"
            rows.append(run_row(rid, "dg", "dg/task", m, s, 0.7, tier="standard"))
            curves += [{"run_id": rid, "step": 10 * (i + 1), "wall_s": 0.1 * i, "split": "val", "metric": f"acc@d{j}",
                        "value": 0.5 + 0.001 * i + 0.01 * j} for j in range(93) for i in range(20)]
    Store(tmp_path / "results").append(rows, curves)
    build_site([tmp_path / "results"], tmp_path / "out")
    page = tmp_path / "out" / "tasks" / "dg--task.html"
    size = page.stat().st_size
    assert page.read_text().count('class="plot"') == 1
    assert size < 1_000_000, f"{size} bytes"  # measured: 0.76 MB for 93 series x 12 methods x 20 steps


def test_the_protocol_is_rendered_and_raw_html_in_it_is_escaped(site, tmp_path):
    from regsuite.site.pages import protocol_html

    text = (site[0] / "methodology.html").read_text()
    assert "<h3>Tiers</h3>" in text and "pipeline check" in text and 'id="tiers"' in text
    doc = tmp_path / "p.md"
    doc.write_text("# T\n\n<script>alert(1)</script>\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n[x](javascript:alert(2))\n")
    rendered = str(protocol_html(doc))
    assert "<script>" not in rendered and "&lt;script&gt;" in rendered
    assert "<td>1</td>" in rendered and 'href="javascript' not in rendered and "<h2>T</h2>" in rendered
    assert protocol_html(tmp_path / "missing.md") is None


def test_a_matrix_with_the_untrained_row_and_older_target_records():
    from regsuite.site.recorded import accuracy_matrices, time_to_target_rows

    blob = json.dumps({"accuracy_matrix": json.dumps([[0.1, 0.1], [0.9, 0.2], [0.5, 0.8]])})
    other = json.dumps({"accuracy_matrix": json.dumps([[0.1, 0.3], [0.7, 0.2], [0.3, 0.8]])})
    (m,) = accuracy_matrices({"ewc": [blob, other, "{}"]})
    assert m["rows"] == ["before", "1", "2"] and m["cols"] == ["1", "2"] and m["n"] == 2
    assert m["matrix"] == [[0.1, 0.2], [0.8, 0.2], [0.4, 0.8]]
    # Runs written before target_censored existed said target_reached; 2 of 3 seeds reached 150 / 250 tokens.
    seeds = [{"target_reached": 1.0, "tokens_to_target": 150.0}, {"target_reached": 1.0, "tokens_to_target": 250.0},
             {"target_reached": 0.0}]
    (row,) = time_to_target_rows({"adamw": seeds})
    assert (row["axis"], row["reached"], row["n"], row["text"]) == ("tokens", 2, 3, "250 tokens")


def test_a_censored_primary_reads_as_a_bound_never_as_a_time():
    from regsuite.site.build import primary

    # steps to target 40, 60 and one seed censored at its 100-step budget: mean 66.67, a lower bound.
    row = {"mean": 200 / 3, "ci95": 76.0, "n": 3, "censored": 1}
    assert primary(row) == "≥ 66.6667 ± 76.0000 (2/3 reached)"
    assert primary({"mean": 100.0, "ci95": 0.0, "n": 3, "censored": 3}) == "not reached in 100 (0/3 reached)"
    assert primary({"mean": 0.5, "ci95": float("nan"), "n": 1, "censored": 0}) == "0.5000"


def test_a_censored_seed_reaches_the_board_as_a_bound(tmp_path):
    rows = []
    for i, steps in enumerate([40.0, 60.0, None]):
        r = run_row(f"t{i}", "s", "s/t", "sgd", i, steps, metric="steps_to_target", direction="min", tier="standard")
        r["metrics"] = json.dumps({"target_censored": 0.0 if steps else 1.0, "target_budget_steps": 100.0,
                                   **({"steps_to_target": steps} if steps else {})})
        rows.append(r)
    Store(tmp_path / "r").append(rows, [])
    build_site([tmp_path / "r"], tmp_path / "o")
    # (40 + 60 + 100) / 3 = 66.6667, with the censored seed at its budget: a lower bound.
    assert "≥ 66.6667 ± " in _text(tmp_path / "o" / "tasks" / "s--t.html")
    assert "(2/3 reached)" in _text(tmp_path / "o" / "suites" / "s.html")
