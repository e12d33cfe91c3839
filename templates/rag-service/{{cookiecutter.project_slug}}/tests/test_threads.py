"""The local model's threads follow the container's CPU quota (or the setting), not the
node's core count, and the choice is logged at start-up."""

from __future__ import annotations

import logging
import os

import pytest

from {{ cookiecutter.package_name }}.threads import (
    ThreadBudget,
    apply_thread_budget,
    cgroup_cpu_quota,
    thread_budget,
)

AVAILABLE = len(os.sched_getaffinity(0))


def write(root, files: dict[str, str]):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.mark.parametrize(
    ("files", "quota"),
    [
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "50000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 0.5),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({}, None),
        ({"cpu.max": "garbage\n"}, None),
    ],
)
def test_the_cgroup_quota_is_read_from_v2_or_v1(tmp_path, files, quota):
    assert cgroup_cpu_quota(write(tmp_path, files)) == quota


def test_a_quota_below_the_cpus_sizes_the_pool_and_a_setting_wins(tmp_path):
    root = write(tmp_path, {"cpu.max": "50000 100000\n"})
    assert thread_budget(None, root) == ThreadBudget(1, "cgroup CPU quota 0.5")
    assert thread_budget(3, root) == ThreadBudget(3, "setting MODEL_THREADS")
    unlimited = write(tmp_path / "u", {"cpu.max": "max 100000\n"})
    assert thread_budget(None, unlimited) == ThreadBudget(AVAILABLE, "CPU affinity")


def test_the_budget_is_applied_to_torch_and_logged(caplog):
    import torch

    before = torch.get_num_threads()
    try:
        with caplog.at_level(logging.INFO):
            apply_thread_budget(ThreadBudget(1, "setting MODEL_THREADS"))
        assert torch.get_num_threads() == 1
        record = next(r for r in caplog.records if r.getMessage() == "model threads sized")
        assert (record.threads, record.source) == (1, "setting MODEL_THREADS")
    finally:
        torch.set_num_threads(before)


def test_questions_leave_the_event_loop_a_core_and_ingestion_keeps_every_thread(
    minilm, monkeypatch
):
    """A question pass runs with one thread fewer than the budget (never under one); a job
    on the model thread (ingestion's encode) with the whole budget."""
    import torch

    assert [ThreadBudget(n, "t").question_threads for n in (1, 2, 8)] == [1, 1, 7]
    before = minilm.budget
    seen: list[int] = []
    original = minilm._embed_questions

    def recorded(texts):
        seen.append(torch.get_num_threads())
        return original(texts)

    monkeypatch.setattr(minilm, "_embed_questions", recorded)
    try:
        minilm.set_budget(ThreadBudget(2, "setting MODEL_THREADS"))
        minilm.embed_query("When does the rotation change?")
        assert seen == [1]
        assert minilm.run(torch.get_num_threads) == 2
    finally:
        minilm.set_budget(before)
