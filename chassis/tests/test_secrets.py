"""Secrets: settings locally; in AWS one Secrets Manager secret per service holding a JSON
object of setting names to values (moto), read once per TTL and on rotation; the production
refusal; and no secret in any output.

Shared by every goldenpath template (written once in the kit's chassis).
"""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient
from minimal_service import create_app
from moto import mock_aws
from moto.server import ThreadedMotoServer
from pydantic import SecretStr, ValidationError

from goldenpath_chassis.errors import Unavailable
from goldenpath_chassis.redaction import REDACT
from goldenpath_chassis.secrets import SecretRejected, SecretStore

SECRET_ID = "goldenpath/test/ml-platform/minimal-service"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)


class CountingClient:
    """A real boto3 client (moto behind it) that counts GetSecretValue calls."""

    def __init__(self, client: Any) -> None:
        self.client, self.reads = client, 0

    def get_secret_value(self, **kwargs: Any) -> dict[str, Any]:
        self.reads += 1
        return self.client.get_secret_value(**kwargs)


def put(client: Any, **values: str) -> None:
    """Write the service's one secret: a JSON object of setting names to values."""
    client.put_secret_value(SecretId=SECRET_ID, SecretString=json.dumps(values))


@mock_aws
def test_one_read_serves_every_name_for_the_ttl(aws_env) -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    client.create_secret(
        Name=SECRET_ID,
        SecretString=json.dumps({"api_key": "first-value-123", "admin_token": "admin-1"}),
    )
    counting = CountingClient(client)
    local = {"api_key": SecretStr(""), "admin_token": SecretStr("")}
    store = SecretStore(local, secret_id=SECRET_ID, ttl_seconds=300, client=counting)
    assert store.get("api_key").get_secret_value() == "first-value-123"
    assert store.get("admin_token").get_secret_value() == "admin-1"
    assert counting.reads == 1  # one document, one API call for all names
    put(client, api_key="second-value-456", admin_token="admin-2")
    assert store.get("api_key").get_secret_value() == "first-value-123"  # cached
    assert counting.reads == 1
    store.invalidate()
    assert store.get("api_key").get_secret_value() == "second-value-456"
    assert store.get("admin_token").get_secret_value() == "admin-2"
    assert counting.reads == 2
    assert "second-value-456" not in repr(store) + str(store.get("api_key"))
    assert REDACT("seen admin-2 and second-value-456") == "seen [REDACTED] and [REDACTED]"


@mock_aws
def test_the_document_is_read_again_after_the_ttl(aws_env) -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    client.create_secret(Name=SECRET_ID, SecretString=json.dumps({"api_key": "ttl-value-1"}))
    counting = CountingClient(client)
    store = SecretStore({}, secret_id=SECRET_ID, ttl_seconds=0.05, client=counting)
    assert store.get("api_key").get_secret_value() == "ttl-value-1"
    put(client, api_key="ttl-value-2")
    time.sleep(0.1)
    assert store.get("api_key").get_secret_value() == "ttl-value-2"
    assert counting.reads == 2


@mock_aws
def test_a_rejected_secret_is_refreshed_once(aws_env) -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    client.create_secret(Name=SECRET_ID, SecretString=json.dumps({"model_key": "old-key-0001"}))
    counting = CountingClient(client)
    store = SecretStore({"model_key": SecretStr("")}, secret_id=SECRET_ID, client=counting)
    assert store.get("model_key").get_secret_value() == "old-key-0001"
    put(client, model_key="new-key-0002")
    seen: list[str] = []

    def call_model(secret: SecretStr) -> str:
        seen.append(secret.get_secret_value())
        if secret.get_secret_value() != "new-key-0002":
            raise SecretRejected("401 from the model endpoint")
        return "answered"

    assert store.call_with_rotation("model_key", call_model) == "answered"
    assert seen == ["old-key-0001", "new-key-0002"]
    assert counting.reads == 2  # the rejection cost exactly one more read


@mock_aws
def test_a_missing_secret_or_key_is_a_clear_503_naming_it(aws_env) -> None:
    store = SecretStore({"api_key": SecretStr("")}, secret_id=SECRET_ID)
    with pytest.raises(Unavailable) as raised:
        store.get("api_key")
    assert raised.value.status == 503
    assert repr(SECRET_ID) in str(raised.value)
    client = boto3.client("secretsmanager", region_name="us-east-1")
    client.create_secret(Name=SECRET_ID, SecretString=json.dumps({"admin_token": "hidden-1"}))
    store.invalidate()
    with pytest.raises(Unavailable) as raised:
        store.get("api_key")
    message = str(raised.value)
    assert f"secret {SECRET_ID!r} has no key 'api_key'" in message
    assert "admin_token" in message and "hidden-1" not in message


@mock_aws
@pytest.mark.parametrize(
    "document",
    ["not-json-s3cr3t-value", '["s3cr3t-value"]', '{"api_key": 74110, "admin_token": "s3cr3t"}'],
)
def test_a_secret_that_is_not_a_json_object_of_strings_is_refused(aws_env, document) -> None:
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name=SECRET_ID, SecretString=document
    )
    store = SecretStore({}, secret_id=SECRET_ID)
    with pytest.raises(Unavailable) as raised:
        store.get("api_key")
    assert repr(SECRET_ID) in str(raised.value)
    assert "s3cr3t" not in str(raised.value) and "74110" not in str(raised.value)


@pytest.mark.integration
def test_service_reads_and_rotates_secrets_over_real_http(aws_env, settings, domain_call) -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        client = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=endpoint)
        created = client.create_secret(
            Name=SECRET_ID,
            SecretString=json.dumps(
                {"api_key": "aws-api-key-one", "admin_token": "aws-admin-token-one"}
            ),
        )
        configured = settings.model_copy(
            update={
                "secrets_id": created["ARN"],  # a name or an ARN both work
                "aws_endpoint_url": endpoint,
                "secrets_ttl_seconds": 0.5,
                "auth_mode": "api-key",
            }
        )
        with TestClient(create_app(configured)) as service:
            ok = service.request(**domain_call, headers={"X-API-Key": "aws-api-key-one"})
            assert ok.status_code == 200, ok.text
            dev = service.request(**domain_call, headers={"X-API-Key": "dev-api-key"})
            assert dev.status_code == 401
            admin = {"Authorization": "Bearer aws-admin-token-one"}
            assert service.get("/admin/releases", headers=admin).status_code == 200
            put(client, api_key="aws-api-key-two", admin_token="aws-admin-token-two")
            store = service.app.state.platform.secrets
            store._document = (0.0, store._document[1])  # age the cached document
            rotated = service.request(**domain_call, headers={"X-API-Key": "aws-api-key-two"})
            assert rotated.status_code == 200, rotated.text
            admin = {"Authorization": "Bearer aws-admin-token-two"}
            assert service.get("/admin/releases", headers=admin).status_code == 200
    finally:
        server.stop()


def test_production_refuses_default_or_empty_secrets_naming_them(settings) -> None:
    values = settings.model_dump()
    for name, value in (("admin_token", "dev-admin-token"), ("api_key", "")):
        bad = {**values, "environment": "production", "admin_token": "a-real-admin-secret-1",
               "api_key": "a-real-api-key-secret-1", name: value}  # fmt: skip
        with pytest.raises(ValidationError) as refused:
            type(settings).model_validate(bad)
        assert f"{name.upper()} must be set to a real secret" in str(refused.value)


@mock_aws
def test_production_with_secrets_manager_refuses_a_default_secret(aws_env, settings) -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    client.create_secret(
        Name=SECRET_ID,
        SecretString=json.dumps(
            {"api_key": "a-real-api-key-secret-1", "admin_token": "dev-admin-token"}
        ),
    )
    configured = settings.model_copy(update={"environment": "production", "secrets_id": SECRET_ID})
    with pytest.raises(RuntimeError) as refused:
        create_app(configured)
    assert f"key 'admin_token' of secret {SECRET_ID!r} must be set to a real secret" in str(
        refused.value
    )


def test_a_secret_never_leaves_in_logs_bodies_reprs_or_metrics(capsys, settings, domain_call):
    secret = "zq9-Recognisable-SECRET-4471"
    configured = settings.model_copy(
        update={
            "api_key": SecretStr(secret),
            "admin_token": SecretStr(secret + "-admin"),
            "auth_mode": "api-key",
        }
    )
    seen: list[str] = [repr(configured), str(configured), configured.model_dump_json()]
    oversized = configured.max_body_bytes
    with TestClient(create_app(configured), raise_server_exceptions=False) as client:
        good = {"X-API-Key": secret}
        admin = {"Authorization": f"Bearer {secret}-admin"}
        seen.append(repr(client.app.state.platform))
        calls = [
            client.request(**domain_call, headers=good),
            client.request(**domain_call, headers={"X-API-Key": secret + "x"}),
            client.request(
                domain_call["method"],
                domain_call["url"],
                headers=good,
                content=b'{"broken": ' + secret.encode(),
            ),
            client.request(
                domain_call["method"], domain_call["url"], headers=good, json={"unexpected": secret}
            ),
            client.post(domain_call["url"], headers=good, content=b"x" * 2 * oversized),
            client.get("/admin/releases", headers={"Authorization": f"Bearer {secret}"}),
            client.get("/admin/releases", headers=admin),
            client.post(
                "/admin/releases/promote",
                headers=admin,
                json={"release": secret, "reason": f"token={secret}"},
            ),
            client.get(f"/nowhere/{secret}", headers=good),
            client.get("/metrics"),
            client.get("/readyz"),
        ]
        assert calls[0].status_code == 200
        assert all(call.status_code < 500 for call in calls), [c.status_code for c in calls]
        seen += [call.text for call in calls] + [str(call.headers) for call in calls]
    captured = capsys.readouterr()
    seen += [captured.out, captured.err]
    for text in seen:
        assert secret not in text


def test_a_secret_split_across_streamed_pieces_never_leaves() -> None:
    from goldenpath_chassis.redaction import Redactor

    redactor = Redactor(["sk-live-0123456789abcdef"])
    pieces = ["the key is sk-live-01", "23456789ab", "cdef, keep it safe"]
    streamed = "".join(redactor.stream(pieces))
    assert streamed == "the key is [REDACTED], keep it safe"
    assert all("0123" not in piece for piece in redactor.stream(pieces))
