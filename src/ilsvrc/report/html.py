"""A Document as one self-contained HTML page: inline CSS, figures as data: URIs, no scripts, no requests.

    page = render(document)    # str; open it from disk, mail it, attach it: nothing else is needed
"""
from __future__ import annotations

import base64
from html import escape

from ilsvrc.report.document import Block, Document, Figure, Paragraph, Section, Table

STYLE = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2330;
       max-width: 64rem; margin: 2rem auto; padding: 0 1.25rem; }
h1 { font-size: 1.7rem; margin-bottom: .3rem; }
h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #dde1e8; padding-bottom: .2rem; }
nav { font-size: .9rem; color: #555; }
nav a { margin-right: .9rem; color: #2456a6; text-decoration: none; }
.note { background: #fff7e0; border-left: 4px solid #e0a800; padding: .4rem .8rem; margin: .6rem 0; }
table { border-collapse: collapse; margin: .8rem 0; font-variant-numeric: tabular-nums; }
caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: .3rem; }
th, td { padding: .3rem .7rem; border-bottom: 1px solid #e3e6eb; }
th { background: #f3f5f8; text-align: left; }
td.r, th.r { text-align: right; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #e3e6eb; }
figcaption { font-size: .9rem; color: #4a5160; margin-top: .3rem; }
"""


def render(document: Document) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(document.title)}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{escape(document.title)}</h1>",
        _nav(document.sections),
        *(f'<p class="note">{escape(note)}</p>' for note in document.notes),
        *(_section(s) for s in document.sections),
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _nav(sections: list[Section]) -> str:
    links = "".join(f'<a href="#{s.id}">{escape(s.title)}</a>' for s in sections)
    return f"<nav>{links}</nav>"


def _section(section: Section) -> str:
    body = "\n".join(_block(b) for b in section.blocks)
    return f'<section id="{section.id}">\n<h2>{escape(section.title)}</h2>\n{body}\n</section>'


def _block(block: Block) -> str:
    if isinstance(block, Paragraph):
        return f"<p>{escape(block.text)}</p>"
    if isinstance(block, Table):
        return _table(block)
    return _figure(block)


def _table(table: Table) -> str:
    caption = f"<caption>{escape(table.caption)}</caption>" if table.caption else ""
    head = "".join(f'<th class="{table.alignment(i)}">{escape(h)}</th>' for i, h in enumerate(table.header))
    rows = "".join(
        "<tr>" + "".join(f'<td class="{table.alignment(i)}">{escape(c)}</td>' for i, c in enumerate(row)) + "</tr>"
        for row in table.rows)
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _figure(figure: Figure) -> str:
    data = base64.b64encode(figure.png).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{escape(figure.alt)}">'
            f"<figcaption>{escape(figure.caption)}</figcaption></figure>")
