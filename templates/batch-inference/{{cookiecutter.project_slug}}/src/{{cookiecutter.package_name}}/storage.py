"""Where job inputs and outputs live: local files under STORAGE_ROOT{% if cookiecutter.storage == "s3" %} and S3 buckets{% endif %}.

Every location is a pyarrow filesystem plus a path, so Ray Data reads and writes it the same
way in every worker process. A job writes into a staging location; `outputs.publish` moves
only a finished job's files to the output, with `_manifest.json` last.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import Any

import pyarrow.fs as pafs

from .platform.errors import BadRequest, Conflict, Unprocessable
from .settings import Settings

log = logging.getLogger(__name__)
MANIFEST = "_manifest.json"
INPUT_EXTENSIONS = ("jsonl", "json")


@dataclass(frozen=True)
class Location:
    """One file or folder: `fs` and `path` for pyarrow and Ray, `uri` for people."""

    fs: pafs.FileSystem
    path: str
    uri: str

    def child(self, name: str) -> Location:
        path, uri = self.path.rstrip("/"), self.uri.rstrip("/")
        return Location(self.fs, f"{path}/{name}", f"{uri}/{name}")

    def exists(self) -> bool:
        return self.fs.get_file_info(self.path).type != pafs.FileType.NotFound


class Storage:
    """Resolves the paths callers send, refusing any that escape what the service may touch."""

    def __init__(self, settings: Settings) -> None:
        self.root = settings.storage_root.resolve()
        self.local = pafs.LocalFileSystem()
{%- if cookiecutter.storage == "s3" %}
        self.buckets = set(settings.s3_allowed_buckets)
        self.region = settings.aws_region
        self.endpoint_url = settings.aws_endpoint_url
        key, secret = settings.aws_access_key_id, settings.aws_secret_access_key
        self._keys = (key.get_secret_value(), secret.get_secret_value()) if key and secret else None
        self._s3: pafs.S3FileSystem | None = None
{%- endif %}

    def prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def resolve(self, value: str, field: str) -> Location:
        """Turn a request's path or URI into a Location, or raise a 400 naming `field`."""
        if not value.strip():
            raise BadRequest(f"{field}: must not be empty", field=field)
        if "://" in value:
{%- if cookiecutter.storage == "s3" %}
            return self._resolve_s3(value, field)
{%- endif %}
            raise BadRequest(
                f"{field}={value!r}: only paths relative to STORAGE_ROOT are allowed "
                "(this service stores files locally)",
                field=field,
            )
        path = (self.root / value).resolve()
        if path != self.root and self.root not in path.parents:
            raise BadRequest(
                f"{field}={value!r} is outside STORAGE_ROOT: use a path relative to it",
                field=field,
            )
        return Location(self.local, str(path), str(path.relative_to(self.root)))
{%- if cookiecutter.storage == "s3" %}

    def _resolve_s3(self, value: str, field: str) -> Location:
        scheme, _, rest = value.partition("://")
        bucket, _, key = rest.partition("/")
        if scheme != "s3" or not bucket:
            raise BadRequest(
                f"{field}={value!r}: use s3://<bucket>/<key> or a local path", field=field
            )
        if bucket not in self.buckets:
            allowed = ", ".join(sorted(self.buckets)) or "none configured (S3_ALLOWED_BUCKETS)"
            raise BadRequest(
                f"{field}={value!r}: bucket {bucket!r} is not allowed; allowed: {allowed}",
                field=field,
            )
        if ".." in key.split("/"):
            raise BadRequest(f"{field}={value!r}: '..' is not allowed in keys", field=field)
        return Location(self.s3, f"{bucket}/{key}".rstrip("/"), value.rstrip("/"))

    @property
    def s3(self) -> pafs.S3FileSystem:
        """The S3 filesystem, picklable, so Ray workers get the same endpoint and keys."""
        if self._s3 is None:
            options: dict[str, Any] = {"region": self.region}
            if self.endpoint_url:
                scheme, _, host = self.endpoint_url.partition("://")
                options.update(endpoint_override=host.rstrip("/"), scheme=scheme)
            if self._keys:
                options.update(access_key=self._keys[0], secret_key=self._keys[1])
            self._s3 = pafs.S3FileSystem(**options)
        return self._s3

    def _delete_prefix(self, location: Location) -> None:
        bucket, _, key = location.path.partition("/")
        client = self.s3_client()
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
        for page in pages:
            doomed = [
                {"Key": item["Key"]}
                for item in page.get("Contents", [])
                if item["Key"] == key or item["Key"].startswith(key + "/")
            ]
            if doomed:
                client.delete_objects(Bucket=bucket, Delete={"Objects": doomed, "Quiet": True})
        # pyarrow's create_dir (Ray's writes use it) leaves zero-byte "folder" markers for
        # every parent; S3 needs none, and they show up as empty objects in listings.
        parts = key.split("/")[:-1]
        for depth in range(len(parts), 0, -1):
            marker = "/".join(parts[:depth]) + "/"
            try:
                size = client.head_object(Bucket=bucket, Key=marker)["ContentLength"]
            except client.exceptions.ClientError:
                continue
            if size == 0:
                client.delete_object(Bucket=bucket, Key=marker)

    def s3_client(self) -> Any:
        import boto3

        keys = (
            {"aws_access_key_id": self._keys[0], "aws_secret_access_key": self._keys[1]}
            if self._keys
            else {}
        )
        return boto3.client("s3", region_name=self.region, endpoint_url=self.endpoint_url, **keys)
{%- endif %}

    # -- checks ------------------------------------------------------------------------------
    def check_input(self, location: Location, field: str = "input") -> None:
        info = location.fs.get_file_info(location.path)
        if info.type == pafs.FileType.File:
            return
        if info.type == pafs.FileType.Directory:
            selector = pafs.FileSelector(location.path, recursive=True)
            if any(f.extension in INPUT_EXTENSIONS for f in location.fs.get_file_info(selector)):
                return
            raise Unprocessable(
                f"{field}={location.uri!r} is a folder without .jsonl files", field=field
            )
        raise Unprocessable(f"{field}={location.uri!r} does not exist", field=field)

    def check_output(self, location: Location, field: str = "output") -> None:
        if location.exists():
            raise Conflict(
                f"{field}={location.uri!r} already exists: outputs are never overwritten",
                field=field,
            )

    def reachable(self) -> bool:
        """Readiness: the local root is writable{% if cookiecutter.storage == "s3" %} and every allowed bucket answers{% endif %}."""
        self.prepare()
{%- if cookiecutter.storage == "local" %}
        return os.access(self.root, os.W_OK)
{%- else %}
        if not os.access(self.root, os.W_OK):
            return False
{%- endif %}
{%- if cookiecutter.storage == "s3" %}
        client = self.s3_client()
        for bucket in sorted(self.buckets):
            client.head_bucket(Bucket=bucket)
        return True
{%- endif %}

    # -- atomic publishing -------------------------------------------------------------------
    def staging_for(self, output: Location, job_id: str, kind: str = "staging") -> Location:
        """A sibling of the output (`.staging-`, `.checkpoint-`, `.publish-<job>-<name>`), so a
        local publish is one rename on one filesystem."""
        name = f".{kind}-{job_id}"
        parent, _, leaf = output.path.rstrip("/").rpartition("/")
        return Location(output.fs, f"{parent}/{name}-{leaf}", f"{output.uri}{name}")

    def discard(self, location: Location) -> None:
        """Delete a file or folder{% if cookiecutter.storage == "s3" %} (on S3 by prefix: pyarrow's delete_dir leaves a
        zero-byte marker for the parent "folder" behind){% endif %}."""
{%- if cookiecutter.storage == "s3" %}
        if isinstance(location.fs, pafs.S3FileSystem):
            self._delete_prefix(location)
            return
{%- endif %}
        info = location.fs.get_file_info(location.path)
        if info.type == pafs.FileType.Directory:
            location.fs.delete_dir(location.path)
        elif info.type == pafs.FileType.File:
            location.fs.delete_file(location.path)


def read_manifest(location: Location) -> dict[str, Any] | None:
    """The output's `_manifest.json`, or None while it has none (not published yet)."""
    try:
        with location.fs.open_input_stream(location.child(MANIFEST).path) as stream:
            manifest: dict[str, Any] = json.loads(stream.read())
    except FileNotFoundError:
        return None
    return manifest
