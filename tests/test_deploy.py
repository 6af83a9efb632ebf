"""The deployment files as an operator relies on them: every manifest parses, the probes
point at real endpoints, the image, the Kubernetes set and compose agree on one tag scheme,
the applied set carries no example secret, and the Dockerfile keeps the sandbox out of the
production image (Docker cannot run here: the files are read as data)."""

from __future__ import annotations

import re
import secrets
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from gateway.app import create_app
from gateway.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
MONITORING = DEPLOY / "kubernetes-monitoring"
EXAMPLES = DEPLOY / "examples"
COMPOSE = DEPLOY / "docker-compose.yml"
IMAGE = "tracseq-gateway"


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def kustomization(directory: Path) -> dict[str, Any]:
    return load_all(directory / "kustomization.yaml")[0]


def applied(directory: Path) -> Iterator[dict[str, Any]]:
    """The objects `kubectl apply -k directory` sends, before kustomize's transformations:
    its resources, following directory resources (as kustomize does)."""
    for resource in kustomization(directory)["resources"]:
        path = (directory / resource).resolve()
        if path.is_dir():
            yield from applied(path)
        else:
            yield from load_all(path)


def objects() -> list[dict[str, Any]]:
    """Every Kubernetes object of the default set, deploy/kubernetes."""
    return list(applied(KUBERNETES))


def only(kind: str, docs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    (doc,) = [d for d in (objects() if docs is None else docs) if d["kind"] == kind]
    return doc


def services() -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in objects() if d["kind"] == "Service"}


def container() -> dict[str, Any]:
    (gateway,) = only("Deployment")["spec"]["template"]["spec"]["containers"]
    return gateway


def pod_labels() -> dict[str, str]:
    return only("Deployment")["spec"]["template"]["metadata"]["labels"]


def version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return str(tomllib.load(file)["project"]["version"])


def get_routes() -> set[str]:
    """The paths the gateway answers GET on, as built from default settings."""
    app = create_app(Settings())
    return {
        getattr(r, "path", "") for r in app.routes if "GET" in (getattr(r, "methods", None) or ())
    }


def strong_secret() -> str:
    return secrets.token_urlsafe(48)


# -- Kubernetes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", sorted(DEPLOY.rglob("*.y*ml")), ids=lambda p: str(p.relative_to(DEPLOY))
)
def test_every_manifest_parses(path: Path) -> None:
    docs = load_all(path)
    assert docs
    for doc in docs:
        assert isinstance(doc, dict)


def test_deployment_probes_point_at_real_endpoints_on_a_real_port() -> None:
    deployment = only("Deployment")
    gateway = container()
    ports = {p["name"]: p["containerPort"] for p in gateway["ports"]}
    routes = get_routes()
    assert {"/health", "/ready"} <= routes
    probes = {name: gateway[name]["httpGet"] for name in ("livenessProbe", "readinessProbe")}
    assert probes["livenessProbe"]["path"] == "/health"
    assert probes["readinessProbe"]["path"] == "/ready"
    config = only("ConfigMap")["data"]
    for probe in [*probes.values(), gateway["startupProbe"]["httpGet"]]:
        assert probe["path"] in routes
        assert ports[probe["port"]] == int(config["TRACSEQ_PORT"])
    # Metrics live on their own port, which the scrape annotations name.
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert int(annotations["prometheus.io/port"]) == int(config["TRACSEQ_METRICS_PORT"])
    assert ports["metrics"] == int(config["TRACSEQ_METRICS_PORT"])
    assert annotations["prometheus.io/path"] == "/metrics"


def test_deployment_resources_security_and_grace_period_cover_prestop_and_shutdown() -> None:
    pod = only("Deployment")["spec"]["template"]["spec"]
    gateway = container()
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(gateway["resources"][kind])
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert gateway["securityContext"]["allowPrivilegeEscalation"] is False
    # The in-flight requests' time after SIGTERM, plus the preStop pause, fits the grace.
    shutdown = int(only("ConfigMap")["data"]["TRACSEQ_SHUTDOWN_TIMEOUT"])
    pause = int(gateway["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pause + shutdown < pod["terminationGracePeriodSeconds"]


def test_deployment_leaves_the_replica_count_to_the_hpa() -> None:
    deployment = only("Deployment")
    assert "replicas" not in deployment["spec"]
    target = only("HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])


def test_hpa_has_no_memory_target_unless_memory_request_equals_limit() -> None:
    hpa = only("HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    resources = {m["resource"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Resource"}
    assert "cpu" in resources
    if "memory" in resources:
        limits = container()["resources"]
        assert limits["requests"]["memory"] == limits["limits"]["memory"]
    assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]


def test_image_is_named_without_registry_or_tag_and_kustomize_sets_both() -> None:
    assert container()["image"] == IMAGE
    (image,) = [i for i in kustomization(KUBERNETES)["images"] if i["name"] == IMAGE]
    assert "/" in image["newName"], "a registry"
    assert image["newName"].rsplit("/", 1)[-1] == IMAGE
    assert image["newTag"] == version()


def test_dockerfile_and_compose_use_the_same_tag_scheme_as_kustomize() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert f"docker build -t {IMAGE}:{version()} ." in text
    assert f"--target demo -t {IMAGE}:{version()}-demo ." in text
    assert re.search(rf"^ARG VERSION={re.escape(version())}$", text, re.MULTILINE)
    compose = load_all(COMPOSE)[0]["services"]
    assert compose["gateway"]["image"] == f"{IMAGE}:{version()}"
    assert compose["sandbox"]["image"] == f"{IMAGE}:{version()}-demo"


def test_pdb_bounds_unavailable_pods_and_lets_unhealthy_ones_be_evicted() -> None:
    pdb = only("PodDisruptionBudget")
    assert "minAvailable" not in pdb["spec"]
    assert (
        1 <= pdb["spec"]["maxUnavailable"] < only("HorizontalPodAutoscaler")["spec"]["minReplicas"]
    )
    assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels().items()


def test_the_secret_is_required_and_never_in_the_applied_set() -> None:
    secret_refs = [s["secretRef"] for s in container()["envFrom"] if "secretRef" in s]
    assert secret_refs
    assert all("optional" not in ref for ref in secret_refs)
    example = only("Secret", load_all(EXAMPLES / "secret.example.yaml"))
    assert {ref["name"] for ref in secret_refs} == {example["metadata"]["name"]}
    # Neither kustomize's set nor `kubectl apply -f deploy/kubernetes` takes a Secret.
    assert all(doc["kind"] != "Secret" for doc in objects())
    assert all(doc["kind"] != "Secret" for doc in applied(MONITORING))
    for path in KUBERNETES.rglob("*.y*ml"):
        assert all(doc["kind"] != "Secret" for doc in load_all(path)), path


def test_example_secret_holds_only_placeholders_that_production_would_refuse() -> None:
    example = only("Secret", load_all(EXAMPLES / "secret.example.yaml"))
    data = example["stringData"]
    assert all(key.startswith("TRACSEQ_") for key in data)
    assert all("REPLACE-ME" in value for value in data.values())
    # Applied as it is, the example does not start a production gateway.
    config = only("ConfigMap")["data"]
    with pytest.raises(SettingsError, match="TRACSEQ_JWT_SECRET"):
        Settings.from_env({**config, **data})


def test_configmap_with_a_real_secret_is_a_valid_production_configuration() -> None:
    config = only("ConfigMap")["data"]
    example = only("Secret", load_all(EXAMPLES / "secret.example.yaml"))["stringData"]
    real = {"TRACSEQ_JWT_SECRET": strong_secret(), "TRACSEQ_REDIS_URL": "redis://redis:6379/0"}
    assert set(real) == set(example)
    # What the pod sees: both, through envFrom. Raises, naming the variable, if one is wrong.
    settings = Settings.from_env({**config, **real})
    assert settings.production
    assert settings.workers >= 1
    with pytest.raises(SettingsError, match="production"):
        Settings.from_env(config)  # without the Secret: the default dev secret is refused
    sources = {kind: src[kind]["name"] for src in container()["envFrom"] for kind in src}
    assert sources["configMapRef"] == only("ConfigMap")["metadata"]["name"]


def test_mounted_secret_example_points_the_secret_file_variable_at_its_mount() -> None:
    (patch,) = load_all(EXAMPLES / "jwt-secret-file.patch.yaml")
    pod = patch["spec"]["template"]["spec"]
    (gateway,) = pod["containers"]
    assert gateway["name"] == container()["name"]
    env = {e["name"]: e["value"] for e in gateway["env"]}
    (mount,) = gateway["volumeMounts"]
    (volume,) = pod["volumes"]
    assert mount["name"] == volume["name"]
    assert mount["readOnly"] is True
    assert volume["secret"]["secretName"]
    # Without `items`, each key of the Secret is a file of the mount, named after the key.
    assert "items" not in volume["secret"]
    assert Path(env["TRACSEQ_JWT_SECRET_FILE"]).parent == Path(mount["mountPath"])


def test_every_kubernetes_file_is_in_the_default_set_except_the_servicemonitor() -> None:
    listed = set(kustomization(KUBERNETES)["resources"])
    files = {p.name for p in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == files
    assert "networkpolicy.yaml" in listed
    assert all(doc["kind"] != "ServiceMonitor" for doc in objects())


def test_kustomizations_set_one_namespace() -> None:
    namespace = kustomization(KUBERNETES)["namespace"]
    assert namespace
    assert namespace != "default"
    assert kustomization(MONITORING)["namespace"] == namespace
    example = only("Secret", load_all(EXAMPLES / "secret.example.yaml"))
    assert example["metadata"]["namespace"] == namespace


def test_pods_mount_no_service_account_token() -> None:
    pod = only("Deployment")["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    account = only("ServiceAccount")
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    assert account["automountServiceAccountToken"] is False


def test_metrics_port_is_only_on_its_own_headless_service() -> None:
    metrics_port = next(p for p in container()["ports"] if p["name"] == "metrics")
    by_name = services()
    public = by_name["tracseq-gateway"]
    for port in public["spec"]["ports"]:
        assert port["targetPort"] not in ("metrics", metrics_port["containerPort"])
        assert port["port"] != metrics_port["containerPort"]
    (metrics,) = [s for s in by_name.values() if s is not public]
    assert metrics["spec"]["clusterIP"] == "None"
    assert [p["targetPort"] for p in metrics["spec"]["ports"]] == ["metrics"]
    for service in (public, metrics):
        assert service["spec"]["selector"].items() <= pod_labels().items()
    ports = {p["name"] for p in container()["ports"]}
    assert {p["targetPort"] for p in public["spec"]["ports"]} <= ports


def test_servicemonitor_selects_the_metrics_service_alone() -> None:
    assert set(kustomization(MONITORING)["resources"]) == {"../kubernetes", "servicemonitor.yaml"}
    (monitor,) = load_all(MONITORING / "servicemonitor.yaml")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["kind"] == "ServiceMonitor"
    wanted = monitor["spec"]["selector"]["matchLabels"].items()
    selected = [s for s in services().values() if wanted <= s["metadata"]["labels"].items()]
    assert [s["metadata"]["name"] for s in selected] == ["tracseq-gateway-metrics"]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in selected[0]["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"


def _peer_namespaces(rule: Mapping[str, Any]) -> set[str]:
    return {
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for peer in rule["from"]
    }


def test_networkpolicy_admits_http_from_ingress_and_metrics_from_monitoring_only() -> None:
    policy = only("NetworkPolicy")
    spec = policy["spec"]
    assert spec["podSelector"]["matchLabels"].items() <= pod_labels().items()
    assert set(spec["policyTypes"]) == {"Ingress", "Egress"}
    rules = {port["port"]: rule for rule in spec["ingress"] for port in rule["ports"]}
    assert set(rules) == {"http", "metrics"}
    # Each rule names its namespaces, and no rule admits from anywhere.
    assert _peer_namespaces(rules["http"]).isdisjoint(_peer_namespaces(rules["metrics"]))
    for rule in spec["ingress"]:
        assert rule["from"]
        assert all("namespaceSelector" in peer for peer in rule["from"])


def test_networkpolicy_egress_reaches_the_upstreams_redis_and_dns_only() -> None:
    config = only("ConfigMap")["data"]
    upstream_ports = {
        urlsplit(value).port for key, value in config.items() if key.endswith("_URL") and value
    }
    example = only("Secret", load_all(EXAMPLES / "secret.example.yaml"))["stringData"]
    redis_port = urlsplit(example["TRACSEQ_REDIS_URL"]).port
    egress = only("NetworkPolicy")["spec"]["egress"]
    allowed = {(p["port"], p["protocol"]) for rule in egress for p in rule["ports"]}
    wanted = {(port, "TCP") for port in upstream_ports | {redis_port}}
    assert allowed == wanted | {(53, "UDP"), (53, "TCP")}
    for rule in egress:
        assert rule["to"], "every egress rule names its peers"


def test_checkov_skips_are_annotations_with_a_reason() -> None:
    for path in [*KUBERNETES.glob("*.yaml"), *MONITORING.glob("*.yaml"), *EXAMPLES.glob("*.yaml")]:
        for doc in load_all(path):
            annotations = doc.get("metadata", {}).get("annotations", {})
            for key, value in annotations.items():
                if key.startswith("checkov.io/skip"):
                    check, reason = value.split("=")  # checkov reads exactly one "="
                    assert re.fullmatch(r"CKV2?_K8S_\d+", check), (path, key)
                    assert len(reason.split()) >= 3, (path, key)


# -- Compose ---------------------------------------------------------------------------------

_REFERENCE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:\?|:-)(?P<arg>[^}]*))?\}")


class MissingVariable(Exception):
    pass


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error}, as Compose v2 reads them."""

    def replace(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        if env.get(name):
            return env[name]
        if op == ":?":
            raise MissingVariable(f"{name}: {arg}")
        return arg if op == ":-" else ""

    return _REFERENCE.sub(replace, value)


def compose_environment(service: str, env: Mapping[str, str]) -> dict[str, str]:
    raw = load_all(COMPOSE)[0]["services"][service]["environment"]
    return {key: interpolate(str(value), env) for key, value in raw.items()}


def test_compose_publishes_every_port_on_loopback_only() -> None:
    published = [
        str(port)
        for service in load_all(COMPOSE)[0]["services"].values()
        for port in service.get("ports", [])
    ]
    assert published
    assert all(port.startswith("127.0.0.1:") for port in published)


def test_compose_requires_the_jwt_secret_and_has_no_default_for_it() -> None:
    for service in ("gateway", "sandbox"):
        raw = load_all(COMPOSE)[0]["services"][service]["environment"]["TRACSEQ_JWT_SECRET"]
        match = _REFERENCE.fullmatch(raw)
        assert match
        assert match["op"] == ":?"
        assert "TRACSEQ_JWT_SECRET" in match["arg"]
        with pytest.raises(MissingVariable, match="TRACSEQ_JWT_SECRET"):
            compose_environment(service, {})
    secret = strong_secret()
    assert compose_environment("sandbox", {"TRACSEQ_JWT_SECRET": secret})["TRACSEQ_JWT_SECRET"] == (
        secret
    )


def test_compose_gateway_runs_the_production_image_against_the_sandbox() -> None:
    compose = load_all(COMPOSE)[0]
    services_ = compose["services"]
    assert {"gateway", "sandbox", "redis"} <= set(services_)
    gateway = services_["gateway"]
    env = compose_environment("gateway", {"TRACSEQ_JWT_SECRET": strong_secret()})
    settings = Settings.from_env(env)
    assert settings.production
    assert all("//sandbox:" in url for url in settings.upstream_urls.values())
    assert {"sandbox", "redis"} <= set(gateway["depends_on"])
    assert any(str(p).endswith(f":{settings.port}:{settings.port}") for p in gateway["ports"])
    stages = dockerfile_stages()
    assert gateway["build"]["target"] == stages[-1].name
    assert services_["sandbox"]["build"]["target"] == "demo"
    assert "healthcheck" in services_["sandbox"]
    assert "healthcheck" in services_["redis"]
    # `name:` is a Compose v2 key: the header says v2 is required.
    if "name" in compose:
        assert "Compose v2" in COMPOSE.read_text(encoding="utf-8").split("\nname:")[0]


# -- Dockerfile ------------------------------------------------------------------------------


@dataclass
class Stage:
    name: str
    base: str
    lines: list[str] = field(default_factory=list)


def dockerfile_lines() -> list[str]:
    """One instruction per line: continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    return [
        line.strip()
        for line in re.sub(r"\\\n", " ", text).splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def dockerfile_stages() -> list[Stage]:
    stages: list[Stage] = []
    for line in dockerfile_lines():
        if line.upper().startswith("FROM "):
            words = line.split()
            name = words[3] if len(words) == 4 and words[2].upper() == "AS" else ""
            stages.append(Stage(name=name, base=words[1]))
        elif stages:
            stages[-1].lines.append(line)
    return stages


def lineage(target: str) -> list[Stage]:
    """The stages the target is built from: its FROM chain and its COPY --from sources."""
    by_name = {s.name: s for s in dockerfile_stages()}
    seen: list[Stage] = []

    def visit(name: str) -> None:
        stage = by_name[name]
        if stage in seen:
            return
        seen.append(stage)
        sources = [stage.base] + [
            m[1] for line in stage.lines if (m := re.match(r"COPY --from=(\S+)", line))
        ]
        for source in sources:
            if source in by_name:
                visit(source)

    visit(target)
    return seen


def chain(target: str) -> list[str]:
    """The instructions of the target's image itself, oldest first (its FROM chain)."""
    by_name = {s.name: s for s in dockerfile_stages()}
    lines: list[str] = []
    stage: Stage | None = by_name[target]
    while stage is not None:
        lines = stage.lines + lines
        stage = by_name.get(stage.base)
    return lines


def copies_sandbox(stage: Stage) -> bool:
    return any(
        line.startswith("COPY ") and "--from=" not in line and "sandbox" in line.split()[1:-1]
        for line in stage.lines
    )


def test_dockerfile_production_target_is_last_and_the_demo_target_is_separate() -> None:
    stages = dockerfile_stages()
    names = [s.name for s in stages]
    assert "demo" in names
    production = stages[-1].name
    assert production
    assert production != "demo"
    assert names.index("demo") < len(names) - 1


def test_production_image_has_no_sandbox_and_the_demo_image_has_it() -> None:
    with (ROOT / "pyproject.toml").open("rb") as file:
        include = tomllib.load(file)["tool"]["setuptools"]["packages"]["find"]["include"]
    # The wheel takes sandbox* when its source is there: so no production stage copies it.
    assert "sandbox*" in include
    production = dockerfile_stages()[-1].name
    assert not any(copies_sandbox(stage) for stage in lineage(production))
    assert any(copies_sandbox(stage) for stage in lineage("demo"))


def test_dependencies_install_before_the_source_and_the_package_without_them() -> None:
    production = dockerfile_stages()[-1].name
    (build,) = [
        stage
        for stage in lineage(production)
        if any(line.startswith("COPY gateway") for line in stage.lines)
    ]
    steps = chain(build.name)
    deps = next(i for i, line in enumerate(steps) if "-c constraints.txt" in line)
    source = next(i for i, line in enumerate(steps) if line.startswith("COPY gateway"))
    package = next(i for i, line in enumerate(steps) if "--no-deps" in line)
    assert deps < source < package
    assert "pyproject.toml" in steps[deps]
    # Before the dependencies, only the files that name them are copied.
    copied = {
        word for line in steps[:deps] if line.startswith("COPY ") for word in line.split()[1:-1]
    }
    assert copied == {"pyproject.toml", "constraints.txt"}


def test_runtime_virtualenv_has_no_pip_setuptools_or_wheel() -> None:
    lines = dockerfile_lines()
    venvs = [line for line in lines if "-m venv" in line]
    assert venvs
    assert all("--without-pip" in line for line in venvs)
    production = dockerfile_stages()[-1].name
    uninstall = [line for line in chain(production) if "pip uninstall" in line]
    assert uninstall
    assert {"pip", "setuptools", "wheel"} <= set(uninstall[0].split())


def test_base_images_are_pinned_by_digest() -> None:
    stages = dockerfile_stages()
    names = {s.name for s in stages}
    external = [s.base for s in stages if s.base not in names]
    assert external
    for base in external:
        assert re.fullmatch(r"[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}", base), base
    redis = load_all(COMPOSE)[0]["services"]["redis"]["image"]
    assert re.search(r"@sha256:[0-9a-f]{64}$", redis)


def test_images_carry_oci_labels_with_the_project_version() -> None:
    production = dockerfile_stages()[-1].name
    labels = " ".join(line for line in chain(production) if line.startswith("LABEL "))
    for key in ("title", "description", "version", "revision"):
        assert f"org.opencontainers.image.{key}=" in labels
    assert 'org.opencontainers.image.version="${VERSION}"' in labels
    demo = " ".join(line for line in chain("demo") if line.startswith("LABEL "))
    assert 'org.opencontainers.image.title="tracseq-gateway-demo"' in demo


def test_no_world_writable_directory_on_the_healthcheck_import_path() -> None:
    production = dockerfile_stages()[-1].name
    steps = chain(production)
    workdirs = [line.split()[1] for line in steps if line.startswith("WORKDIR ")]
    assert workdirs
    # Not a world-writable directory (the import path starts at the working directory).
    assert workdirs[-1] not in ("/tmp", "/var/tmp", "/dev/shm")  # noqa: S108
    (healthcheck,) = [line for line in steps if line.startswith("HEALTHCHECK")]
    assert '"python", "-P"' in healthcheck


def test_dockerfile_runtime_is_slim_non_root_with_healthcheck_and_workers_from_env() -> None:
    stages = dockerfile_stages()
    final = stages[-1]
    steps = chain(final.name)
    assert any(line.startswith("COPY --from=") for line in final.lines)
    assert "slim" in next(s.base for s in stages if s.name == "python")
    users = [line.split()[1] for line in steps if line.startswith("USER ")]
    assert users, "the runtime sets a USER"
    assert users[-1].split(":")[0] not in ("root", "0")
    (healthcheck,) = [line for line in steps if line.startswith("HEALTHCHECK")]
    assert "/health" in healthcheck
    env = " ".join(line for line in steps if line.startswith("ENV "))
    assert re.search(r"TRACSEQ_WORKERS=\d+", env)
    assert "TRACSEQ_HOST=0.0.0.0" in env
    assert [line for line in steps if line.startswith("CMD ")][-1] == (
        'CMD ["tracseq-gateway", "serve"]'
    )
    # The CLI reads the workers from that variable.
    assert Settings.from_env({"TRACSEQ_WORKERS": "4"}).workers == 4
