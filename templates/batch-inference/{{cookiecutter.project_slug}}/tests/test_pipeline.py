"""The pipeline's failure path and its row parser. (Successful runs end to end: test_api.py
for the API, test_cli.py for the RayJob entrypoint, test_s3_storage.py for S3.)"""

from __future__ import annotations

from pathlib import Path

import pyarrow.fs as pafs
import pytest

from {{ cookiecutter.package_name }}.jobs import predictor_of
from {{ cookiecutter.package_name }}.pipeline import PipelineError, PipelineSpec, parse_line, run_pipeline
from {{ cookiecutter.package_name }}.platform.releases import Release
from {{ cookiecutter.package_name }}.storage import Location

BAD = ["this is not json", '["a", "list"]', '{"id": "c"}', '{"id": "d", "text": ""}']


def _local(path: Path) -> Location:
    return Location(pafs.LocalFileSystem(), str(path), str(path))


def _spec(tmp_path: Path, release: Release, source: Path, **overrides: object) -> PipelineSpec:
    name, config = predictor_of(release)
    values: dict = {
        "input": _local(source),
        "staging": _local(tmp_path / "staging"),
        "output_format": "{{ cookiecutter.output_format }}",
        "predictor": name,
        "predictor_config": config,
        "model": release.model,
        "prompt": release.prompt,
        "operation": "embeddings" if name == "embeddings" else "predict",
        "batch_size": 2,
        "concurrency": 1,
        "progress_interval": 0.1,
    }
    return PipelineSpec(**{**values, **overrides})


def test_pipeline_with_only_bad_rows_fails_and_writes_nothing(
    tmp_path, ray_cluster, active_release
):
    source = tmp_path / "bad.jsonl"
    source.write_text("\n".join(BAD) + "\n", encoding="utf-8")
    spec = _spec(tmp_path, active_release, source)

    seen: list[dict] = []

    with pytest.raises(PipelineError, match="every row was rejected"):
        run_pipeline(spec, on_progress=seen.append)
    assert not spec.staging.exists()
    assert seen[-1]["processed"] == 0 and seen[-1]["failed"] == len(BAD)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "row is not valid JSON"),
        ("42", "row is a JSON int, not an object"),
        ('{"id": 1}', "row 1: field 'text' is missing"),
        ('{"id": "x", "text": 3}', "field 'text' must be a non-empty string"),
        ('{"text": "' + "y" * 30 + '"}', "is over 20 characters"),
    ],
)
def test_parse_line_refuses_bad_rows(line, message):
    with pytest.raises(ValueError, match=message):
        parse_line(line, "text", "id", max_chars=20)


def test_parse_line_hashes_text_when_the_id_is_missing():
    first = parse_line('{"text": "same"}', "text", "id", 100)
    assert first == parse_line('{"text": "same", "other": 1}', "text", "id", 100)
    assert len(first[0]) == 16 and first[1] == "same"
