"""Three real replicas (uvicorn processes) on one PostgreSQL, and a client that round-robins
across them: a change made through any one replica reaches every replica within a second,
and the audit holds each change exactly once."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fleet import ServiceProcess

pytestmark = pytest.mark.integration
AUTH = {"X-API-Key": "dev-api-key"}
ADMIN = {"Authorization": "Bearer dev-admin-token"}
PROPAGATION_LIMIT = 1.0  # seconds: the promise in the chassis README


class Fleet(list[ServiceProcess]):
    """The replicas, and what a new one needs to join them."""

    def __init__(self, database_url: str, logs: Path) -> None:
        super().__init__()
        self.database_url, self.logs = database_url, logs

    def start_replica(self) -> ServiceProcess:
        name = f"r{len(list(self.logs.glob('*.log')))}"
        env = {"DATABASE_URL": self.database_url, "DATA_DIR": str(self.logs / name)}
        replica = ServiceProcess(env, self.logs / f"{name}.log")
        replica.wait_ready()
        return replica


@pytest.fixture(scope="module")
def fleet(
    new_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fleet]:
    replicas = Fleet(new_database(), tmp_path_factory.mktemp("fleet"))
    try:
        for _ in range(3):
            replicas.append(replicas.start_replica())
        yield replicas
    finally:
        for replica in replicas:
            replica.stop()


def converge(replicas: list[ServiceProcess], check: Callable[[httpx.Client, str], bool]) -> float:
    """Seconds until `check` holds on every replica (each one asked round-robin)."""
    started = time.monotonic()
    pending = {replica.url for replica in replicas}
    with httpx.Client(timeout=5) as client:
        for url in itertools.cycle([replica.url for replica in replicas]):
            if url in pending and check(client, url):
                pending.discard(url)
            if not pending:
                return time.monotonic() - started
            assert time.monotonic() - started < 5 * PROPAGATION_LIMIT, f"{pending} still stale"
            time.sleep(0.01)
    raise AssertionError("unreachable")


def echo(client: httpx.Client, url: str) -> dict:
    response = client.post(f"{url}/v1/echo", json={"message": "hi"}, headers=AUTH)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_change_through_one_replica_reaches_all_within_a_second(fleet: Fleet) -> None:
    first, second, third = (replica.url for replica in fleet)
    with httpx.Client(timeout=5) as client:
        on = client.post(f"{first}/admin/kill-switch", headers=ADMIN,
                         json={"enabled": True, "reason": "bad answers"})  # fmt: skip
        assert on.status_code == 200
        seconds = converge(
            fleet,
            lambda c, u: (
                echo(c, u)["fallback"]
                and c.get(f"{u}/readyz").json()["kill_switch"] is True
                and "service_kill_switch_active 1.0" in c.get(f"{u}/metrics").text
            ),
        )
        assert seconds < PROPAGATION_LIMIT

        off = client.post(f"{second}/admin/kill-switch", headers=ADMIN,
                          json={"enabled": False, "reason": "fixed"})  # fmt: skip
        assert off.status_code == 200
        assert converge(fleet, lambda c, u: not echo(c, u)["fallback"]) < PROPAGATION_LIMIT

        promoted = client.post(f"{second}/admin/releases/promote", headers=ADMIN,
                               json={"release": "v2", "reason": "v2 is better"})  # fmt: skip
        assert promoted.status_code == 200
        seconds = converge(fleet, lambda c, u: echo(c, u)["release"] == "v2")
        assert seconds < PROPAGATION_LIMIT

        rolled = client.post(f"{third}/admin/releases/rollback", headers=ADMIN,
                             json={"reason": "v2 regressed"})  # fmt: skip
        assert rolled.status_code == 200, rolled.text  # on another replica than the promote
        assert converge(fleet, lambda c, u: echo(c, u)["release"] == "v1") < PROPAGATION_LIMIT

        audit = client.get(f"{first}/admin/releases/audit", headers=ADMIN).json()
        assert [entry["action"] for entry in audit] == [
            "kill-switch-on", "kill-switch-off", "promote", "rollback"
        ]  # fmt: skip
        for replica in (first, second, third):
            verified = client.get(f"{replica}/admin/releases/audit/verify", headers=ADMIN)
            assert verified.json()["ok"] and verified.json()["entries"] == 4


def test_a_cache_invalidation_reaches_every_replica(fleet: Fleet) -> None:
    urls = [replica.url for replica in fleet]
    with httpx.Client(timeout=5) as client:
        for url in urls:  # warm every replica's cache
            client.get(f"{url}/v1/notes/alpha", headers=AUTH)
            again = client.get(f"{url}/v1/notes/alpha", headers=AUTH).json()
            assert again["cached"] is True and again["text"] == "version 0"
        assert client.delete(f"{urls[0]}/v1/notes/alpha", headers=AUTH).status_code == 204
        seconds = converge(
            fleet,
            lambda c, u: c.get(f"{u}/v1/notes/alpha", headers=AUTH).json()["text"] == "version 1",
        )
        assert seconds < PROPAGATION_LIMIT


def test_a_replica_started_after_a_sigkill_serves_the_shared_state(fleet: Fleet) -> None:
    with httpx.Client(timeout=5) as client:
        client.post(f"{fleet[0].url}/admin/releases/canary", headers=ADMIN,
                    json={"release": "v3", "weight": 100, "reason": "all on v3"})  # fmt: skip
        converge(fleet, lambda c, u: echo(c, u)["release"] == "v3")
        fleet[1].kill()  # SIGKILL: nothing of its state was flushed anywhere
        replacement = fleet.start_replica()
        fleet[1] = replacement
        assert echo(client, replacement.url)["release"] == "v3"
        client.post(f"{fleet[0].url}/admin/releases/canary", headers=ADMIN,
                    json={"release": None, "weight": 0, "reason": "canary off"})  # fmt: skip
