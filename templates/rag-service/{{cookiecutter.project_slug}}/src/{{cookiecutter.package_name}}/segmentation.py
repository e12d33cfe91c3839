"""A chunk cut into the units an extractive answer may quote: sentences of unwrapped
paragraphs, list items, table rows (each with its header: a row is a fact only with the
column names), and code or grammar lines; headings are not quoted but kept as each unit's
context, which the selection scores with it.

Why not "every newline ends a sentence": documents are hard-wrapped, so a sentence was quoted
in halves; and a short table cell or list item ("99%") was dropped as a fragment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")
_MARKDOWN_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*$")
_UNDERLINE = re.compile(r"^([=*\-~^\"#+])\1{2,}\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+\u2022]|\d{1,3}[.)])\s+(.*)$")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_ABBREVIATION = re.compile(r"\b(e\.g|i\.e|etc|vs|cf|approx|no|fig)\.$", re.IGNORECASE)


@dataclass(frozen=True)
class Unit:
    text: str  # what is quoted, on one line
    context: str  # the heading it sits under ("" when none)
    position: int
    start: int = -1  # where the unit's words lie in the chunk text (a table row: its line);
    end: int = -1  # -1 when not found. Used to pool the unit's vector from the chunk's tokens.


def segment(text: str, heading: str = "", spans: bool = False) -> list[Unit]:
    """The quotable units of `text`, in order; `heading` is the chunk's heading path. With
    `spans`, each unit's `start`/`end` too (ingestion pools unit vectors over them; answering
    needs only the order, so it skips the search)."""
    units: list[str] = []
    contexts: list[str] = []
    first_lines: list[int] = []  # the line each unit starts its search from
    tables: set[int] = set()  # units that are table rows (header pairs: not contiguous text)
    current = heading
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index].rstrip()
        following = lines[index + 1].rstrip() if index + 1 < len(lines) else ""
        if not line.strip():
            index += 1
            continue
        if match := _MARKDOWN_HEADING.match(line.strip()):
            current, index = _nested(heading, match.group(1)), index + 1
            continue
        if _UNDERLINE.match(following) and len(following.strip()) >= len(line.strip()) * 0.6:
            current, index = _nested(heading, line.strip()), index + 2  # reST heading
            continue
        if _UNDERLINE.match(line):
            index += 1
            continue
        block = index
        if line.lstrip().startswith("|"):
            before = len(units)
            index = _table(lines, index, units, contexts, current, first_lines)
            tables.update(range(before, len(units)))
            continue
        if match := _LIST_ITEM.match(line):
            item, index = _continued(lines, index + 1, match.group(1).strip())
            units.append(item)
            contexts.append(current)
            first_lines.append(block)
            continue
        if line.startswith(("   ", "\t")):  # code or grammar: one line, one unit
            units.append(" ".join(line.split()))
            contexts.append(current)
            first_lines.append(block)
            index += 1
            continue
        paragraph, index = _continued(lines, index + 1, line.strip())
        for sentence in _sentences(paragraph):
            units.append(sentence)
            contexts.append(current)
            first_lines.append(block)
    found = _spans(text, lines, units, first_lines, tables) if spans else [(-1, -1)] * len(units)
    return [
        Unit(unit, context, i, *span)
        for i, (unit, context, span) in enumerate(zip(units, contexts, found, strict=True))
    ]


def _spans(
    text: str, lines: list[str], units: list[str], first_lines: list[int], tables: set[int]
) -> list[tuple[int, int]]:
    """Each unit's (start, end) in `text`: its words in order across any whitespace (wrapped
    lines were joined with one space), searched forward from its block; a table row is its
    line. (-1, -1) when a unit cannot be found."""
    offsets, at = [], 0
    for line in text.splitlines(keepends=True):
        offsets.append(at)
        at += len(line)
    spans, cursor = [], 0
    for i, unit in enumerate(units):
        line_start = offsets[first_lines[i]] if first_lines[i] < len(offsets) else len(text)
        if i in tables:
            row = lines[first_lines[i]]
            spans.append((line_start, line_start + len(row)))
            continue
        found = _find_words(text, unit.split(), max(cursor, line_start))
        spans.append(found or (-1, -1))
        cursor = found[1] if found else cursor
    return spans


def _find_words(text: str, words: list[str], start: int) -> tuple[int, int] | None:
    """The first place from `start` where `words` follow each other across whitespace (a
    plain scan: a regex per unit cost more than the rest of answering)."""
    if not words:
        return None
    while (first := text.find(words[0], start)) >= 0:
        end = first + len(words[0])
        for word in words[1:]:
            at = end
            while at < len(text) and text[at].isspace():
                at += 1
            if at == end or not text.startswith(word, at):
                break
            end = at + len(word)
        else:
            return first, end
        start = first + 1
    return None


def _nested(outer: str, inner: str) -> str:
    inner = inner.strip().strip("*").strip()
    if not outer or inner in outer.split(" > "):
        return outer or inner
    return f"{outer} > {inner}"


def _continued(lines: list[str], index: int, text: str) -> tuple[str, int]:
    """Join hard-wrapped continuation lines (not blank, not a new block) onto `text`."""
    parts = [text]
    while index < len(lines):
        line = lines[index].rstrip()
        following = lines[index + 1].rstrip() if index + 1 < len(lines) else ""
        if (
            not line.strip()
            or _LIST_ITEM.match(line)
            or _MARKDOWN_HEADING.match(line.strip())
            or line.lstrip().startswith("|")
            or _UNDERLINE.match(line)
            or _UNDERLINE.match(following)
            or (line.startswith(("   ", "\t")) and not lines[index - 1].startswith(("   ", "\t")))
        ):
            break
        parts.append(line.strip())
        index += 1
    return " ".join(parts), index


def _sentences(paragraph: str) -> list[str]:
    pieces, sentence = [], ""
    for piece in _SENTENCE_END.split(paragraph):
        sentence = f"{sentence} {piece}".strip() if sentence else piece.strip()
        if not _ABBREVIATION.search(sentence):
            pieces.append(sentence)
            sentence = ""
    if sentence:
        pieces.append(sentence)
    return [piece for piece in pieces if piece]


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _table(
    lines: list[str],
    index: int,
    units: list[str],
    contexts: list[str],
    context: str,
    first_lines: list[int],
) -> int:
    """Each body row as `Header: cell; Header: cell` (the header row alone is no fact)."""
    header = _cells(lines[index])
    index += 1
    while index < len(lines) and lines[index].lstrip().startswith("|"):
        row = lines[index]
        row_line = index
        index += 1
        if _TABLE_SEPARATOR.match(row):
            continue
        cells = _cells(row)
        pairs = [f"{name}: {cell}" if name else cell
                 for name, cell in zip(header, cells, strict=False) if cell]  # fmt: skip
        if pairs:
            units.append("; ".join(pairs))
            contexts.append(context)
            first_lines.append(row_line)
    return index
