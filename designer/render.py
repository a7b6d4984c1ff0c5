"""One document, two renderings: Markdown (for a pull request) and a self-contained HTML page.

A document is a list of blocks: headings, paragraphs and tables. A table cell may carry a
mood ("better", "worse") that the HTML page colours and the Markdown marks with an arrow.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Union

BETTER, WORSE = "better", "worse"


@dataclass(frozen=True)
class Cell:
    """A table cell; `mood` is BETTER, WORSE or None."""

    text: str
    mood: Optional[str] = None


@dataclass
class Table:
    """Rows of cells under a header."""

    headers: Sequence[str]
    rows: List[Sequence[Union[str, Cell]]] = field(default_factory=list)


@dataclass(frozen=True)
class Heading:
    """A title (level 1) or a section heading (2, 3)."""

    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of plain text; `code` spans in backquotes are kept as code."""

    text: str


Block = Union[Heading, Paragraph, Table]


def _cell(value: Union[str, Cell]) -> Cell:
    return value if isinstance(value, Cell) else Cell(str(value))


def _md_cell(value: Union[str, Cell]) -> str:
    cell = _cell(value)
    text = cell.text.replace("|", "\\|").replace("\n", " ")
    mark = {BETTER: " ▲", WORSE: " ▼"}.get(cell.mood or "", "")
    return f"**{text}**{mark}" if mark else text


def markdown(blocks: Sequence[Block]) -> str:
    """The document as GitHub-flavoured Markdown."""
    out: List[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out += ["#" * block.level + " " + block.text, ""]
        elif isinstance(block, Paragraph):
            out += [block.text, ""]
        else:
            out.append("| " + " | ".join(block.headers) + " |")
            out.append("|" + "---|" * len(block.headers))
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 80em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.better { background: #e3f6e3; } td.worse { background: #fbe2e2; }
code { background: #f3f3f3; padding: 0 0.2em; }
"""


def _inline(text: str) -> str:
    """Escapes `text`; `spans` become <code>."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def page(blocks: Sequence[Block], title: str) -> str:
    """The document as one HTML page (no script, no external resource)."""
    body: List[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{_inline(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            body.append(f"<p>{_inline(block.text)}</p>")
        else:
            head = "".join(f"<th>{html.escape(h)}</th>" for h in block.headers)
            rows = []
            for row in block.rows:
                cells = [_cell(c) for c in row]
                rows.append("<tr>" + "".join(
                    (f'<td class="{c.mood}">' if c.mood else "<td>") + _inline(c.text) + "</td>"
                    for c in cells) + "</tr>")
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}"
                        "</tbody></table>")
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")
