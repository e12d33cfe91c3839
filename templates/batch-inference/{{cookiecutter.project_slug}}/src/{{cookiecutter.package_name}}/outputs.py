"""Publishing a finished job: staged rows -> output files, dead letters and the manifest.

The pipeline writes every input row to staging, good and bad alike, so Ray Data's
checkpoint covers all of them. Publishing splits them: rows with a prediction go to
`part-NNNNN.<ext>`, rejected rows to `_dead_letter/part-NNNNN.<ext>` (same format, with
`raw` and a `reason`), and a repeated id keeps its first row (lowest file and line); later
ones become dead letters. Each file's rows and SHA-256 go into `_manifest.json`, written
last. Every step is deterministic and overwrites, so a publish interrupted by a crash is
completed by simply running it again.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.json as pajson
import pyarrow.parquet as pq

from .platform.errors import Conflict
from .rows import RAW, REASON, ROW_KEY, where
from .storage import MANIFEST, Location, Storage, read_manifest

log = logging.getLogger(__name__)
DEAD_LETTER = "_dead_letter"
EXTENSIONS = {"parquet": "parquet", "jsonl": "jsonl"}
DEAD_LETTER_COLUMNS = [ROW_KEY, "id", "text", RAW, REASON]


class EmptyOutput(RuntimeError):
    """No row has a prediction: nothing is published (the message is safe to show)."""


@dataclass(frozen=True)
class OutputFile:
    path: str
    rows: int
    sha256: str


@dataclass
class Published:
    """What a publish wrote: the manifest's `files` and `dead_letter`, and row counts."""

    files: list[OutputFile] = field(default_factory=list)
    dead_letter: list[OutputFile] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def failed(self) -> int:
        return sum(f.rows for f in self.dead_letter)

    def manifest_entries(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "rows_failed": self.failed,
            "files": [asdict(f) for f in self.files],
            "dead_letter": [asdict(f) for f in self.dead_letter],
        }


def staged_files(staging: Location) -> list[str]:
    """The data files Ray wrote into staging, sorted (paths relative to staging)."""
    if not staging.exists():
        return []
    selector = pafs.FileSelector(staging.path, recursive=True)
    prefix = len(staging.path.rstrip("/")) + 1
    return sorted(
        info.path[prefix:]
        for info in staging.fs.get_file_info(selector)
        if info.type == pafs.FileType.File and not info.base_name.startswith(("_", "."))
    )


def _read(location: Location, fmt: str, columns: list[str] | None = None) -> pa.Table:
    if fmt == "parquet":
        return pq.read_table(location.path, filesystem=location.fs, columns=columns)
    with location.fs.open_input_stream(location.path) as stream:
        table = pajson.read_json(io.BytesIO(stream.read()))
    return table.select(columns) if columns else table


def _position(row_key: str) -> tuple[str, int]:
    name, _, line = row_key.rpartition(":")
    return name, int(line)


def first_rows(staging: Location, names: list[str], fmt: str) -> dict[str, str]:
    """id -> row_key of its first good row (lowest file, line), over every staged file."""
    first: dict[str, tuple[tuple[str, int], str]] = {}
    for name in names:
        table = _read(staging.child(name), fmt, [ROW_KEY, "id", REASON])
        good = table.filter(pc.is_null(table.column(REASON)))
        keys, ids = good.column(ROW_KEY).to_pylist(), good.column("id").to_pylist()
        for key, row_id in zip(keys, ids, strict=True):
            position = _position(key)
            if row_id not in first or position < first[row_id][0]:
                first[row_id] = (position, key)
    return {row_id: key for row_id, (_, key) in first.items()}


def _encode(table: pa.Table, fmt: str) -> bytes:
    if fmt == "parquet":
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        return bytes(sink.getvalue().to_pybytes())
    lines = table.to_pandas().to_json(orient="records", lines=True, force_ascii=False)
    return str(lines).encode("utf-8")


def _write(location: Location, body: bytes) -> str:
    """Write one object whole (no folder markers on S3); its SHA-256."""
    if isinstance(location.fs, pafs.LocalFileSystem):
        location.fs.create_dir(location.path.rpartition("/")[0], recursive=True)
    with location.fs.open_output_stream(location.path) as stream:
        stream.write(body)
    return hashlib.sha256(body).hexdigest()


def split_rows(table: pa.Table, first: dict[str, str]) -> tuple[pa.Table, pa.Table]:
    """(good rows, dead letters) of one staged table; repeated ids become dead letters."""
    keys, ids = table.column(ROW_KEY).to_pylist(), table.column("id").to_pylist()
    reasons = table.column(REASON).to_pylist()
    for index, (key, row_id, reason) in enumerate(zip(keys, ids, reasons, strict=True)):
        if reason is None and first.get(row_id, key) != key:
            reasons[index] = (
                f"{where(key)}: duplicate id {row_id!r} (first at {where(first[row_id])})"
            )
    marked = table.set_column(
        table.schema.get_field_index(REASON), REASON, pa.array(reasons, pa.string())
    )
    good = marked.filter(pc.is_null(marked.column(REASON))).drop_columns([RAW, REASON])
    dead = marked.filter(pc.is_valid(marked.column(REASON))).select(DEAD_LETTER_COLUMNS)
    return good, dead


def assemble(staging: Location, final: Location, fmt: str) -> Published:
    """Write the output files and dead letters of `staging` into `final` (not the manifest)."""
    names = staged_files(staging)
    first = first_rows(staging, names, fmt)
    if not first:
        reason = "every row was rejected" if names else "the input has no rows"
        raise EmptyOutput(f"input: {reason}; nothing was published")
    published, ext = Published(), EXTENSIONS[fmt]
    for index, name in enumerate(names):
        good, dead = split_rows(_read(staging.child(name), fmt), first)
        part = f"part-{index:05d}.{ext}"
        if good.num_rows:
            digest = _write(final.child(part), _encode(good, fmt))
            published.files.append(OutputFile(part, good.num_rows, digest))
        if dead.num_rows:
            path = f"{DEAD_LETTER}/{part}"
            digest = _write(final.child(path), _encode(dead, fmt))
            published.dead_letter.append(OutputFile(path, dead.num_rows, digest))
    return published


def write_manifest(final: Location, manifest: dict[str, Any]) -> None:
    _write(final.child(MANIFEST), json.dumps(manifest, indent=2, sort_keys=True).encode())


def iter_rows(output: Location, fmt: str, dead_letter: bool = False) -> Iterator[dict[str, Any]]:
    """Rows of a published output (or its dead letters), as the manifest lists them."""
    with output.fs.open_input_stream(output.child(MANIFEST).path) as stream:
        manifest = json.loads(stream.read())
    for entry in manifest["dead_letter" if dead_letter else "files"]:
        yield from _read(output.child(entry["path"]), fmt).to_pylist()


def _published_from(manifest: dict[str, Any]) -> Published:
    return Published(
        [OutputFile(**entry) for entry in manifest.get("files", [])],
        [OutputFile(**entry) for entry in manifest.get("dead_letter", [])],
    )


def publish(
    storage: Storage, staging: Location, output: Location, fmt: str, manifest: dict[str, Any]
) -> Published:
    """Publish `staging` to `output`, manifest last; running it again completes a crashed one.

    Local: the files are assembled in a sibling folder and renamed onto the output (atomic).
    S3 has no rename: objects are written under the output, the manifest last, so readers
    that wait for `_manifest.json` never see a partial output, and a retry overwrites the
    same keys with the same bytes.
    """
    existing = read_manifest(output)
    if existing is not None:
        if existing.get("job_id") == manifest["job_id"]:
            storage.discard(staging)  # published just before a crash: done
            return _published_from(existing)
        raise Conflict(
            f"output={output.uri!r} already exists: outputs are never overwritten", field="output"
        )
    local = isinstance(output.fs, pafs.LocalFileSystem)
    final = storage.staging_for(output, str(manifest["job_id"]), "publish") if local else output
    if local:
        storage.discard(final)  # half of an interrupted publish
    published = assemble(staging, final, fmt)
    write_manifest(final, {**manifest, **published.manifest_entries()})
    if local:
        if output.exists():
            raise Conflict(
                f"output={output.uri!r} already exists: outputs are never overwritten",
                field="output",
            )
        Path(output.path).parent.mkdir(parents=True, exist_ok=True)
        os.rename(final.path, output.path)
    storage.discard(staging)
    log.info("output published", extra={"output": output.uri, "files": len(published.files)})
    return published
