"""The chart with the shop: every values variant renders and lints; the shop's Microservices
pass the CRD and the operator's model; secrets reach pods only through secretKeyRef; the
NodePort Service finds the gateway's pods; the shop fits one 2-core node; overrides work;
bad values fail with a message. Offline: `helm template` and `helm lint`, no cluster.
(The e2e suite, tests/e2e/test_chart.py, installs the operator part for real.)
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ci.topology import CHART, load_topology
from shopmesh_operator.models import Microservice
from shopmesh_operator.render import build_deployment, build_service

from .crd import problems
from .support import Render, env_of, kinds

TOPOLOGY = load_topology()
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
SHOP = ["-f", str(CHART / "ci/shop-external-values.yaml")]
BUNDLED = ["-f", str(CHART / "ci/shop-bundled-values.yaml")]
BUNDLED_SERVERS = {"postgres": 5432, "redis": 6379, "rabbitmq": 5672, "smtp": 2525}
SCHEMA_ERROR = "values don't meet the specifications of the schema"


def cpu_millis(quantity: str) -> int:
    return int(quantity[:-1]) if quantity.endswith("m") else int(float(quantity) * 1000)


def mebibytes(quantity: str) -> int:
    units = {"Mi": 1, "Gi": 1024}
    return int(quantity[:-2]) * units[quantity[-2:]]


# --- every variant ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "values", [None, *CI_VALUES], ids=lambda p: p.name if p else "chart-defaults"
)
def test_every_values_variant_renders_and_lints_strict(helm: str, values: Path | None) -> None:
    args = ["-f", str(values)] if values else []
    rendered = subprocess.run(
        [helm, "template", "rel", str(CHART), "-n", "shop", *args], capture_output=True, text=True
    )
    assert rendered.returncode == 0, rendered.stderr
    assert list(yaml.safe_load_all(rendered.stdout))
    lint = subprocess.run(
        [helm, "lint", "--strict", str(CHART), *args], capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "0 chart(s) failed" in lint.stdout


def test_the_shop_is_off_by_default(render: Render) -> None:
    docs = render()
    assert not kinds(docs, "Microservice")
    assert not kinds(docs, "Secret")
    assert not kinds(docs, "Service")


def test_the_shop_renders_one_microservice_per_service_and_its_secrets(render: Render) -> None:
    docs = render(*SHOP)
    assert sorted(kinds(docs, "Microservice")) == sorted(TOPOLOGY.services)
    assert sorted(kinds(docs, "Secret")) == ["rel-shopmesh-infra", "rel-shopmesh-service-token"]
    assert sorted(kinds(docs, "Service")) == ["rel-shopmesh-gateway-nodeport"]
    for doc in [*kinds(docs, "Microservice").values(), *kinds(docs, "Secret").values()]:
        assert doc["metadata"]["namespace"] == "shop"
        assert doc["metadata"]["labels"]["app.kubernetes.io/instance"] == "rel"


@pytest.mark.parametrize("name", list(TOPOLOGY.services))
def test_each_microservice_passes_the_crd_and_the_operator(render: Render, name: str) -> None:
    ms = kinds(render(*SHOP), "Microservice")[name]
    assert problems(ms) == []
    assert ms["spec"]["image"] == f"shopmesh/{name}:0.1.0"


# --- secrets -----------------------------------------------------------------------------

PASSWORD = "s3cret-Pa55word"
SECRET_URLS = [
    "--set",
    f"infra.external.postgresUrl=postgresql://shop:{PASSWORD}@db.example:5432",
    "--set",
    f"infra.external.amqpUrl=amqp://shop:{PASSWORD}@mq.example:5672/",
]


def test_credentials_reach_pods_only_through_secret_key_refs(render: Render) -> None:
    docs = render(*SHOP, *SECRET_URLS)
    secrets = kinds(docs, "Secret")
    for doc in docs:
        if doc["kind"] != "Secret":
            assert PASSWORD not in yaml.safe_dump(doc), f"{doc['kind']} {doc['metadata']['name']}"
    infra = secrets["rel-shopmesh-infra"]["data"]
    assert PASSWORD in base64.b64decode(infra["postgres-url"]).decode()
    for ms in kinds(docs, "Microservice").values():
        for name, var in env_of(ms).items():
            if name.endswith(("POSTGRES_URL", "REDIS_URL", "AMQP_URL", "TOKEN_SECRET")):
                ref = var["valueFrom"]["secretKeyRef"]
                assert ref["key"] in secrets[ref["name"]]["data"], name
                assert "value" not in var


def test_the_service_token_secret_is_generated_never_a_value(render: Render) -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert "service-token-secret" not in yaml.safe_dump(values)
    tokens = [
        base64.b64decode(
            kinds(render(*SHOP, release=release), "Secret")[f"{release}-shopmesh-service-token"][
                "data"
            ]["service-token-secret"]
        )
        for release in ("a", "b")
    ]
    assert all(len(token) >= 32 for token in tokens)
    assert tokens[0] != tokens[1], "a fixed default, not a generated secret"


# (extra values, Secrets rendered, where SHOPMESH_POSTGRES_URL and the token secret point)
EXISTING_SECRETS = [
    pytest.param(
        [],
        ["rel-shopmesh-infra", "rel-shopmesh-service-token"],
        ("rel-shopmesh-infra", "rel-shopmesh-service-token"),
        id="generated",
    ),
    pytest.param(
        [
            "--set",
            "infra.external.existingSecret=shop-db",
            "--set",
            "shop.serviceTokens.existingSecret=shop-tokens",
        ],
        [],
        ("shop-db", "shop-tokens"),
        id="existing",
    ),
]


@pytest.mark.parametrize(("extra", "secrets", "refs"), EXISTING_SECRETS)
def test_existing_secrets_replace_the_charts_own(
    render: Render, extra: list[str], secrets: list[str], refs: tuple[str, str]
) -> None:
    docs = render(*SHOP, *extra)
    assert sorted(kinds(docs, "Secret")) == secrets
    env = env_of(kinds(docs, "Microservice")["orders"])
    assert env["SHOPMESH_POSTGRES_URL"]["valueFrom"]["secretKeyRef"]["name"] == refs[0]
    assert env["SHOPMESH_SERVICE_TOKEN_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == refs[1]


def test_without_service_tokens_no_secret_and_no_variable(render: Render) -> None:
    docs = render(*SHOP, "--set", "shop.serviceTokens.enabled=false")
    assert "rel-shopmesh-service-token" not in kinds(docs, "Secret")
    for ms in kinds(docs, "Microservice").values():
        assert "SHOPMESH_SERVICE_TOKEN_SECRET" not in env_of(ms)


# --- the gateway from outside ------------------------------------------------------------


def test_the_node_port_service_selects_the_pods_the_operator_renders(render: Render) -> None:
    docs = render(*SHOP)
    service = kinds(docs, "Service")["rel-shopmesh-gateway-nodeport"]
    ms = Microservice.from_body(kinds(docs, "Microservice")["gateway"])
    deployment = build_deployment(ms)
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    # ...and the operator's own Service finds the same pods.
    assert build_service(ms)["spec"]["selector"].items() <= service["spec"]["selector"].items()
    [port] = service["spec"]["ports"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert port["targetPort"] in {p["name"] for p in container["ports"]}
    assert (service["spec"]["type"], port["nodePort"]) == ("NodePort", 30080)


@pytest.mark.parametrize(
    ("extra", "node_ports"),
    [
        pytest.param(["--set", "gateway.nodePort.port=31000"], [31000], id="other-port"),
        pytest.param(["--set", "gateway.nodePort.enabled=false"], [], id="off"),
    ],
)
def test_node_port_is_configurable(render: Render, extra: list[str], node_ports: list[int]) -> None:
    services = kinds(render(*SHOP, *extra), "Service").values()
    assert [p["nodePort"] for s in services for p in s["spec"]["ports"]] == node_ports


# --- NOTES.txt -----------------------------------------------------------------------------


def notes(helm: str, tmp_path: Path, *args: str) -> str:
    """NOTES.txt as `helm install` prints it: helm template never shows it, so a copy of the
    chart renders it through tpl inside a template."""
    chart = tmp_path / "shopmesh"
    shutil.copytree(CHART, chart)
    (chart / "templates/NOTES.txt").rename(chart / "notes.txt")
    (chart / "templates/notes.yaml").write_text(
        'notes: {{ tpl (.Files.Get "notes.txt") . | toJson }}\n'
    )
    out = subprocess.run(
        [helm, "template", "shopmesh", str(chart), "-n", "shop", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    [doc] = [d for d in yaml.safe_load_all(out) if d and "notes" in d]
    text: str = doc["notes"]
    return text


def test_notes_say_how_to_reach_the_gateway_and_which_databases_must_exist(
    helm: str, tmp_path: Path
) -> None:
    text = notes(helm, tmp_path, *SHOP)
    assert "curl http://<node address>:30080/health/ready" in text
    databases = ", ".join(sorted(s.database for s in TOPOLOGY.services.values()))
    assert f"PostgreSQL server: {databases}." in text
    assert "kubectl -n shop get msvc" in text


def test_notes_of_the_bundled_servers_say_what_a_restart_loses(helm: str, tmp_path: Path) -> None:
    text = notes(helm, tmp_path, *BUNDLED)
    assert "restarted server pod starts EMPTY" in text
    assert "logs deployment/shopmesh-smtp" in text
    assert "must exist on the" not in text


def test_notes_without_the_shop_say_nothing_of_it(helm: str, tmp_path: Path) -> None:
    assert "Microservices in" not in notes(helm, tmp_path)


# --- size --------------------------------------------------------------------------------


def test_the_shop_and_the_operator_fit_one_two_core_node(render: Render) -> None:
    docs = render(*SHOP)
    cpu, memory = 0, 0
    for ms in kinds(docs, "Microservice").values():
        spec = ms["spec"]
        pods = max(spec["replicas"], spec.get("autoscaling", {}).get("minReplicas", 1))
        requests = spec["resources"]["requests"]
        cpu += pods * cpu_millis(requests["cpu"])
        memory += pods * mebibytes(requests["memory"])
        assert "cpu" not in spec["resources"].get("limits", {}), "CPU limits throttle"
        assert mebibytes(spec["resources"]["limits"]["memory"]) > mebibytes(requests["memory"])
    operator = kinds(docs, "Deployment")["rel-shopmesh"]["spec"]
    requests = operator["template"]["spec"]["containers"][0]["resources"]["requests"]
    cpu += operator["replicas"] * cpu_millis(requests["cpu"])
    memory += operator["replicas"] * mebibytes(requests["memory"])
    assert cpu <= 1200, f"{cpu}m CPU requested"
    assert memory <= 3 * 1024, f"{memory}Mi requested"


# --- infra.mode=bundled ----------------------------------------------------------------------


def test_bundled_servers_run_non_root_from_the_infra_image(render: Render) -> None:
    docs = render(*BUNDLED)
    deployments = kinds(docs, "Deployment")
    services = kinds(docs, "Service")
    version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    for server, port in BUNDLED_SERVERS.items():
        name = f"rel-shopmesh-{server}"
        pod = deployments[name]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["image"] == f"shopmesh/infra:{version}", server
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 65532
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["readinessProbe"], server
        assert "cpu" not in container["resources"]["limits"], "CPU limits throttle"
        # Data is in emptyDir: the chart does not pretend to keep it.
        assert all("emptyDir" in volume for volume in pod["volumes"]), server
        selector = services[name]["spec"]["selector"]
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), server
        assert services[name]["spec"]["ports"][0]["port"] == port
    # Every database a service reads is created by the bundled PostgreSQL.
    postgres = deployments["rel-shopmesh-postgres"]["spec"]["template"]["spec"]["containers"][0]
    created = {e["name"]: e.get("value") for e in postgres["env"]}["DATABASES"].split()
    assert sorted(created) == sorted(s.database for s in TOPOLOGY.services.values())


def test_bundled_urls_and_passwords_live_only_in_the_infra_secret(render: Render) -> None:
    docs = render(*BUNDLED)
    secret = kinds(docs, "Secret")["rel-shopmesh-infra"]["data"]
    plain = {key: base64.b64decode(value).decode() for key, value in secret.items()}
    for key, server in (("postgres", "postgres"), ("redis", "redis"), ("amqp", "rabbitmq")):
        password = plain[f"{key}-password"]
        assert len(password) >= 32
        assert password in plain[f"{key}-url"]
        assert f"@rel-shopmesh-{server}.shop.svc.cluster.local:" in plain[f"{key}-url"]
        for doc in docs:
            if doc["kind"] != "Secret":
                assert password not in yaml.safe_dump(doc), (doc["kind"], doc["metadata"]["name"])
    notifications = env_of(kinds(docs, "Microservice")["notifications"])
    assert notifications["SHOPMESH_SMTP_HOST"]["value"] == "rel-shopmesh-smtp"
    assert notifications["SHOPMESH_SMTP_PORT"]["value"] == "2525"


# --- overrides -----------------------------------------------------------------------------


def test_per_service_overrides(render: Render) -> None:
    docs = render(
        *SHOP,
        "--set", "shop.services.payments.replicas=3",
        "--set", "shop.services.payments.resources.requests.memory=200Mi",
        "--set", "shop.services.payments.env[0].name=SHOPMESH_PAYMENTS_DECLINE_RATE",
        "--set-string", "shop.services.payments.env[0].value=0.1",
        "--set", "shop.services.payments.env[1].name=SHOPMESH_DATABASE",
        "--set", "shop.services.payments.env[1].value=payments_run_1",
        "--set", "shop.services.gateway.autoscaling=false",
        "--set", "shop.image.repository=registry.example:5000/shop",
        "--set", "shop.image.tag=1.2.3",
    )  # fmt: skip
    services = kinds(docs, "Microservice")
    payments = services["payments"]["spec"]
    assert payments["replicas"] == 3
    assert payments["resources"]["requests"] == {"cpu": "50m", "memory": "200Mi"}
    assert payments["env"][-2:] == [
        {"name": "SHOPMESH_PAYMENTS_DECLINE_RATE", "value": "0.1"},
        {"name": "SHOPMESH_DATABASE", "value": "payments_run_1"},  # another database
    ]
    assert "autoscaling" not in services["gateway"]["spec"]
    assert payments["image"] == "registry.example:5000/shop/payments:1.2.3"
    assert problems(services["payments"]) == []


# --- bad values --------------------------------------------------------------------------

# (values file content, what the schema says)
BAD_VALUES = [
    pytest.param(
        "infra:\n  external:\n    postgresUrl: postgresql://u:p@db:5432/orders\n",
        "at '/infra/external/postgresUrl'",
        id="postgres-url-with-a-database",
    ),
    pytest.param("infra:\n  mode: cloud\n", "at '/infra/mode'", id="unknown-infra-mode"),
    pytest.param(
        "gateway:\n  nodePort:\n    port: 8080\n", "minimum: got 8,080, want 30,000", id="node-port"
    ),
    pytest.param(
        "shop:\n  replicas: 2\n", "additional properties 'replicas' not allowed", id="unknown-key"
    ),
    pytest.param(
        "shop:\n  services:\n    orders:\n      image: x\n",
        "additional properties 'image' not allowed",
        id="unknown-override",
    ),
    pytest.param(
        "shop:\n  services:\n    gateway:\n      autoscaling: true\n",
        "at '/shop/services/gateway/autoscaling'",
        id="autoscaling-true",
    ),
]


@pytest.mark.parametrize(("content", "message"), BAD_VALUES)
def test_bad_values_are_refused_by_the_schema(
    helm: str, tmp_path: Path, content: str, message: str
) -> None:
    values = tmp_path / "bad-values.yaml"
    values.write_text(content)
    result = subprocess.run(
        [helm, "template", str(CHART), "-f", str(values)], capture_output=True, text=True
    )
    assert result.returncode != 0, result.stdout
    assert SCHEMA_ERROR in result.stderr
    assert message in result.stderr


# (--set arguments over the shop variant, what NOTES.txt says)
BAD_COMBINATIONS = [
    pytest.param(
        ["--set", "infra.mode=bundled", "--set", "infra.external.existingSecret=mine"],
        "infra.external.existingSecret is set with infra.mode=bundled",
        id="bundled-with-an-existing-secret",
    ),
    pytest.param(
        ["--set", "infra.external.redisUrl="], "infra.external.redisUrl is empty", id="no-redis"
    ),
    pytest.param(
        ["--set", "infra.external.smtpHost="], "infra.external.smtpHost is empty", id="no-smtp"
    ),
    pytest.param(
        ["--set", "shop.services.billing.replicas=1"],
        "shop.services.billing: no such service in topology.yaml",
        id="unknown-service",
    ),
    pytest.param(
        [
            "--set", "shop.services.orders.env[0].name=SHOPMESH_PAYMENTS_URL",
            "--set", "shop.services.orders.env[0].value=http://elsewhere",
        ],
        "shop.services.orders.env sets SHOPMESH_PAYMENTS_URL",
        id="env-shadows-the-topology",
    ),
    pytest.param(
        ["--set", "watchNamespaces={other}"],
        "which watchNamespaces (other) leaves out",
        id="operator-not-watching-the-shop",
    ),
    pytest.param(
        ["--set", "shop.services.gateway.replicas=9"],
        "shop.services.gateway: replicas 9 is outside autoscaling's 2..4",
        id="replicas-outside-autoscaling",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("args", "message"), BAD_COMBINATIONS)
def test_bad_shop_values_fail_at_render(helm: str, args: list[str], message: str) -> None:
    result = subprocess.run(
        [helm, "template", "rel", str(CHART), "-n", "shop", *SHOP, *args],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0, result.stdout
    assert "VALUES VALIDATION" in result.stderr
    assert message in result.stderr
