"""The LLM batch path (`ray.data.llm` + vLLM): where its extra or a GPU is missing it refuses
in one line naming what is missing; with both, a tiny packaged model generates one row."""

from __future__ import annotations

import importlib.util
import os

import pytest

from {{ cookiecutter.package_name }}.llm_batch import LLMBatchUnavailable, llm_processor
from {{ cookiecutter.package_name }}.ray_runtime import cluster_gpus


def _llm_importable() -> bool:
    try:
        import ray.data.llm  # noqa: F401
    except ImportError:
        return False
    return importlib.util.find_spec("vllm") is not None


def test_without_the_extra_or_a_gpu_it_says_what_is_missing(ray_cluster):
    if _llm_importable() and cluster_gpus() > 0:
        pytest.skip("this machine has the LLM extra and a GPU: the real run below covers it")
    with pytest.raises(LLMBatchUnavailable) as refused:
        llm_processor("/models/none")
    message = str(refused.value)
    assert "\n" not in message and ("ray.data.llm" in message or "GPU" in message)


@pytest.mark.skipif(
    not _llm_importable() or not os.environ.get("LLM_BATCH_MODEL"),
    reason="needs Ray's llm extra (vLLM), a GPU and LLM_BATCH_MODEL (a model folder on disk)",
)
def test_a_gpu_node_generates_text_for_each_row(ray_cluster):
    import ray

    if cluster_gpus() <= 0:
        pytest.skip("Ray sees no GPU")
    processor = llm_processor(os.environ["LLM_BATCH_MODEL"], max_tokens=8, batch_size=2)
    rows = processor(ray.data.from_items([{"text": "Say hello."}, {"text": "Say bye."}]))
    out = rows.take_all()
    assert len(out) == 2 and all(isinstance(r["generated_text"], str) for r in out)
