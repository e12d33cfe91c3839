"""Split documents into overlapping chunks with LangChain text splitters, keeping the source
and the heading path of each chunk as metadata (shown in citations, usable as filters)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

HEADERS = [("#", "h1"), ("##", "h2"), ("###", "h3")]


@dataclass(frozen=True)
class Chunk:
    index: int
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


class Chunker:
    """Markdown is split at headings first (so a chunk never straddles two sections), then
    every section by size with overlap."""

    def __init__(self, chunk_size: int, chunk_overlap: int) -> None:
        self._by_size = RecursiveCharacterTextSplitter(
            chunk_size=chunk_size, chunk_overlap=chunk_overlap
        )
        self._by_heading = MarkdownHeaderTextSplitter(HEADERS, strip_headers=False)

    def split(self, text: str, source: str, content_type: str, title: str = "") -> list[Chunk]:
        base = {"source": source, "content_type": content_type}
        if title:
            base["title"] = title
        sections: list[tuple[str, dict[str, Any]]]
        if content_type in ("text/markdown", "text/html"):
            sections = [
                (doc.page_content, _heading_metadata(doc.metadata))
                for doc in self._by_heading.split_text(text)
            ]
        else:
            sections = [(text, {})]
        chunks: list[Chunk] = []
        for section_text, heading in sections:
            for piece in self._by_size.split_text(section_text):
                if piece.strip():
                    chunks.append(Chunk(len(chunks), piece.strip(), {**base, **heading}))
        return chunks


def _heading_metadata(found: dict[str, Any]) -> dict[str, Any]:
    path = [str(found[level]) for _, level in HEADERS if level in found]
    return {"heading": " > ".join(path)} if path else {}
