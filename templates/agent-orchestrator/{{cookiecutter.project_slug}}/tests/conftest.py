"""Shared fixtures: the chassis's contract (settings, app, client, auth_headers, admin_headers,
domain_call), one PostgreSQL per session with a database per test (the chassis's plugin), and
the agent's own: example tasks, the example system
{%- if cookiecutter.llm != "scripted" %},
a local {{ "OpenAI-compatible" if cookiecutter.llm == "openai-compatible" else "Bedrock Converse" }} model server on 127.0.0.1{% endif %}."""

from __future__ import annotations

import json
import os
{% if cookiecutter.llm != "scripted" -%}
import threading
{% endif -%}
from collections.abc import Callable, Iterator
from dataclasses import dataclass
{%- if cookiecutter.llm != "scripted" %}
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
{%- endif %}
from pathlib import Path
from typing import Any

import pytest

from {{ cookiecutter.package_name }}.agent.systems import open_system
from {{ cookiecutter.package_name }}.platform.security import hash_key
from {{ cookiecutter.package_name }}.platform.testing import ServiceProcess
from {{ cookiecutter.package_name }}.settings import Settings

# app, client, auth_headers, admin_headers; a session PostgreSQL and a database per test
pytest_plugins = ["platform_fixtures", "{{ cookiecutter.package_name }}.platform.testing"]

ROOT = Path(__file__).resolve().parents[1]

# Callers: the development key (auth_headers: every tenant, no role) starts runs in the
# default tenant; an approver of the same tenants; a caller of another tenant (an approver
# there, so only the tenant check stops it).
APPROVER_KEY = "test-approver-key-0002"
APPROVER2_KEY = "test-approver-key-0005"
ACME_KEY = "test-acme-user-key-0003"
GLOBEX_KEY = "test-globex-approver-04"
KEY_SETTINGS: dict[str, Any] = {
    "api_key_hashes": [hash_key(k) for k in (APPROVER_KEY, APPROVER2_KEY, ACME_KEY, GLOBEX_KEY)],
    "api_key_tenants": {
        hash_key(APPROVER_KEY): ["default"],
        hash_key(APPROVER2_KEY): ["default"],
        hash_key(ACME_KEY): ["acme"],
        hash_key(GLOBEX_KEY): ["globex"],
    },
    "api_key_roles": {hash_key(k): ["approver"] for k in (APPROVER_KEY, APPROVER2_KEY, GLOBEX_KEY)},
}


@pytest.fixture
def approver_headers() -> dict[str, str]:
    return {"X-API-Key": APPROVER_KEY}


@pytest.fixture
def acme_headers() -> dict[str, str]:
    return {"X-API-Key": ACME_KEY}


@pytest.fixture
def globex_headers() -> dict[str, str]:
    return {"X-API-Key": GLOBEX_KEY}


def pending_decisions(run: dict[str, Any], action: str, message: str, **extra: Any) -> dict:
    """A decision body for every call the run waits on, bound to the hashes it shows."""
    calls = run["pending_approval"]["tool_calls"]
    return {
        "decisions": [
            {"tool_call_id": c["id"], "action": action, "args_hash": c["args_hash"],
             "message": message, **extra}
            for c in calls
        ]
    }  # fmt: skip


@pytest.fixture
def decision_body() -> Callable[..., dict]:
    return pending_decisions


@dataclass(frozen=True)
class Example:
    """A task and the tool calls (name, args) a planner makes for it, in order."""

    task: str
    calls: list[tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class Examples:
    lookup: Example  # one safe read
    several: Example  # three reads, one per planner step
    risky: Example  # one risky write
    small: Example  # a risky write that can be repeated many times (the concurrency test)
    unknown: Example  # a read of something the system does not have (a tool error)
    lookup_tool: str
    risky_tool: str
    risky_edit: dict[str, Any]  # what an approver changes the risky call's arguments to
    risky_edit_done: Callable[[Any], bool]  # whether the edited call is what really ran
    injection: str  # a task whose tool result carries an instruction planted in the data
    two_risky: Example  # two risky calls, one per planner step
    huge: Example  # planned arguments holding a number beyond 64 bits or the schema

{% if cookiecutter.tool_set == "ops" %}
EXAMPLES = Examples(
    lookup=Example(
        "What is the status of checkout?", [("service_status", {"service": "checkout"})]
    ),
    several=Example(
        "Report the status of checkout, payments and search.",
        [("service_status", {"service": name}) for name in ("checkout", "payments", "search")],
    ),
    risky=Example(
        "Please scale checkout to 5",
        [("scale_deployment", {"service": "checkout", "replicas": 5})],
    ),
    small=Example(
        "Please scale search to 4",
        [("scale_deployment", {"service": "search", "replicas": 4})],
    ),
    unknown=Example("What is the status of billing?", [("service_status", {"service": "billing"})]),
    lookup_tool="service_status",
    risky_tool="scale_deployment",
    risky_edit={"service": "checkout", "replicas": 4},
    risky_edit_done=lambda system: system.get("checkout")["replicas"] == 4,
    injection="What is the status of checkout?",
    two_risky=Example(
        "Please scale payments to 3 and then scale search to 6",
        [("scale_deployment", {"service": "payments", "replicas": 3}),
         ("scale_deployment", {"service": "search", "replicas": 6})],
    ),
    huge=Example(
        "Please scale checkout to 99999999999999999999999",
        [("scale_deployment", {"service": "checkout", "replicas": 99999999999999999999999})],
    ),
)  # fmt: skip


def _risky_done(system: Any) -> bool:
    return bool(system.get("checkout")["replicas"] == 5)
{%- else %}
EXAMPLES = Examples(
    lookup=Example("Where is order A-1002?", [("lookup_order", {"order_id": "A-1002"})]),
    several=Example(
        "Compare order A-1001, order A-1002 and order A-1003.",
        [("lookup_order", {"order_id": oid}) for oid in ("A-1001", "A-1002", "A-1003")],
    ),
    risky=Example(
        "Please refund 20 on order A-1001",
        [("issue_refund",
          {"order_id": "A-1001", "reason": "requested by customer", "amount": 20.0})],
    ),
    small=Example(
        "Please refund 1 on order A-1002",
        [("issue_refund",
          {"order_id": "A-1002", "reason": "requested by customer", "amount": 1.0})],
    ),
    unknown=Example("Where is order Z-9999?", [("lookup_order", {"order_id": "Z-9999"})]),
    lookup_tool="lookup_order",
    risky_tool="issue_refund",
    risky_edit={"order_id": "A-1001", "reason": "partial refund", "amount": 5.0},
    risky_edit_done=lambda system: system.get("A-1001")["refunded"] == 5.0,
    injection="Where is order A-1002?",
    two_risky=Example(
        "Please refund 1 on order A-1002 and refund 2 on order A-1003",
        [("issue_refund", {"order_id": oid, "reason": "requested by customer", "amount": amount})
         for oid, amount in (("A-1002", 1.0), ("A-1003", 2.0))],
    ),
    huge=Example(
        "Please refund 99999999999999999999999 on order A-1001",
        [("issue_refund",
          {"order_id": "A-1001", "reason": "requested by customer", "amount": 1e23})],
    ),
)  # fmt: skip


def _risky_done(system: Any) -> bool:
    return bool(system.get("A-1001")["refunded"] == 20.0)
{%- endif %}
{%- if cookiecutter.llm != "scripted" %}


class ModelServer:
    """A stand-in model endpoint on 127.0.0.1 speaking the real wire format over real HTTP.

    It behaves like a model that knows the example tasks: for the latest user task it asks
    for that example's tool calls, one per turn, then answers quoting the last tool result.
    `fail_next` answers that many requests with HTTP 500; `requests` keeps every body.
    """

    def __init__(self) -> None:
        self.scripts = {
            ex.task: ex.calls
            for ex in (
                EXAMPLES.lookup,
                EXAMPLES.several,
                EXAMPLES.risky,
                EXAMPLES.small,
                EXAMPLES.unknown,
                EXAMPLES.two_risky,
                EXAMPLES.huge,
            )
        }
        self.requests: list[dict[str, Any]] = []
        self.fail_next = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, "body": body})
                if server.fail_next > 0:
                    server.fail_next -= 1
                    status, reply = 500, {"message": "model server overloaded"}
                else:
                    status, reply = 200, server.reply(self.path, body)
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def next_step(self, task: str, results: list[str]) -> tuple[str, dict[str, Any]] | str:
        calls = self.scripts.get(task)
        if calls is None:
            return "I can only help with the example tasks."
        if len(results) < len(calls):
            return calls[len(results)]
        return f"Done. Last result: {results[-1]}"
{%- if cookiecutter.llm == "openai-compatible" %}

    def reply(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        assert path == "/v1/chat/completions", path
        messages = body["messages"]
        start = max(i for i, m in enumerate(messages) if m["role"] == "user")
        results = [str(m["content"]) for m in messages[start + 1 :] if m["role"] == "tool"]
        step = self.next_step(messages[start]["content"], results)
        if isinstance(step, str):
            message: dict[str, Any] = {"role": "assistant", "content": step}
            finish = "stop"
        else:
            name, args = step
            call = {"id": f"call_{len(messages)}", "type": "function",
                    "function": {"name": name, "arguments": json.dumps(args)}}  # fmt: skip
            message = {"role": "assistant", "content": None, "tool_calls": [call]}
            finish = "tool_calls"
        return {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49},
        }
{%- else %}

    def reply(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        assert path.startswith("/model/") and path.endswith("/converse"), path
        messages = body["messages"]
        start = max(
            i for i, m in enumerate(messages)
            if m["role"] == "user" and any("text" in block for block in m["content"])
        )  # fmt: skip
        results = [
            "".join(
                part.get("text") or json.dumps(part.get("json"))
                for part in block["toolResult"]["content"]
            )
            for m in messages[start + 1 :]
            for block in m["content"]
            if "toolResult" in block
        ]
        task = next(block["text"] for block in messages[start]["content"] if "text" in block)
        step = self.next_step(task, results)
        if isinstance(step, str):
            content: list[dict[str, Any]] = [{"text": step}]
            stop = "end_turn"
        else:
            name, args = step
            content = [{"toolUse": {"toolUseId": f"tooluse_{len(messages)}", "name": name,
                                    "input": args}}]  # fmt: skip
            stop = "tool_use"
        return {
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": stop,
            "usage": {"inputTokens": 42, "outputTokens": 7, "totalTokens": 49},
            "metrics": {"latencyMs": 3},
        }
{%- endif %}

    def __enter__(self) -> ModelServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture(scope="session")
def model_server() -> Iterator[ModelServer]:
    with ModelServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _model_server_state(model_server: ModelServer) -> Iterator[None]:
    model_server.fail_next = 0
    yield
    model_server.fail_next = 0
{%- endif %}
{%- if cookiecutter.llm == "bedrock" %}


@pytest.fixture(autouse=True)
def _aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore signs every request; these keys only ever reach the local model server."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
{%- endif %}


@pytest.fixture
def examples() -> Examples:
    return EXAMPLES


@pytest.fixture
def risky_done() -> Callable[[Any], bool]:
    """Whether the risky example really changed the system (its record, read back)."""
    return _risky_done


@pytest.fixture
def settings(
    tmp_path: Path,
    database_url: str,
{%- if cookiecutter.llm != "scripted" %}
    model_server: ModelServer,
{%- endif %}
) -> Settings:
    return Settings(
        environment="test",
        data_dir=tmp_path,
        releases_path=ROOT / "releases.yaml",
        model_max_retries=0,
        database_url=database_url,
        database_pool_size=4,
        **KEY_SETTINGS,
{%- if cookiecutter.llm == "openai-compatible" %}
        openai_base_url=f"{model_server.url}/v1",
{%- elif cookiecutter.llm == "bedrock" %}
        bedrock_endpoint_url=model_server.url,
{%- endif %}
    )


def service_env(settings: Settings) -> dict[str, str]:
    """The settings as a deploy passes them: environment variables (JSON for lists/maps)."""
    env = {
        "DATA_DIR": str(settings.data_dir),
        "RELEASES_PATH": str(settings.releases_path),
        "MODEL_MAX_RETRIES": "0",
        "DATABASE_URL": settings.database_url.get_secret_value() if settings.database_url else "",
        "DATABASE_POOL_SIZE": str(settings.database_pool_size),
        "API_KEY_HASHES": json.dumps(settings.api_key_hashes),
        "API_KEY_TENANTS": json.dumps(settings.api_key_tenants),
        "API_KEY_ROLES": json.dumps(settings.api_key_roles),
        "LOG_LEVEL": "WARNING",
        "TOOL_TIMEOUT_SECONDS": "60",  # a loaded CI machine is slow; the timeout has its own test
    }
{%- if cookiecutter.llm == "openai-compatible" %}
    env["OPENAI_BASE_URL"] = settings.openai_base_url
{%- elif cookiecutter.llm == "bedrock" %}
    env["BEDROCK_ENDPOINT_URL"] = settings.bedrock_endpoint_url or ""
{%- endif %}
    return env


@pytest.fixture
def replicas(settings: Settings, tmp_path: Path) -> Iterator[Callable[..., list[ServiceProcess]]]:
    """Start real uvicorn replicas of this service sharing the test's database and data_dir."""
    started: list[ServiceProcess] = []

    def start(count: int = 1, app: str = "{{ cookiecutter.package_name }}.main:create_app",
              **env: str | None) -> list[ServiceProcess]:  # fmt: skip
        """`NAME=None` leaves a setting unset (DATABASE_URL=None: the embedded server)."""
        merged = {k: v for k, v in {**service_env(settings), **env}.items() if v is not None}
        fresh = [
            ServiceProcess(
                app,
                merged,
                tmp_path / "replicas.log",
                cwd=ROOT,
                pythonpath=f"{ROOT / 'src'}{os.pathsep}{ROOT / 'tests'}",
            )  # fmt: skip
            for _ in range(count)
        ]
        started.extend(fresh)
        for replica in fresh:
            replica.wait_ready()
        return fresh

    yield start
    for replica in started:
        replica.stop()


@pytest.fixture
def domain_call() -> dict[str, Any]:
    """One cheap run through the planner and one real tool call."""
    return {"method": "POST", "url": "/v1/runs", "json": {"task": EXAMPLES.lookup.task}}


@pytest.fixture
def system(settings: Settings) -> Iterator[Any]:
    """The example system as the service sees it (same file under data_dir)."""
    opened = open_system(settings.system_path)
    yield opened
    opened.close()


@pytest.fixture
def exercise(
    examples: Examples, admin_headers: dict[str, str], approver_headers: dict[str, str]
) -> Callable[[Any, dict], None]:
    """The domain calls the monitoring contract runs before it scrapes: a run with a tool
    call, a risky run{% if cookiecutter.human_approval == "y" %} approved by a human{% endif %}, and a run under the kill switch."""

    def run(client: Any, headers: dict[str, str]) -> None:
        done = client.post("/v1/runs", json={"task": examples.lookup.task}, headers=headers)
        assert done.status_code == 200 and done.json()["tool_calls"], done.text
        risky = client.post("/v1/runs", json={"task": examples.risky.task}, headers=headers)
        assert risky.status_code == 200, risky.text
{%- if cookiecutter.human_approval == "y" %}
        thread_id = risky.json()["thread_id"]
        decision = pending_decisions(risky.json(), "approve", "contract: approved")
        approved = client.post(
            f"/v1/runs/{thread_id}/decisions", json=decision, headers=approver_headers
        )
        assert approved.status_code == 200, approved.text
{%- endif %}
        change = {"enabled": True, "reason": "contract: fallback path"}
        client.post("/admin/kill-switch", json=change, headers=admin_headers)
        held = client.post("/v1/runs", json={"task": examples.lookup.task}, headers=headers)
        assert held.status_code == 200, held.text
        change = {"enabled": False, "reason": "contract: back on the model path"}
        client.post("/admin/kill-switch", json=change, headers=admin_headers)

    return run
