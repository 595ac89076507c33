"""What a report says, independent of how it is written: HTML and Markdown render the same Document.

    doc = Document("Results", notes=["quick settings"], sections=[
        Section("Results", [Paragraph("LeNet-5 wins."), Table(["entry", "top-1"], [["lenet5", "9.1%"]], "lr")]),
    ])
    html.render(doc); markdown.render(doc, figure_dir="figures")
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Paragraph:
    text: str  # plain text: each renderer escapes it


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]
    align: str = ""  # one letter per column, "l" or "r"; left when absent
    caption: str = ""

    def alignment(self, column: int) -> str:
        return self.align[column] if column < len(self.align) else "l"


@dataclass(frozen=True)
class Figure:
    name: str  # file stem of the Markdown twin's PNG: figures/<name>.png
    png: bytes
    alt: str
    caption: str


Block = Paragraph | Table | Figure


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)
    anchor: str = ""  # the HTML id; derived from the title when empty

    @property
    def id(self) -> str:
        return self.anchor or "-".join("".join(c if c.isalnum() else " " for c in self.title.lower()).split())


@dataclass
class Document:
    title: str
    notes: list[str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)

    def figures(self) -> list[Figure]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Figure)]
