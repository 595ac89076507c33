"""A Document as Markdown (GitHub-flavoured tables) whose figures are PNG files beside it.

    text = render(document, figure_dir="figures")   # ![alt](figures/<name>.png) for every figure
"""
from __future__ import annotations

import re

from ilsvrc.report.document import Block, Document, Figure, Paragraph, Table

# Characters that would otherwise start emphasis, links, HTML or table cells.
_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")


def escape(text: str) -> str:
    return _SPECIAL.sub(r"\\\1", text)


def render(document: Document, figure_dir: str = "figures") -> str:
    lines = [f"# {escape(document.title)}", ""]
    for note in document.notes:
        lines += [f"> **Note:** {escape(note)}", ""]
    for section in document.sections:
        lines += [f"## {escape(section.title)}", ""]
        for block in section.blocks:
            lines += [_block(block, figure_dir), ""]
    return "\n".join(lines)


def figure_path(figure: Figure, figure_dir: str) -> str:
    return f"{figure_dir}/{figure.name}.png"


def _block(block: Block, figure_dir: str) -> str:
    if isinstance(block, Paragraph):
        return escape(block.text)
    if isinstance(block, Table):
        return _table(block)
    return f"![{escape(block.alt)}]({figure_path(block, figure_dir)})\n\n*{escape(block.caption)}*"


def _table(table: Table) -> str:
    rule = ["---:" if table.alignment(i) == "r" else ":---" for i in range(len(table.header))]
    lines = [_row(table.header), "| " + " | ".join(rule) + " |", *(_row(row) for row in table.rows)]
    text = "\n".join(lines)
    return f"**{escape(table.caption)}**\n\n{text}" if table.caption else text


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(escape(c) for c in cells) + " |"
