"""Secrets: settings locally, AWS Secrets Manager (moto) with a TTL cache and rotation, the
production refusal, and no secret in any output.

Shared by every goldenpath template (written once in the kit's chassis).
"""

from __future__ import annotations

import boto3
import pytest
from fastapi.testclient import TestClient
from moto import mock_aws
from moto.server import ThreadedMotoServer
from pydantic import SecretStr, ValidationError

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.platform.secrets import SecretRejected, SecretStore

PREFIX = "{{ cookiecutter.project_slug }}/test"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)


@mock_aws
def test_secrets_manager_values_are_cached_for_the_ttl(aws_env) -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    client.create_secret(Name=f"{PREFIX}/api_key", SecretString="first-value-123")
    store = SecretStore({"api_key": SecretStr("")}, prefix=PREFIX, ttl_seconds=300)
    assert store.get("api_key").get_secret_value() == "first-value-123"
    client.put_secret_value(SecretId=f"{PREFIX}/api_key", SecretString="second-value-456")
    assert store.get("api_key").get_secret_value() == "first-value-123"  # cached
    store.invalidate("api_key")
    assert store.get("api_key").get_secret_value() == "second-value-456"
    assert "second-value-456" not in repr(store) + str(store.get("api_key"))


@mock_aws
def test_a_rejected_secret_is_refreshed_once(aws_env) -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    client.create_secret(Name=f"{PREFIX}/model_key", SecretString="old-key-0001")
    store = SecretStore({"model_key": SecretStr("")}, prefix=PREFIX)
    assert store.get("model_key").get_secret_value() == "old-key-0001"
    client.put_secret_value(SecretId=f"{PREFIX}/model_key", SecretString="new-key-0002")
    seen: list[str] = []

    def call_model(secret: SecretStr) -> str:
        seen.append(secret.get_secret_value())
        if secret.get_secret_value() != "new-key-0002":
            raise SecretRejected("401 from the model endpoint")
        return "answered"

    assert store.call_with_rotation("model_key", call_model) == "answered"
    assert seen == ["old-key-0001", "new-key-0002"]


@mock_aws
def test_a_missing_secret_is_a_clear_503_naming_it(aws_env) -> None:
    store = SecretStore({"api_key": SecretStr("")}, prefix=PREFIX)
    with pytest.raises(Exception) as raised:
        store.get("api_key")
    assert getattr(raised.value, "status", None) == 503
    assert f"{PREFIX}/api_key" in str(raised.value)


@pytest.mark.integration
def test_service_reads_and_rotates_secrets_over_real_http(aws_env, settings, domain_call) -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        client = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=endpoint)
        client.create_secret(Name=f"{PREFIX}/api_key", SecretString="aws-api-key-one")
        client.create_secret(Name=f"{PREFIX}/admin_token", SecretString="aws-admin-token-one")
        configured = settings.model_copy(
            update={
                "secrets_prefix": PREFIX,
                "aws_endpoint_url": endpoint,
                "secrets_ttl_seconds": 0.5,
                "auth_mode": "api-key",
            }  # fmt: skip
        )
        with TestClient(create_app(configured)) as service:
            ok = service.request(**domain_call, headers={"X-API-Key": "aws-api-key-one"})
            assert ok.status_code == 200, ok.text
            dev = service.request(**domain_call, headers={"X-API-Key": "dev-api-key"})
            assert dev.status_code == 401
            admin = {"Authorization": "Bearer aws-admin-token-one"}
            assert service.get("/admin/releases", headers=admin).status_code == 200
            client.put_secret_value(SecretId=f"{PREFIX}/api_key", SecretString="aws-api-key-two")
            service.app.state.platform.secrets._cache["api_key"] = (  # age the cached value
                0.0,
                service.app.state.platform.secrets._cache["api_key"][1],
            )
            rotated = service.request(**domain_call, headers={"X-API-Key": "aws-api-key-two"})
            assert rotated.status_code == 200, rotated.text
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
    client.create_secret(Name=f"{PREFIX}/api_key", SecretString="a-real-api-key-secret-1")
    client.create_secret(Name=f"{PREFIX}/admin_token", SecretString="dev-admin-token")
    configured = settings.model_copy(update={"environment": "production", "secrets_prefix": PREFIX})
    with pytest.raises(RuntimeError, match=f"{PREFIX}/admin_token must be set to a real secret"):
        create_app(configured)


def test_a_secret_never_leaves_in_logs_bodies_reprs_or_metrics(capsys, settings, domain_call):
    secret = "zq9-Recognisable-SECRET-4471"
    configured = settings.model_copy(
        update={
            "api_key": SecretStr(secret),
            "admin_token": SecretStr(secret + "-admin"),
            "auth_mode": "api-key",
        }  # fmt: skip
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
            ),  # fmt: skip
            client.request(
                domain_call["method"], domain_call["url"], headers=good, json={"unexpected": secret}
            ),  # fmt: skip
            client.post(domain_call["url"], headers=good, content=b"x" * 2 * oversized),
            client.get("/admin/releases", headers={"Authorization": f"Bearer {secret}"}),
            client.get("/admin/releases", headers=admin),
            client.post(
                "/admin/releases/promote",
                headers=admin,
                json={"release": secret, "reason": f"token={secret}"},
            ),  # fmt: skip
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
