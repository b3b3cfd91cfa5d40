"""deploy/ is validated statically (no Docker engine or cluster here): hadolint, the compose
schema, kubernetes-validate, and the env example kept in step with the settings."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.settings import env_name, load_settings, setting_fields

DEPLOY = Path(__file__).parents[2] / "deploy"
BIN = Path(sys.executable).parent
MANIFESTS = sorted(p for p in (DEPLOY / "k8s").glob("*.yaml") if p.name != "kustomization.yaml")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False, timeout=120)  # noqa: S603


def test_dockerfile_passes_hadolint() -> None:
    """No hadolint finding at any level."""
    result = run(str(BIN / "hadolint"), "--failure-threshold", "style", str(DEPLOY / "Dockerfile"))
    assert 0 == result.returncode, result.stdout + result.stderr


def test_dockerfile_runs_as_non_root_with_a_healthcheck() -> None:
    """Multi-stage, a numeric non-root user, /healthz health check, SIGTERM."""
    text = (DEPLOY / "Dockerfile").read_text()
    assert 2 == text.count("\nFROM ") + text.startswith("FROM ")
    assert "USER 10001:10001" in text
    assert "/healthz" in text
    assert "STOPSIGNAL SIGTERM" in text


def test_compose_file_matches_the_compose_spec() -> None:
    """The vendored compose-spec schema accepts the file."""
    result = run(
        str(BIN / "check-jsonschema"),
        "--builtin-schema",
        "vendor.compose-spec",
        str(DEPLOY / "compose.yaml"),
    )
    assert 0 == result.returncode, result.stdout + result.stderr


def test_compose_runs_two_replicas_on_a_healthy_postgres() -> None:
    """Two gateway services share one PostgreSQL URL and wait for its health check."""
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    gateways = [name for name in services if name.startswith("gateway-")]
    urls = {services[name]["environment"]["GATEWAY_DATABASE_URL_FILE"] for name in gateways}
    assert (2, 1) == (len(gateways), len(urls))
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert all(
        services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
        for name in gateways
    )


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: p.name)
def test_kubernetes_manifest_is_valid(manifest: Path) -> None:
    """kubernetes-validate (strict: no unknown fields) accepts each manifest."""
    result = run(str(BIN / "kubernetes-validate"), "--strict", "--quiet", str(manifest))
    assert 0 == result.returncode, result.stdout + result.stderr


def test_deployment_probes_and_drain_match_the_gateway() -> None:
    """Readiness on /readyz, liveness on /healthz; the grace period outlasts preStop + drain."""
    deployment = yaml.safe_load((DEPLOY / "k8s" / "deployment.yaml").read_text())
    config = yaml.safe_load((DEPLOY / "k8s" / "configmap.yaml").read_text())["data"]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    drain = float(config["GATEWAY_SHUTDOWN_GRACE_S"])
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert ("/readyz", "/healthz") == (
        container["readinessProbe"]["httpGet"]["path"],
        container["livenessProbe"]["httpGet"]["path"],
    )
    assert pod["terminationGracePeriodSeconds"] > pre_stop + drain
    assert pod["securityContext"]["runAsNonRoot"] is True


def _example() -> dict[str, str]:
    values = {}
    for line in (DEPLOY / "gateway.env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


def test_env_example_lists_exactly_every_setting() -> None:
    """Each Settings field appears once; nothing else does."""
    expected = {env_name(f.name) for f in setting_fields()}
    listed = set(_example())
    assert (set(), set()) == (expected - listed, listed - expected), "missing, extra"


def test_env_example_values_are_the_defaults() -> None:
    """Loading the example gives the same settings as no environment at all."""
    assert load_settings({}).with_(replica_id="x") == load_settings(_example()).with_(
        replica_id="x"
    )


SECRET_NAME = re.compile(r"(KEY|SECRET|PASSWORD|TOKEN)$")


def test_no_secret_is_written_in_deploy() -> None:
    """Nothing in deploy/ fixes a key, secret or password: compose takes each from a file its
    `secrets` service generates on the first start (the mock's AIMLAPI_KEY is no secret: the
    mock takes any key); Kubernetes takes them from a Secret the operator creates."""
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    fixed = {
        (service, name)
        for service, spec in compose["services"].items()
        for name, value in (spec.get("environment") or {}).items()
        if SECRET_NAME.search(name) and value
    }
    mock_upstream = {
        spec["environment"]["GATEWAY_UPSTREAM_URL"]
        for spec in compose["services"].values()
        if "AIMLAPI_KEY" in (spec.get("environment") or {})
    }
    assert (set(), {"http://mock:8100"}) == (
        {(service, name) for service, name in fixed if name != "AIMLAPI_KEY"},
        mock_upstream,
    )
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    manifests = [
        yaml.safe_load((DEPLOY / "k8s" / name).read_text()) for name in kustomization["resources"]
    ]
    assert [] == [m["metadata"]["name"] for m in manifests if m["kind"] == "Secret"]
    placeholders = ("change-me", "replace-me", "changeme")
    assert [] == [
        path.name
        for path in DEPLOY.rglob("*")
        if path.is_file() and any(word in path.read_text().lower() for word in placeholders)
    ]


def _init_secrets() -> Any:
    spec = importlib.util.spec_from_file_location("init_secrets", DEPLOY / "init_secrets.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.init_secrets


def test_the_compose_secrets_are_generated_once_and_agree(tmp_path: Path) -> None:
    """The first start writes each secret (owner-only files); a restart keeps them; the
    database URL holds PostgreSQL's password; two installations never share one."""
    init_secrets = _init_secrets()
    init_secrets(tmp_path / "one")
    first = {p.name: p.read_text() for p in (tmp_path / "one").iterdir()}
    init_secrets(tmp_path / "one")
    again = {p.name: p.read_text() for p in (tmp_path / "one").iterdir()}
    init_secrets(tmp_path / "two")
    other = {p.name: p.read_text() for p in (tmp_path / "two").iterdir()}
    password = first["postgres_password"].strip()
    assert [
        "admin_key",
        "database_url",
        "minio_password",
        "minio_user",
        "postgres_password",
    ] == sorted(first)
    assert first == again
    assert f"postgresql://gateway:{password}@postgres:5432/gateway\n" == first["database_url"]
    assert [] == [name for name in first if first[name] == other[name]]
    assert len(password) >= 40
    assert {0o400} == {(tmp_path / "one" / name).stat().st_mode & 0o777 for name in first}
