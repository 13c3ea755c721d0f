"""The report in a real headless browser (Playwright driving the system's Chromium): no console error, no broken
image, no figure without alt text, no table wider than a 1280 px page; and the rules every page follows (an
``<h1>``, at most 8 screens of 1280 x 900 with every ``<details>`` closed, no sideways scroll, and a verdict whose
every number is the text of the table cell it cites), on a demo-like store with averages and ensembles, on a
Pythia-like store of 7 imported sizes, and on the capabilities page of the latter.

Playwright's own browser download is not available offline, so the test drives Debian's ``chromium`` package
(``apt-get install chromium``; ``.ci/run`` installs it). Without a Chromium on the PATH the test skips, saying so.
"""

import shutil
from pathlib import Path

import pytest

from ckptlens.analysis.stability import StabilityConfig
from ckptlens.report import ReportConfig, write_report
from ckptlens.report.capability_report import write_capability_report
from ckptlens.store import drift_table
from tests.analysis.test_stability import store  # noqa: F401  (base, its window-2 averages, a near-chance task)
from tests.report.pythia_like import pythia_like_store

WIDTH, HEIGHT, SCREENS = 1280, 900, 8
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

CHECKS = """() => {
  const problems = [];
  document.querySelectorAll('details').forEach(d => d.open = true);
  const width = window.innerWidth;
  if (document.documentElement.scrollWidth > width)
    problems.push(`page scrolls sideways: ${document.documentElement.scrollWidth} px > ${width} px`);
  document.querySelectorAll('img').forEach((img, i) => {
    if (!img.complete || img.naturalWidth === 0) problems.push(`image ${i} is broken`);
    if (!(img.getAttribute('alt') || '').trim()) problems.push(`image ${i} has no alt text`);
  });
  document.querySelectorAll('figure').forEach((figure, i) => {
    if (!figure.querySelector('img[alt]:not([alt=""])')) problems.push(`figure ${i} has no image with alt text`);
  });
  document.querySelectorAll('table').forEach((table, i) => {
    const right = table.getBoundingClientRect().right;
    if (table.scrollWidth > width || right > width)
      problems.push(`table ${i} (${table.querySelector('th, td')?.textContent}) is ${table.scrollWidth} px wide`);
  });
  return problems;
}"""


RULES = """(screens) => {
  const problems = [];
  document.querySelectorAll('details').forEach(d => d.open = false);
  if (!document.querySelector('h1')) problems.push('no <h1>');
  const tall = document.documentElement.scrollHeight / window.innerHeight;
  if (tall > screens) problems.push(`${tall.toFixed(1)} screens tall with every <details> closed`);
  if (document.documentElement.scrollWidth > window.innerWidth) problems.push('scrolls sideways, details closed');
  const cells = new Map([...document.querySelectorAll('[data-ref]')].map(c => [c.dataset.ref, c.textContent.trim()]));
  const verdicts = document.querySelectorAll('.verdict');
  if (!verdicts.length) problems.push('no verdict');
  let cited = 0;
  verdicts.forEach((verdict, i) => {
    verdict.querySelectorAll('[data-cite]').forEach(c => {
      cited += 1;
      const cell = cells.get(c.dataset.cite);
      if (cell === undefined)
        problems.push(`verdict ${i} quotes ${c.textContent} from ${c.dataset.cite}: no such cell`);
      else if (cell !== c.textContent.trim()) problems.push(`verdict ${i} says ${c.textContent}, its cell ${cell}`);
    });
    const bare = verdict.cloneNode(true);
    bare.querySelectorAll('[data-cite]').forEach(c => c.remove());
    const loose = bare.textContent.match(/\d\.\d{3}/g);
    if (loose) problems.push(`verdict ${i} quotes numbers that are no table cell: ${loose.join(', ')}`);
  });
  return {problems, cited};
}"""


def page_problems(html: Path, screens: float = SCREENS) -> list[str]:
    """Everything the browser finds wrong with the page at ``html``, as sentences (empty when all is well)."""
    return browse(html, screens)[0]


def browse(html: Path, screens: float = SCREENS) -> tuple[list[str], int]:
    """(problems, how many numbers the verdicts cite) of the page at ``html``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
            errors = []
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(html.resolve().as_uri(), wait_until="load")
            rules = page.evaluate(RULES, screens)
            problems = page.evaluate(CHECKS)
            page.wait_for_timeout(200)  # images decoded after the sections opened report their errors too
            return [f"console error: {e}" for e in errors] + rules["problems"] + problems, rules["cited"]
        finally:
            browser.close()


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on the PATH (apt-get install chromium)")
def test_the_report_renders_cleanly_in_a_browser(store, tmp_path):  # noqa: F811
    store.write_drift("base", drift_table([
        dict(step_a=a, step_b=a + 10, module=module, l2=1.0, relative_l2=r, cosine=0.99)
        for a in (10, 20, 30, 40) for module, r in (("all", 0.05), ("model.layers.0.mlp", 0.08),
                                                     ("model.layers.0.self_attn", 0.04), ("lm_head", 0.02))
    ]))
    store.write_run_info("base", {"series": "/runs/base", "loss_curve": [
        {"step": s, "train_loss": 3.0 - s / 50, "val_loss": 3.1 - s / 50} for s in (10, 20, 30, 40, 50)]})
    report = write_report(store, tmp_path / "report", ReportConfig(stability=StabilityConfig(last=0.5, windows=(2,))))
    page = report.html.read_text()
    assert page.count("<img") >= 6  # curves per task, example maps, drift, loss: every kind of figure is checked
    assert "per phase of training, raw against each method" in page and "by |margin| decile" in page
    problems, cited = browse(report.html)
    assert problems == [] and cited >= 4  # raw and best method's example MTV and scores at least


@pytest.fixture(scope="module")
def pythia_like(tmp_path_factory) -> tuple[Path, Path]:
    """The report and the capabilities page of 7 sizes imported from Pythia-format results files."""
    folder = tmp_path_factory.mktemp("pythia_like")
    imported = pythia_like_store(folder)
    return (write_report(imported, folder / "report").html,
            write_capability_report(imported, folder / "capabilities").html)


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on the PATH (apt-get install chromium)")
def test_the_report_of_seven_imported_sizes_reads_at_a_glance(pythia_like):
    problems, cited = browse(pythia_like[0])
    assert problems == [] and cited >= 4  # the range of task MTV over runs, and the smallest and largest's score


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on the PATH (apt-get install chromium)")
def test_the_capabilities_page_follows_the_same_rules(pythia_like):
    problems, cited = browse(pythia_like[1], screens=6)
    assert problems == [] and cited >= 2  # a task to watch and one not to decide on alone


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on the PATH (apt-get install chromium)")
def test_the_checks_catch_a_broken_page(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text("<!doctype html><html><body><figure><img src='data:image/png;base64,AAAA'></figure>"
                   "<table><tr><td style='min-width:2000px'>wide</td></tr></table>"
                   "<script>console.error('boom')</script></body></html>")
    problems = page_problems(bad)
    assert "console error: boom" in problems
    assert "image 0 is broken" in problems and "image 0 has no alt text" in problems
    assert "figure 0 has no image with alt text" in problems
    assert any(p.startswith("table 0 (wide) is") for p in problems)
    assert any(p.startswith("page scrolls sideways") for p in problems)
    assert "no <h1>" in problems and "no verdict" in problems


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on the PATH (apt-get install chromium)")
def test_the_rules_catch_a_verdict_that_is_not_its_table(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text("<!doctype html><h1>q</h1><p class='verdict'>moves by <b data-cite='m:a'>0.031</b> and "
                   "<b data-cite='m:b'>0.020</b>, with 0.078 elsewhere</p><table><tr><td data-ref='m:a'>0.085</td>"
                   "</tr></table><div style='height:8000px'></div>")
    problems, cited = browse(bad)
    assert cited == 2
    assert "verdict 0 says 0.031, its cell 0.085" in problems
    assert "verdict 0 quotes 0.020 from m:b: no such cell" in problems
    assert "verdict 0 quotes numbers that are no table cell: 0.078" in problems
    assert any(p.endswith("screens tall with every <details> closed") for p in problems)
