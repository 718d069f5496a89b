"""The built site in a real browser: Debian's chromium driven by Playwright for Python.

`playwright install` cannot download browsers here, so the system chromium is
launched by path; `make test` installs it with apt-get when it can. Without it
these tests skip and say why. One browser for the module, one small fixture site
(tests/site_results.py); axe-core comes from the axe-playwright-python wheel (its
bundled axe.min.js, injected from disk: nothing is fetched).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from regsuite.site.build import build_site
from regsuite.site.data import slug
from site_results import EVIL, registry, write_results

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed: `make test` installs it with apt-get (apt-get install chromium) where it can",
)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")

# One page of every type: overview, suite, task (standard tier with everything recorded; smoke; tuned with
# budget curves), method, claims, methodology.
PAGE_TYPES = ["index.html", "suites/suite0.html", "tasks/suite0--task-big.html", "tasks/suite0--task-00.html",
              "tasks/suite0--task-tuned.html", "methods/adamw.html", "claims.html", "methodology.html"]
WIDTHS = [(1440, False), (390, True)]  # desktop; phone (touch)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    write_results(root / "results")
    build_site([root / "results"], root / "out", registry=registry())
    return root / "out"


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


def _watch(page):
    """Record console errors, uncaught exceptions and dialogs (an alert would mean injected script)."""
    page.problems = []
    page.on("console", lambda m: page.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda exc: page.problems.append(f"page error: {exc}"))
    page.on("dialog", lambda d: (page.problems.append(f"dialog: {d.message}"), d.dismiss()))
    return page


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield _watch(context.new_page())
    context.close()


@pytest.fixture(params=WIDTHS, ids=["1440px", "390px"])
def sized(browser, request):
    width, touch = request.param
    context = browser.new_context(viewport={"width": width, "height": 900}, has_touch=touch, is_mobile=touch)
    page = _watch(context.new_page())
    page.width = width
    yield page
    context.close()


def _open(page, site: Path, name: str) -> None:
    page.goto((site / name).as_uri())
    page.wait_for_load_state("load")
    if page.locator(".plot").count():
        page.wait_for_selector(".plot .main-svg")


def test_every_page_type_is_clean_fits_the_phone_and_passes_axe(site, sized):
    """At 1440 and 390 px: no console error, no horizontal page overflow, no plotly toolbar on the
    phone, and no serious or critical axe-core violation (nested-interactive on plots among them)."""
    import axe_playwright_python

    axe_js = Path(axe_playwright_python.__file__).parent / "axe.min.js"
    found = []
    for name in PAGE_TYPES:
        _open(sized, site, name)
        width = sized.evaluate("document.documentElement.scrollWidth")
        assert width <= sized.width, f"{name} is {width}px wide at a {sized.width}px viewport"
        if sized.width < 500:  # phone: plotly's toolbar would cover titles on touch
            assert sized.locator(".modebar").count() == 0, name
        sized.add_script_tag(path=str(axe_js))
        result = sized.evaluate("async () => await axe.run(document, {preload: false, resultTypes: ['violations']})")
        found += [f"{name}: {v['id']} ({v['impact']}): {v['nodes'][0]['target']}" for v in result["violations"]
                  if v["impact"] in ("serious", "critical")]
    assert found == []
    assert sized.problems == []


def test_a_significant_difference_shows_its_mark_and_a_tie_its_group(site, page):
    _open(page, site, "tasks/suite0--task-big.html")
    board = page.locator("#board-standard-2-default")

    def row(method):
        return board.locator(f"tbody tr[data-method='{method}']")

    # adamw 0.75-0.77 against sgd 0.70-0.72: Welch p = 0.0036, Holm over 2 methods: 0.0072 < 0.05.
    assert row("adamw").locator("td.tie").inner_text() == "1"
    assert row("adamw").locator(".mark").get_attribute("data-vs") == "better"
    assert row("adamw").locator(".mark").inner_text() == "▲"
    # tied has exactly sgd's values: not separated from it, so it shares sgd's tie group.
    assert row("tied").locator("td.tie").inner_text() == row("sgd").locator("td.tie").inner_text() == "2"
    assert row("tied").locator(".mark").get_attribute("data-vs") == "same"
    assert row("sgd").locator("td.vs").inner_text() == "baseline"
    assert "dirty tree" in row("adamw").locator("td.machine").inner_text()  # one adamw seed ran from a dirty tree
    assert "dirty" not in row("sgd").locator("td.machine").inner_text()
    copy = row("adamw").locator("button.copy")
    assert copy.get_attribute("data-copy") == (
        "regsuite bench --tier standard --task suite0/task-big --method adamw --seeds 3")
    copy.click()
    page.wait_for_function("b => b.textContent !== 'copy'", arg=copy.element_handle())
    assert copy.inner_text() in ("copied", "selected")  # the clipboard, or the command selected for Ctrl+C
    # The suite board marks the same cells.
    _open(page, site, "suites/suite0.html")
    cell = page.locator("section.board[data-tier='standard'] tbody tr[data-method='adamw'] .mark")
    assert cell.get_attribute("data-vs") == "better" and cell.is_visible()
    assert page.problems == []


def test_smoke_boards_are_pipeline_checks_unranked_until_asked_with_the_choice_in_the_url(site, page):
    _open(page, site, "suites/suite0.html")
    smoke = page.locator("section.board[data-tier='smoke']")
    assert "pipeline check" in smoke.locator("h2").inner_text()
    assert not smoke.locator("th.rankinfo").first.is_visible()  # no Profile / Win rate / Mean rank column
    assert not smoke.locator("td .mark").first.is_visible()
    assert smoke.locator("tbody th").all_inner_texts() == sorted(smoke.locator("tbody th").all_inner_texts())
    smoke.locator("input[data-show-ranks]").check()
    assert smoke.locator("th.rankinfo").first.is_visible()
    assert "ranks-board-0=1" in page.url
    page.goto(page.url)  # the shared link opens the same view
    assert page.locator("section.board[data-tier='smoke'] th.rankinfo").first.is_visible()


def test_sort_and_filter_state_survive_a_reload_of_the_url(site, page):
    _open(page, site, "tasks/suite0--task-big.html")
    runs = page.locator("table.runs")

    def seeds():
        return [int(x) for x in runs.locator("tbody tr td:nth-child(3)").all_text_contents()]

    assert seeds() == [0, 1, 2] * 3  # rendered by method, then seed
    runs.locator("thead th", has_text="Seed").locator("button").click()
    assert seeds() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    runs.locator("thead th", has_text="Seed").locator("button").click()
    assert seeds() == [2, 2, 2, 1, 1, 1, 0, 0, 0]
    assert "sort-runs=2.d" in page.url
    page.goto(page.url)
    assert seeds() == [2, 2, 2, 1, 1, 1, 0, 0, 0]
    assert runs.locator("thead th", has_text="Seed").get_attribute("aria-sort") == "descending"

    _open(page, site, "suites/suite0.html")
    page.select_option("select[data-filter='tier']", "standard")
    assert page.locator("section.board:visible").count() == 1
    assert page.locator("section.board:visible").get_attribute("data-version") == "2"
    page.select_option("select[data-filter='version']", "1")
    assert page.locator("section.board:visible").count() == 0
    page.goto(page.url)
    assert page.locator("select[data-filter='tier']").input_value() == "standard"
    assert page.locator("section.board:visible").count() == 0
    page.select_option("select[data-filter='tier']", "")
    assert page.locator("section.board:visible h2").inner_text().startswith("Tier smoke")
    assert page.problems == []


def test_one_curve_plot_with_selectors_and_a_table_alternative(site, page):
    _open(page, site, "tasks/suite0--task-00.html")
    assert page.locator(".plot").count() == 1  # selectors, not one plot per series
    series = page.locator("#curve-series option").all_inner_texts()
    assert series == ["train loss", "val test_accuracy"]
    assert page.locator("#curve-axis option").all_inner_texts() == ["steps", "seconds"]  # no tokens counted
    # The primary metric (test_accuracy, logged as "val test_accuracy") is shown first.
    assert page.locator("#curve-series").evaluate("s => s.options[s.selectedIndex].text") == "val test_accuracy"
    legend = page.locator("#curve-plot .legendtext").all_text_contents()
    assert sorted(legend) == sorted(["adamw", "sgd", EVIL])  # the hostile name shows literally
    page.select_option("#curve-series", label="val test_accuracy")
    page.select_option("#curve-axis", "seconds")
    assert page.locator("#curve-plot .xtitle").text_content() == "seconds"
    table = page.locator("#curve-table table")
    assert table.locator("tbody th").all_text_contents() == sorted(["adamw", "sgd", EVIL])
    assert "series=1" in page.url and "axis=seconds" in page.url
    assert page.problems == []


def test_a_hostile_method_name_shows_as_text(site, page):
    for name in ["suites/suite0.html", "tasks/suite0--task-01.html", "claims.html", f"methods/{slug(EVIL)}.html"]:
        _open(page, site, name)
        assert EVIL in page.locator("body").inner_text(), name  # script elements never show their text
    assert page.locator("h1").inner_text() == f"Method: {EVIL}"
    assert page.locator("a[href^='javascript']").count() == 0
    assert page.problems == []  # no alert() dialog, no error


def test_the_committed_results_build_and_open(tmp_path, page):
    """`regsuite site build` on results/ (the committed baselines) with the installed plugins."""
    from regsuite.registry import build_registry

    results = Path(__file__).resolve().parents[1] / "results"
    report = build_site([results / "baseline"], tmp_path / "out", registry=build_registry())
    assert report.runs > 0 and not report.problems
    _open(page, tmp_path / "out", "index.html")
    assert "vision" in page.locator("table[data-table='coverage']").inner_text()
    _open(page, tmp_path / "out", "tasks/vision--digits-mlp.html")
    assert page.locator("#curve-plot .main-svg").count() >= 1
    assert page.problems == []
