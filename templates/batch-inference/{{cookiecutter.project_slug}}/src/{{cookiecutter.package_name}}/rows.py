"""Input rows: raw lines with their position, decoded one by one so a bad row stops nothing.

Ray's `read_text` decodes a whole file at once, so one Latin-1 byte fails the file with no
line number. `JsonlLines` reads bytes and keeps each line's position (`row_key`,
"<file>:<line>"), the key Ray Data's checkpointing and the dead-letter output use.
`parse_rows` turns each line into (id, text) or a reason, per row: malformed JSON, not an
object, not UTF-8, blank, missing or empty text, oversize text, a bad id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
from ray.data.block import Block
from ray.data.datasource import FileBasedDatasource

from .storage import INPUT_EXTENSIONS, Location

ROW_KEY = "row_key"
RAW = "raw"
REASON = "reason"
ROWS_SCHEMA = pa.schema(
    [(ROW_KEY, pa.string()), ("id", pa.string()), ("text", pa.string()),
     (RAW, pa.string()), (REASON, pa.string())]
)  # fmt: skip


class JsonlLines(FileBasedDatasource):
    """Every line of every input file as bytes plus its `row_key`, in blocks of `block_rows`.

    Small blocks keep checkpoints fine-grained: a crash loses at most the blocks in flight.
    """

    def __init__(self, paths: str | list[str], *, root: str, block_rows: int, **kwargs: Any):
        super().__init__(paths, **kwargs)
        self.root, self.block_rows = root.rstrip("/"), block_rows

    def _read_stream(self, f: Any, path: str) -> Iterator[Block]:
        name = path[len(self.root) + 1 :] if path.startswith(self.root + "/") else ""
        name = name or path.rsplit("/", 1)[-1]
        lines = f.readall().split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()  # the final newline ends the last line; it is not a blank row
        for start in range(0, len(lines), self.block_rows):
            chunk = lines[start : start + self.block_rows]
            keys = [f"{name}:{start + offset + 1}" for offset in range(len(chunk))]
            raws = [line[:-1] if line.endswith(b"\r") else line for line in chunk]
            yield pa.table({ROW_KEY: pa.array(keys, pa.string()), RAW: pa.array(raws, pa.binary())})


@dataclass(frozen=True)
class RowRules:
    """What makes a row usable: its fields and the largest text accepted."""

    text_field: str = "text"
    id_field: str = "id"
    max_chars: int = 20_000


def where(row_key: str) -> str:
    """'docs.jsonl line 3' for people, from the row key 'docs.jsonl:3'."""
    name, _, line = row_key.rpartition(":")
    return f"{name} line {line}"


def parse_raw(raw: bytes, rules: RowRules) -> tuple[str, str]:
    """(id, text) of one line, or ValueError saying what is wrong with it (no position)."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = raw[exc.start : exc.start + 1].hex()
        raise ValueError(f"not UTF-8 (byte 0x{byte} at offset {exc.start})") from None
    if not line.strip():
        raise ValueError("blank line")
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(record, dict):
        raise ValueError(f"a JSON {type(record).__name__}, not an object")
    text = record.get(rules.text_field)
    if text is None:
        raise ValueError(f"field {rules.text_field!r} is missing")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"field {rules.text_field!r} must be a non-empty string")
    if len(text) > rules.max_chars:
        raise ValueError(
            f"field {rules.text_field!r} has {len(text)} characters, over "
            f"MAX_TEXT_CHARS={rules.max_chars}"
        )
    raw_id = record.get(rules.id_field)
    if raw_id is None:
        return hashlib.sha256(text.encode()).hexdigest()[:16], text
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int) or raw_id == "":
        raise ValueError(
            f"field {rules.id_field!r}={raw_id!r} must be a non-empty string or an integer"
        )
    return str(raw_id), text


def parse_rows(batch: pa.Table, rules: RowRules) -> pa.Table:
    """Every input row, with (id, text) or the reason it is rejected; none is dropped."""
    keys = batch.column(ROW_KEY).to_pylist()
    ids: list[str | None] = []
    texts: list[str | None] = []
    raws: list[str | None] = []
    reasons: list[str | None] = []
    for key, raw in zip(keys, batch.column(RAW).to_pylist(), strict=True):
        try:
            row_id, text = parse_raw(raw, rules)
        except ValueError as exc:
            ids.append(None)
            texts.append(None)
            raws.append(raw.decode("utf-8", errors="backslashreplace"))
            reasons.append(f"{where(key)}: {exc}")
            continue
        ids.append(row_id)
        texts.append(text)
        raws.append(None)
        reasons.append(None)
    return pa.Table.from_arrays([pa.array(keys, pa.string()), pa.array(ids, pa.string()),
                                 pa.array(texts, pa.string()), pa.array(raws, pa.string()),
                                 pa.array(reasons, pa.string())], schema=ROWS_SCHEMA)  # fmt: skip


def input_files(location: Location, extensions: tuple[str, ...] = INPUT_EXTENSIONS) -> list[str]:
    """The files a job reads: the input itself, or a folder's files with these extensions."""
    info = location.fs.get_file_info(location.path)
    if info.type != pafs.FileType.Directory:
        return [location.path]
    selector = pafs.FileSelector(location.path, recursive=True)
    found = location.fs.get_file_info(selector)
    return sorted(
        f.path for f in found if f.type == pafs.FileType.File and f.extension in extensions
    )


def count_rows(location: Location, extensions: tuple[str, ...] = INPUT_EXTENSIONS) -> int:
    """Input rows as `JsonlLines` counts them (the job's total, for progress and ETA)."""
    return scan_input(location, extensions)[0]


def scan_input(
    location: Location, extensions: tuple[str, ...] = INPUT_EXTENSIONS
) -> tuple[int, str]:
    """(rows, SHA-256) of the input: the digest covers each file's name and bytes, in order,
    so the manifest proves which input an output was computed from."""
    total, digest = 0, hashlib.sha256()
    root = location.path.rstrip("/")
    for path in input_files(location, extensions):
        with location.fs.open_input_stream(path) as stream:
            data = stream.readall()
        digest.update(path.removeprefix(root).encode() + b"\0" + data + b"\0")
        total += data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1)
    return total, digest.hexdigest()
