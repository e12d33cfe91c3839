"""Bad rows never stop good ones: each kind of bad row goes to the dead letters with its file,
line and reason; repeated ids keep their first row; too many bad rows fail the job clearly;
a transient predictor error is retried. (Successful runs through the API: test_api.py, the
RayJob entrypoint: test_cli.py{% if cookiecutter.storage == "s3" %}, S3: test_s3_storage.py{% endif %}.)"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from {{ cookiecutter.package_name }} import outputs, predictors
from {{ cookiecutter.package_name }}.jobs import predictor_of
from {{ cookiecutter.package_name }}.outputs import iter_rows, publish
from {{ cookiecutter.package_name }}.pipeline import PipelineError, PipelineSpec, run_pipeline
from {{ cookiecutter.package_name }}.platform.releases import Release
from {{ cookiecutter.package_name }}.predictors import PREDICTORS, Registered, model_digest
from {{ cookiecutter.package_name }}.rows import RowRules, count_rows, parse_raw
from {{ cookiecutter.package_name }}.storage import Location, Storage

RULES = RowRules(max_chars=40)
LINES = [
    b'{"id": "a", "text": "alpha"}',
    b'{"id": "b", "text": "beta"}',
    b"{not json",
    b"",
    b'{"id": "c"}',
    b'{"id": "d", "text": "  "}',
    b'{"id": "e", "text": "caf\xe9"}',  # Latin-1, not UTF-8
    b'{"id": "f", "text": "' + b"x" * 41 + b'"}',
    b'{"id": "a", "text": "alpha again"}',
    b'["a", "list"]',
    b'{"id": {"x": 1}, "text": "an object as id"}',
    b'{"id": 7, "text": "gamma"}',
]
REASONS = {
    "in.jsonl:3": "in.jsonl line 3: not valid JSON "
    "(Expecting property name enclosed in double quotes at column 2)",
    "in.jsonl:4": "in.jsonl line 4: blank line",
    "in.jsonl:5": "in.jsonl line 5: field 'text' is missing",
    "in.jsonl:6": "in.jsonl line 6: field 'text' must be a non-empty string",
    "in.jsonl:7": "in.jsonl line 7: not UTF-8 (byte 0xe9 at offset 24)",
    "in.jsonl:8": "in.jsonl line 8: field 'text' has 41 characters, over MAX_TEXT_CHARS=40",
    "in.jsonl:9": "in.jsonl line 9: duplicate id 'a' (first at in.jsonl line 1)",
    "in.jsonl:10": "in.jsonl line 10: a JSON list, not an object",
    "in.jsonl:11": "in.jsonl line 11: field 'id'={'x': 1} must be a non-empty string or an integer",
}  # fmt: skip


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
        "batch_size": 4,
        "concurrency": 1,
        "total_rows": count_rows(_local(source)),
        "rules": RULES,
        "block_rows": 4,  # three blocks: the repeated id is in another block than its first
        "progress_interval": 0.1,
    }
    return PipelineSpec(**{**values, **overrides})


def test_every_bad_row_goes_to_the_dead_letters_and_the_good_ones_are_published(
    tmp_path, settings, ray_cluster, active_release, monkeypatch
):
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(LINES) + b"\n")
    spec = _spec(tmp_path, active_release, source, max_bad_ratio=0.8)
    output = _local(tmp_path / "out")
    result = run_pipeline(spec)

    def crash(*_: object) -> None:  # the process dies after the data files, before the manifest
        raise OSError("killed mid-publish")

    monkeypatch.setattr(outputs, "write_manifest", crash)
    with pytest.raises(OSError):
        publish(Storage(settings), spec.staging, output, spec.output_format, {"job_id": "j"})
    assert not output.exists() and spec.staging.exists()  # nothing half-published
    monkeypatch.undo()
    published = publish(  # the retry completes it
        Storage(settings), spec.staging, output, spec.output_format, {"job_id": "j"}
    )
    again = publish(Storage(settings), spec.staging, output, spec.output_format, {"job_id": "j"})
    assert again == published  # a publish that already happened is not redone

    assert (result.processed, result.failed) == (4, 8)  # the duplicate is found at publish
    assert (published.rows, published.failed) == (3, 9)
    rows = list(iter_rows(output, spec.output_format))
    assert sorted(row["id"] for row in rows) == ["7", "a", "b"]
    assert {row["id"]: row["text"] for row in rows}["a"] == "alpha"  # the first row wins
    dead = {row["row_key"]: row for row in iter_rows(output, spec.output_format, dead_letter=True)}
    assert {key: row["reason"] for key, row in dead.items()} == REASONS
    assert dead["in.jsonl:7"]["raw"] == '{"id": "e", "text": "caf\\xe9"}'  # kept, visibly
    assert dead["in.jsonl:9"]["text"] == "alpha again"
    manifest = json.loads((tmp_path / "out" / "_manifest.json").read_text(encoding="utf-8"))
    assert (manifest["rows"], manifest["rows_failed"]) == (3, 9)
    assert sum(f["rows"] for f in manifest["dead_letter"]) == 9
    assert not spec.staging.exists()


def test_too_many_bad_rows_fail_the_job_with_a_clear_message(tmp_path, ray_cluster, active_release):
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(LINES) + b"\n")
    spec = _spec(tmp_path, active_release, source, max_bad_ratio=0.25)

    with pytest.raises(PipelineError) as failure:
        run_pipeline(spec)

    message = str(failure.value)
    assert message.startswith("input: ")
    assert "over MAX_BAD_RATIO=0.25; nothing was published" in message
    assert "\n" not in message and "Traceback" not in message


def test_a_transient_predictor_error_is_retried(tmp_path, ray_cluster, monkeypatch, active_release):
    monkeypatch.setitem(
        PREDICTORS, "flaky", Registered("flaky_predictor:FlakyPredictor", "predict")
    )
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a", "text": "alpha"}\n{"id": "b", "text": "be"}\n', "utf-8")
    marker = tmp_path / "failed-once"
    spec = _spec(tmp_path, active_release, source, predictor="flaky",
                 predictor_config={"marker": str(marker)})  # fmt: skip

    result = run_pipeline(spec)

    assert marker.exists() and (result.processed, result.failed) == (2, 0)


def test_each_call_gets_its_texts_by_length_and_outputs_stay_on_their_rows(
    tmp_path, settings, ray_cluster, monkeypatch, active_release
):
    monkeypatch.setitem(PREDICTORS, "probe", Registered("probe_predictor:LengthProbe", "predict"))
    texts = {f"r{i}": "w" * ((i * 7919) % 37 + 1) for i in range(40)}  # lengths out of order
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": k, "text": t}) + "\n" for k, t in texts.items()))
    spec = _spec(tmp_path, active_release, source, predictor="probe", predictor_config={},
                 batch_size=16, block_rows=16)  # fmt: skip
    output = _local(tmp_path / "out")

    run_pipeline(spec)
    publish(Storage(settings), spec.staging, output, spec.output_format, {"job_id": "j"})

    rows = list(iter_rows(output, spec.output_format))
    assert {row["id"]: row["chars"] for row in rows} == {k: len(t) for k, t in texts.items()}
    assert all(row["call_sorted"] for row in rows)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"42", "a JSON int, not an object"),
        (b"   ", "blank line"),
        (b'{"id": 1}', "field 'text' is missing"),
        (b'{"id": "x", "text": 3}', "field 'text' must be a non-empty string"),
        (b'{"text": "' + b"y" * 41 + b'"}', "over MAX_TEXT_CHARS=40"),
        (b'{"id": true, "text": "t"}', "field 'id'=True must be a non-empty string"),
        (b'{"id": "", "text": "t"}', "field 'id'='' must be"),
        (b'{"text": "\xff"}', r"not UTF-8 \(byte 0xff at offset 10\)"),
    ],
)
def test_parse_raw_refuses_bad_rows(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_raw(raw, RULES)


def test_parse_raw_hashes_text_when_the_id_is_missing():
    first = parse_raw(b'{"text": "same"}', RULES)
    assert first == parse_raw(b'{"text": "same", "other": 1}', RULES)
    assert len(first[0]) == 16 and first[1] == "same"
    assert parse_raw(b'{"id": 4, "text": "t"}\r', RULES) == ("4", "t")


def test_the_model_hash_follows_the_model_files_and_the_config(tmp_path, monkeypatch):
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "weights.bin").write_bytes(b"one")

    class Packaged:
        @staticmethod
        def model_path(config: object) -> Path:
            return folder

    monkeypatch.setattr(predictors, "predictor_class", lambda name: Packaged)
    first = model_digest("packaged", {"normalize": True})
    assert model_digest("packaged", {"normalize": True}) == first
    assert model_digest("packaged", {"normalize": False}) != first
    (folder / "sub" / "weights.bin").write_bytes(b"two")
    predictors._files_digest.cache_clear()  # a process caches it: its model never changes
    assert model_digest("packaged", {"normalize": True}) != first
