"""The leaderboard builder: pages, escaping of plugin and result strings, scores, downloads, CLI."""

from __future__ import annotations

import html
import json
import re
import shutil

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
