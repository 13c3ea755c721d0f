"""The report in a real headless browser (Playwright driving the system's Chromium): no console error, no broken
image, no figure without alt text, no table wider than a 1280 px page.

Playwright's own browser download is not available offline, so the test drives Debian's ``chromium`` package
(``apt-get install chromium``; ``.ci/run`` installs it). Without a Chromium on the PATH the test skips, saying so.
"""

import shutil
from pathlib import Path

import pytest

from ckptlens.analysis.stability import StabilityConfig
from ckptlens.report import ReportConfig, write_report
from ckptlens.store import drift_table
from tests.analysis.test_stability import store  # noqa: F401  (base, its window-2 averages, a near-chance task)

WIDTH = 1280
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


def page_problems(html: Path) -> list[str]:
    """Everything the browser finds wrong with the page at ``html``, as sentences (empty when all is well)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": 900})
            errors = []
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(html.resolve().as_uri(), wait_until="load")
            problems = page.evaluate(CHECKS)
            page.wait_for_timeout(200)  # images decoded after the sections opened report their errors too
            return [f"console error: {e}" for e in errors] + problems
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
    assert page_problems(report.html) == []


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
