"""A self-contained HTML page: headings, paragraphs, tables, PNG figures (embedded as base64) and sections
that fold away (``<details>``), each opening with the question it answers.

>>> page = Page("t")
>>> section = page.section("Adaptive windows", "Which window should each task use?")
>>> section.text("window 4 for every task")
>>> empty = page.section("Drift", "How far did the weights move?")  # never filled: left out of the page
>>> "<details" in page.render() and "Drift" not in page.render()
True
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from ckptlens.files import write_text_atomic

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;font-size:15px;line-height:1.45;color:#1d1d1f;
 margin:0 auto;padding:1.5em 2em;max-width:1180px}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.25em;margin:1.4em 0 .4em}h3{font-size:1.05em;margin:1em 0 .3em}
.meta{color:#444;margin:.2em 0 1em}.meta td{border:none;padding:1px 12px 1px 0;text-align:left;font-size:14px}
.verdict{background:#eef5ff;border-left:5px solid #2a6fdb;padding:.6em 1em;margin:1em 0;font-size:16px}
.warning{background:#fff4d6;border-left:4px solid #e0a100;padding:4px 8px}
table{border-collapse:collapse;font-size:13px;margin:.6em 0 1em;max-width:100%}
th,td{border:1px solid #d0d0d0;padding:3px 7px;text-align:right;vertical-align:top}
th{background:#f3f3f3;font-weight:600}td.l,th.l{text-align:left}td.l{overflow-wrap:anywhere}
tr.group td{border-top:2px solid #888}
figure{margin:.8em 0}img{max-width:100%;height:auto}figcaption{font-size:13px;color:#444}
details{border:1px solid #d0d0d0;border-radius:6px;padding:.2em .9em;margin:.6em 0}
details[open]{padding-bottom:.8em}summary{cursor:pointer;font-weight:600;font-size:1.1em;padding:.3em 0}
.question{font-style:italic;color:#333;margin-top:.2em}
dl.definitions{display:grid;grid-template-columns:max-content 1fr;gap:.35em 1.2em;background:#f7f7f7;
 border:1px solid #d0d0d0;border-radius:6px;padding:.8em 1em;font-size:14px}
dl.definitions dt{font-weight:600}dl.definitions dd{margin:0}code{font-size:13px}
.taskset{margin:.4em 0 1em}details.inline{border:none;padding:0;margin:0;display:inline-block}
details.inline summary{font-size:inherit;
 font-weight:normal;color:#2a6fdb;padding:0;display:inline}details.inline[open]{display:block}
b.cite{font-weight:600}.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:0 1em}
"""


class Block:
    """What a page and its sections hold, top to bottom."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def heading(self, text: str, level: int = 2) -> None:
        self.parts.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def text(self, text: str) -> None:
        self.parts.append(f"<p>{inline(text)}</p>")

    def warning(self, text: str) -> None:
        """A paragraph set off in colour: something the reader must not miss."""
        self.parts.append(f"<p class='warning'>{inline(text)}</p>")

    def table(self, columns: Sequence[str], rows: Sequence[Mapping], headers: Mapping[str, str] | None = None,
              left: Sequence[str] = ("run", "task", "method", "category", "rule")) -> None:
        """Rows as a table; ``headers`` renames columns for display; text columns in ``left`` align left.

        A row with ``"_group": True`` starts a group (a rule above it); one with ``"_ref": KEY`` gives each cell the
        reference ``KEY:COLUMN`` (``data-ref``), which a verdict's quoted number points at. A ``Html`` cell is
        markup, kept as it is. Without rows nothing is written: the caller says in a sentence why there is nothing,
        and what to run.
        """
        if not rows:
            return
        headers = headers or {}
        align = {c: " class='l'" if c in left else "" for c in columns}
        head = "".join(f"<th{align[c]}>{html.escape(headers.get(c, c))}</th>" for c in columns)
        body = "".join(
            ("<tr class='group'>" if r.get("_group") else "<tr>")
            + "".join(f"<td{align[c]}{_ref(r, c)}>{cell(r.get(c))}</td>" for c in columns) + "</tr>"
            for r in rows
        )
        self.parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def figure(self, png: Path, alt: str, caption: str | None = None) -> None:
        """A PNG embedded in the page; ``alt`` says what it shows to a reader who cannot see it."""
        data = base64.b64encode(Path(png).read_bytes()).decode()
        below = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self.parts.append(f"<figure><img src='data:image/png;base64,{data}' alt='{html.escape(alt)}'>{below}</figure>")

    def figures(self, items: Sequence[tuple[Path, str]]) -> None:
        """Several figures side by side (as many to a row as fit), each ``(png, alt)``."""
        before = len(self.parts)
        for png, alt in items:
            self.figure(png, alt)
        figures = "".join(self.parts[before:])
        del self.parts[before:]
        self.parts.append(f"<div class='grid'>{figures}</div>")

    def definitions(self, items: Sequence[tuple[str, str]]) -> None:
        """Terms and their one-sentence definitions, as a box folded under a count (the page stays short)."""
        body = "".join(f"<dt>{html.escape(term)}</dt><dd>{inline(text)}</dd>" for term, text in items)
        summary = f"Definitions of the {len(items)} numbers and methods on this page"
        box = f"<dl class='definitions'>{body}</dl>"
        self.parts.append(f"<details class='inline'><summary>{summary}</summary>{box}</details>")

    def facts(self, items: Sequence[tuple[str, str]]) -> None:
        """Label: value lines without grid (what was measured, at the top of the page)."""
        body = "".join(f"<tr><td><b>{html.escape(k)}</b></td><td>{cell(v)}</td></tr>" for k, v in items)
        self.parts.append(f"<table class='meta'>{body}</table>")

    def box(self, text: str, css_class: str) -> None:
        """A paragraph of ``css_class`` (the verdict)."""
        self.parts.append(f"<p class='{css_class}'>{inline(text)}</p>")

    def cited(self, parts: Sequence, css_class: str = "verdict") -> None:
        """A paragraph whose quoted numbers (objects with ``text`` and ``ref``) point at the table cells they are."""
        body = "".join(inline(p) if isinstance(p, str) else
                       f"<b class='cite' data-cite='{html.escape(p.ref)}'>{html.escape(p.text)}</b>" for p in parts)
        self.parts.append(f"<p class='{css_class}'>{body}</p>")

    def folded(self, summary: str, body: str) -> None:
        """A short ``<details>`` inside a section or paragraph: ``summary`` shown, ``body`` (text) on opening."""
        self.parts.append(fold(summary, body))

    def render(self) -> str:
        return "\n".join(self.parts)


class Section(Block):
    """A part of the page that folds away, opening with the one question it answers."""

    def __init__(self, title: str, question: str, open_: bool = False) -> None:
        super().__init__()
        self.title, self.question, self.open = title, question, open_

    def render(self) -> str:
        """Empty when nothing was added: a section with nothing to show is left out."""
        if not self.parts:
            return ""
        opened = " open" if self.open else ""
        return (f"<details{opened}><summary>{html.escape(self.title)}</summary>"
                f"<p class='question'>{html.escape(self.question)}</p>\n{super().render()}</details>")


class Page(Block):
    """Build the page top to bottom, then ``write`` it; ``section`` adds a part that folds away."""

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title = title
        self.sections: list[tuple[int, Section]] = []  # (position among parts, section)

    def section(self, title: str, question: str, open_: bool = False) -> Section:
        """A new collapsible section at this point of the page; fill it with the returned object's methods."""
        section = Section(title, question, open_)
        self.sections.append((len(self.parts), section))
        self.parts.append("")  # its place; rendered in ``render``
        return section

    def render(self) -> str:
        parts = list(self.parts)
        for position, section in self.sections:
            parts[position] = section.render()
        head = (f"<!doctype html><html lang='en'><meta charset='utf-8'>"
                f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
                f"<title>{html.escape(self.title)}</title><style>{CSS}</style>")
        return head + "\n" + "\n".join(p for p in parts if p) + "\n</html>\n"

    def write(self, path: Path) -> Path:
        return write_text_atomic(path, self.render())


def inline(text: str) -> str:
    """Escaped text with `backticked` spans (commands, flags) set as code.

    >>> inline("run `ckptlens eval <series>` & wait")
    'run <code>ckptlens eval &lt;series&gt;</code> &amp; wait'
    """
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


class Html(str):
    """Markup to put in a table cell as it is (a folded list, say)."""


def fold(summary: str, body: str) -> Html:
    """A small ``<details>``: ``summary`` shown, ``body`` (text) when opened.

    >>> fold("57 near chance", "a, b")
    "<details class='inline'><summary>57 near chance</summary>a, b</details>"
    """
    return Html(f"<details class='inline'><summary>{html.escape(summary)}</summary>{inline(body)}</details>")


def _ref(row: Mapping, column: str) -> str:
    return f" data-ref='{html.escape(row['_ref'])}:{html.escape(column)}'" if row.get("_ref") else ""


def cell(value) -> str:
    """A table cell: numbers to 3 decimals, missing as a dash, text escaped."""
    if isinstance(value, Html):
        return value
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    return html.escape(str(value))
