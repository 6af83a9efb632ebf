"""The deployment files: every manifest parses, the probes point at real endpoints, and
the Dockerfile has the properties an operator relies on (Docker cannot run here)."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.app import create_app
from gateway.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def manifests() -> dict[str, dict[str, Any]]:
    """Every Kubernetes object of deploy/kubernetes by kind (one of each)."""
    by_kind: dict[str, dict[str, Any]] = {}
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for doc in load_all(path):
            assert doc["kind"] not in by_kind, f"two {doc['kind']} objects"
            by_kind[doc["kind"]] = doc
    return by_kind


def get_routes() -> set[str]:
    """The paths the gateway answers GET on, as built from default settings."""
    app = create_app(Settings())
    return {
        getattr(r, "path", "") for r in app.routes if "GET" in (getattr(r, "methods", None) or ())
    }


@pytest.mark.parametrize(
    "path", sorted(DEPLOY.rglob("*.y*ml")), ids=lambda p: str(p.relative_to(DEPLOY))
)
def test_every_manifest_parses(path: Path) -> None:
    docs = load_all(path)
    assert docs
    for doc in docs:
        assert isinstance(doc, dict)


def test_deployment_probes_point_at_real_endpoints_on_a_real_port() -> None:
    k8s = manifests()
    deployment = k8s["Deployment"]
    assert deployment["spec"]["replicas"] == 3
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    routes = get_routes()
    assert {"/health", "/ready"} <= routes
    probes = {name: container[name]["httpGet"] for name in ("livenessProbe", "readinessProbe")}
    assert probes["livenessProbe"]["path"] == "/health"
    assert probes["readinessProbe"]["path"] == "/ready"
    assert container["startupProbe"]["httpGet"]["path"] in routes
    config = k8s["ConfigMap"]["data"]
    for probe in [*probes.values(), container["startupProbe"]["httpGet"]]:
        assert probe["path"] in routes
        assert ports[probe["port"]] == int(config["TRACSEQ_PORT"])
    # Metrics live on their own port, which the scrape annotations name.
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert int(annotations["prometheus.io/port"]) == int(config["TRACSEQ_METRICS_PORT"])
    assert ports["metrics"] == int(config["TRACSEQ_METRICS_PORT"])
    assert annotations["prometheus.io/path"] == "/metrics"


def test_deployment_resources_security_and_grace_period() -> None:
    k8s = manifests()
    pod = k8s["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind])
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    # The in-flight requests' time after SIGTERM, plus the preStop pause, fits the grace.
    shutdown = int(k8s["ConfigMap"]["data"]["TRACSEQ_SHUTDOWN_TIMEOUT"])
    pause = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pause + shutdown < pod["terminationGracePeriodSeconds"]
    sources = {
        kind: source[kind]["name"]
        for source in container["envFrom"]
        for kind in source
        if kind.endswith("Ref")
    }
    assert sources["configMapRef"] == k8s["ConfigMap"]["metadata"]["name"]
    assert sources["secretRef"] == k8s["Secret"]["metadata"]["name"]


def test_service_and_hpa_target_the_deployment() -> None:
    k8s = manifests()
    deployment = k8s["Deployment"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = k8s["Service"]
    assert service["spec"]["selector"].items() <= labels.items()
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    port_names = {p["name"] for p in container["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names

    hpa = k8s["HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 20)
    targets = {
        m["resource"]["name"]: m["resource"]["target"]["averageUtilization"]
        for m in hpa["spec"]["metrics"]
    }
    assert targets == {"cpu": 70, "memory": 80}
    pdb = k8s["PodDisruptionBudget"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()

    kustomization = load_all(KUBERNETES / "kustomization.yaml")[0]
    files = {p.name for p in KUBERNETES.glob("*.yaml")}
    assert set(kustomization["resources"]) == files - {"kustomization.yaml", "secret.example.yaml"}


def test_configmap_and_compose_settings_are_valid_gateway_settings() -> None:
    config = manifests()["ConfigMap"]["data"]
    secret = manifests()["Secret"]
    assert all(key.startswith("TRACSEQ_") for key in secret["stringData"])
    # What the pod sees: both, through envFrom. Raises, naming the variable, if one is wrong.
    # The example's placeholder secret is refused in production (test_production_secret.py):
    # the pod starts once a real one replaces it.
    with pytest.raises(SettingsError, match="TRACSEQ_JWT_SECRET"):
        Settings.from_env({**config, **secret["stringData"]})
    own = {**secret["stringData"], "TRACSEQ_JWT_SECRET": secrets.token_urlsafe(32)}
    settings = Settings.from_env({**config, **own})
    assert settings.production
    assert settings.workers >= 1
    with pytest.raises(SettingsError, match="production"):
        Settings.from_env(config)  # without the Secret: the default dev secret is refused

    compose = load_all(DEPLOY / "docker-compose.yml")[0]
    services = compose["services"]
    assert {"gateway", "sandbox", "redis"} <= set(services)
    gateway = services["gateway"]
    # Compose interpolates TRACSEQ_JWT_SECRET from the operator's environment.
    env = {**gateway["environment"], "TRACSEQ_JWT_SECRET": secrets.token_urlsafe(32)}
    gateway_settings = Settings.from_env(env)
    assert all("//sandbox:" in url for url in gateway_settings.upstream_urls.values())
    assert {"sandbox", "redis"} <= set(gateway["depends_on"])
    assert any(p.startswith(f"{gateway_settings.port}:") for p in gateway["ports"])
    assert "healthcheck" in services["sandbox"]
    assert "healthcheck" in services["redis"]


def test_dockerfile_is_multi_stage_slim_non_root_with_healthcheck_and_workers_from_env() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    # Join continuation lines, drop comments: one instruction per line.
    lines = [
        line.strip()
        for line in re.sub(r"\\\n", " ", text).splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    stages = [i for i, line in enumerate(lines) if line.upper().startswith("FROM ")]
    assert len(stages) >= 2, "multi-stage"
    final = lines[stages[-1] :]
    assert "slim" in final[0]
    assert any(line.startswith("COPY --from=") for line in final)
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users, "the final stage sets a USER"
    assert users[-1].split(":")[0] not in ("root", "0")
    (healthcheck,) = [line for line in final if line.startswith("HEALTHCHECK")]
    assert "/health" in healthcheck
    env = " ".join(line for line in final if line.startswith("ENV "))
    assert re.search(r"TRACSEQ_WORKERS=\d+", env)
    assert "TRACSEQ_HOST=0.0.0.0" in env
    assert lines[-1] == 'CMD ["tracseq-gateway", "serve"]'
    # The CLI reads the workers from that variable.
    assert Settings.from_env({"TRACSEQ_WORKERS": "4"}).workers == 4
