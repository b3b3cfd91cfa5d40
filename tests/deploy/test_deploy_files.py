"""deploy/ is validated statically (no Docker engine or cluster here): hadolint, the compose
schema, kubernetes-validate, and the env example kept in step with the settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
    urls = {services[name]["environment"]["GATEWAY_DATABASE_URL"] for name in gateways}
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
