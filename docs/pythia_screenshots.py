"""Screenshots of the report on the published Pythia results, for docs/guides/report.md (needs playwright and a
chromium): the top of the page and the science-qa figure, at 1280 px wide, palette-quantised to stay small.

    python docs/pythia_screenshots.py /tmp/pythia/report/report.html docs/images
"""

import io
import shutil
import sys
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

report, out = Path(sys.argv[1]), Path(sys.argv[2])


def save(png: bytes, path: Path, width: int) -> None:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
    image.quantize(colors=96, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    print(path, path.stat().st_size, image.size)

with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=shutil.which("chromium"))
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(report.resolve().as_uri(), wait_until="load")
    save(page.screenshot(), out / "report-pythia-top.png", 960)
    figure = page.locator("figure", has=page.locator("img[alt^='science-qa']")).first
    save(figure.screenshot(), out / "report-pythia-science-qa.png", 560)
    browser.close()
