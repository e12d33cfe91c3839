"""Exactly-once decisions under concurrency, against two real replicas sharing one database:
the same pending call approved twice at the same moment, or approved and rejected at once,
runs at most once, and every response matches what really happened."""

from __future__ import annotations

import threading

import httpx
from conftest import APPROVER_KEY, pending_decisions

from {{ cookiecutter.package_name }}.platform.config import DEVELOPMENT_SECRETS

PAIRS = 10  # of each kind: approve/approve and approve/reject


def test_concurrent_decisions_on_one_call_take_effect_once(replicas, examples, system):
    first, second = replicas(2)
    starter = {"X-API-Key": DEVELOPMENT_SECRETS["api_key"]}
    approver = {"X-API-Key": APPROVER_KEY}
    outcomes: list[tuple[str, list[tuple[str, int, dict]]]] = []
    with httpx.Client(timeout=60) as http:
        for index in range(2 * PAIRS):
            kind = "approve/approve" if index < PAIRS else "approve/reject"
            run = http.post(
                f"{first.url}/v1/runs", json={"task": examples.small.task}, headers=starter
            ).json()
            thread = run["thread_id"]
            actions = kind.split("/")
            bodies = [pending_decisions(run, a, f"{a} #{index}") for a in actions]
            barrier = threading.Barrier(2)
            answers: list[tuple[str, int, dict]] = []

            def send(
                url: str, action: str, body: dict, barrier=barrier, thread=thread, answers=answers
            ) -> None:
                barrier.wait()  # both leave together, to two different replicas
                response = httpx.post(
                    f"{url}/v1/runs/{thread}/decisions", json=body, headers=approver, timeout=60
                )
                answers.append((action, response.status_code, response.json()))

            threads = [
                threading.Thread(target=send, args=(url, action, body))
                for url, action, body in zip((first.url, second.url), actions, bodies, strict=False)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            outcomes.append((kind, answers))

    writes_expected = 0
    for kind, answers in outcomes:
        statuses = sorted(status for _, status, _ in answers)
        assert statuses == [200, 409], (kind, answers)
        (winner,) = [(a, body) for a, status, body in answers if status == 200]
        (loser,) = [body for _, status, body in answers if status == 409]
        assert loser["type"] == "about:blank" and loser["status"] == 409
        action, body = winner
        (call,) = body["tool_calls"]
        assert call["outcome"] == ("ok" if action == "approve" else "rejected"), (kind, body)
        writes_expected += action == "approve"
    assert system.writes() == writes_expected  # one write per approved call, never two
    assert writes_expected >= PAIRS  # every approve/approve pair wrote exactly once
