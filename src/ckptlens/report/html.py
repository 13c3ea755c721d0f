"""A self-contained HTML page: headings, paragraphs, tables and PNG figures embedded as base64."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from ckptlens.files import write_text_atomic

CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:1150px}"
    "table{border-collapse:collapse;font-size:12px;margin:1em 0}"
    "th,td{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#f3f3f3}"
    "td:first-child,td:nth-child(2){text-align:left}img{max-width:100%}"
    ".warning{background:#fff4d6;border-left:4px solid #e0a100;padding:4px 8px}"
)


class Page:
    """Build the page top to bottom, then ``write`` it."""

    def __init__(self, title: str):
        self.parts = [f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>",
                      f"<style>{CSS}</style><h1>{html.escape(title)}</h1>"]

    def heading(self, text: str) -> None:
        self.parts.append(f"<h2>{html.escape(text)}</h2>")

    def text(self, text: str) -> None:
        self.parts.append(f"<p>{html.escape(text)}</p>")

    def warning(self, text: str) -> None:
        """A paragraph set off in colour: something the reader must not miss."""
        self.parts.append(f"<p class='warning'>{html.escape(text)}</p>")

    def table(self, columns: list[str], rows: list[dict]) -> None:
        if not rows:
            self.parts.append("<p><em>nothing to show</em></p>")
            return
        head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
        body = "".join("<tr>" + "".join(f"<td>{_cell(r.get(c))}</td>" for c in columns) + "</tr>" for r in rows)
        self.parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def figure(self, png: Path, caption: str) -> None:
        data = base64.b64encode(Path(png).read_bytes()).decode()
        self.parts.append(f"<figure><img src='data:image/png;base64,{data}' alt='{html.escape(caption)}'></figure>")

    def write(self, path: Path) -> Path:
        return write_text_atomic(path, "\n".join(self.parts))


def _cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return html.escape(str(value))
