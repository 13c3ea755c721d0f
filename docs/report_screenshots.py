"""Screenshots of a report page at 1280 px wide, as the README shows them (needs playwright and a chromium).

    ckptlens demo --out demo-out
    python docs/report_screenshots.py demo-out/report/report.html docs

writes ``report-top.png`` (run, verdict, means over tasks), ``report-curves.png`` (the first task's curves and the
stability table) and ``report-detail.png`` (the definitions and the sections that fold away, opened), each reduced
to 256 colours to stay small.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

WIDTH = 1280
SHOTS = {  # file -> (CSS selector of the element the shot starts at, height in px)
    "report-top.png": ("h1", 900),
    "report-curves.png": ("h2:nth-of-type(2)", 1000),
    "report-detail.png": ("details", 900),
}


def screenshots(html: Path, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"))
        page = browser.new_page(viewport={"width": WIDTH, "height": 1000})
        page.goto(html.resolve().as_uri(), wait_until="load")
        for name, (selector, height) in SHOTS.items():
            if name == "report-detail.png":
                page.evaluate("document.querySelectorAll('details').forEach((d, i) => d.open = i < 2)")
            top = page.evaluate(f"document.querySelector({selector!r}).getBoundingClientRect().top + scrollY") - 20
            if name == "report-detail.png":
                top = page.evaluate("document.querySelector('dl').getBoundingClientRect().bottom + scrollY") - 420
            path = folder / name
            page.screenshot(path=path, full_page=True, clip={"x": 0, "y": max(top, 0), "width": WIDTH, "height": height})
            Image.open(path).convert("RGB").quantize(256).save(path, optimize=True)
            written.append(path)
        browser.close()
    return written


if __name__ == "__main__":
    for path in screenshots(Path(sys.argv[1]), Path(sys.argv[2])):
        print(path, f"{path.stat().st_size // 1024} KiB")
