"""WordNet 3.0 noun synsets by ImageNet wnid: `ilsvrc data wordnet n02084071 [--json]`.

    wn = WordNet()                       # /usr/share/wordnet (Debian package wordnet-base)
    wn.name("n02084071")                 # 'dog, domestic dog, Canis familiaris'
    wn.synset("n02084071").gloss
    wn.hypernym_path("n02084071")        # ['n00001740' (entity), ..., 'n02083346' (canine), 'n02084071']

An ImageNet wnid is 'n' + the synset's 8-digit offset in data.noun, and that offset is the byte
position of the synset's line: a lookup is one seek and one readline, no index to build.
A data.noun line reads
    OFFSET LEX_FILENUM n W_CNT(hex) [WORD LEX_ID]... P_CNT [SYMBOL OFFSET POS SOURCE/TARGET]... | GLOSS
where the pointer symbols '@' (hypernym) and '@i' (instance hypernym) lead up the tree.
"""
from __future__ import annotations

import functools
import json as jsonlib
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from ilsvrc.errors import DataError

ROOT = Path("/usr/share/wordnet")
ENTITY = "n00001740"  # the root of the noun hierarchy
HYPERNYM_POINTERS = ("@", "@i")
WNID = re.compile(r"([a-z])(\d{8})")


def wnid_to_offset(wnid: str) -> int:
    """The data.noun byte offset a wnid names: 'n02084071' -> 2084071."""
    match = WNID.fullmatch(wnid)
    if not match:
        raise DataError(wnid, "not a wnid (expected 'n' and 8 digits, e.g. n02084071)")
    if match[1] != "n":
        raise DataError(wnid, "not a noun synset (ImageNet wnids start with 'n')")
    return int(match[2])


def offset_to_wnid(offset: int) -> str:
    """The wnid of the noun synset at a data.noun offset: 2084071 -> 'n02084071'."""
    if not 0 <= offset < 10**8:
        raise DataError(str(offset), "not a WordNet offset (0 to 99999999)")
    return f"n{offset:08d}"


@dataclass(frozen=True)
class Synset:
    wnid: str
    lemmas: tuple[str, ...]     # 'domestic dog', underscores turned to spaces
    gloss: str
    hypernyms: tuple[str, ...]  # wnids, in the file's order ('@' and '@i' pointers)

    @property
    def name(self) -> str:
        return ", ".join(self.lemmas)


def parse_synset(line: str, where: str) -> Synset:
    """One data.noun line -> Synset."""
    fields, _, gloss = line.partition(" | ")
    tokens = fields.split()
    try:
        n_words = int(tokens[3], 16)
        words = tokens[4: 4 + 2 * n_words: 2]
        p_at = 4 + 2 * n_words
        pointers = [tokens[k: k + 4] for k in range(p_at + 1, p_at + 1 + 4 * int(tokens[p_at]), 4)]
        hypernyms = tuple(offset_to_wnid(int(p[1])) for p in pointers if p[0] in HYPERNYM_POINTERS and p[2] == "n")
    except (IndexError, ValueError):
        raise DataError(where, "malformed synset line") from None
    if len(words) != n_words or not words:
        raise DataError(where, "malformed synset line")
    lemmas = tuple(w.replace("_", " ") for w in words)
    return Synset(offset_to_wnid(int(tokens[0])), lemmas, gloss.strip(), hypernyms)


class WordNet:
    """Noun synsets of one WordNet 3.0 installation, read on demand and cached."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else ROOT
        self.data_noun = self.root / "data.noun"
        if not self.data_noun.is_file():
            raise DataError(self.data_noun, "WordNet 3.0 not found: install the Debian package "
                                            "`wordnet-base`, or give the folder holding data.noun")
        self.size = self.data_noun.stat().st_size
        self._synset = functools.lru_cache(maxsize=None)(self._read_synset)

    def synset(self, wnid: str) -> Synset:
        return self._synset(wnid)

    def name(self, wnid: str) -> str:
        """'dog, domestic dog, Canis familiaris'."""
        return self.synset(wnid).name

    def hypernym_path(self, wnid: str) -> list[str]:
        """wnids from the root (entity) down to `wnid`, taking the first hypernym at each step."""
        path = [wnid]
        while hypernyms := self.synset(path[-1]).hypernyms:
            if hypernyms[0] in path:  # only a damaged data.noun could loop
                raise DataError(self.data_noun, f"hypernym cycle through {hypernyms[0]}")
            path.append(hypernyms[0])
        return path[::-1]

    def _read_synset(self, wnid: str) -> Synset:
        return parse_synset(self._line_at(wnid_to_offset(wnid), wnid), f"{self.data_noun}:{wnid}")

    def _line_at(self, offset: int, wnid: str) -> str:
        """The line starting at byte `offset`; the line must begin there and carry that offset."""
        if offset >= self.size:
            raise DataError(wnid, f"offset {offset:08d} is past the end of {self.data_noun}")
        with open(self.data_noun, "rb") as f:
            f.seek(offset - 1 if offset else 0)
            at_line_start = offset == 0 or f.read(1) == b"\n"
            line = f.readline().decode("utf-8", errors="replace")
        if not at_line_start or not line.startswith(f"{offset:08d} "):
            raise DataError(wnid, f"no synset starts at offset {offset:08d} of {self.data_noun}")
        return line


def describe(wn: WordNet, wnid: str) -> dict:
    """A synset and its hypernym path, as plain data for JSON."""
    path = wn.hypernym_path(wnid)
    return {**asdict(wn.synset(wnid)), "name": wn.name(wnid),
            "path": [{"wnid": w, "name": wn.synset(w).lemmas[0]} for w in path]}


def wordnet_command(wnids: list[str], root: str | None = None, json: bool = False) -> int:
    """`ilsvrc data wordnet WNID...`: name, gloss and hypernym path of each wnid."""
    wn = WordNet(root)
    entries = [describe(wn, w) for w in wnids]
    if json:
        print(jsonlib.dumps(entries, indent=2))
        return 0
    for e in entries:
        print(f"{e['wnid']}  {e['name']}")
        print(f"  gloss: {e['gloss']}")
        print(f"  path:  {' > '.join(step['name'] for step in e['path'])}")
    return 0
