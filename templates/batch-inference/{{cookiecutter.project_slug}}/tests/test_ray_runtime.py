"""Ray listens on loopback only; accelerator=gpu asks for GPUs only where there are some."""

from __future__ import annotations

import ray

from {{ cookiecutter.package_name }}.ray_runtime import actor_gpus, node_addresses


def test_local_ray_is_bound_to_loopback(ray_cluster):
    assert ray.is_initialized()
    assert node_addresses() == {"127.0.0.1"}
    assert all(node["NodeManagerAddress"] == "127.0.0.1" for node in ray.nodes())


def test_actor_gpus_follow_the_accelerator(settings):
    assert settings.accelerator == "{{ cookiecutter.accelerator }}"
    gpu = settings.model_copy(update={"accelerator": "gpu", "gpus_per_actor": 0.5})
    assert actor_gpus(gpu, available_gpus=4) == 0.5
    assert actor_gpus(gpu, available_gpus=0) == 0.0  # no GPU here: run on CPU, do not hang
    cpu = settings.model_copy(update={"accelerator": "cpu"})
    assert actor_gpus(cpu, available_gpus=4) == 0.0
