"""The Helm chart (charts/shopmesh): its values schema and install-time checks,
what it renders, a real `helm install` on the local cluster with the RBAC it
grants, and the operator reconciling a Microservice with exactly that RBAC.

`helm lint` enforces the schema but only logs a template `fail` (lint mode never
fails on it), so the value-combination checks in NOTES.txt are tested through
`helm template`, which is what `helm install` runs too.

The operator runs here as local processes with the chart ServiceAccount's token and
the environment of the installed Deployment, as chart replicas would, in a chart-*
namespace that the session's shared e2e-* operator leaves alone: one replica with
exactly the chart's RBAC, and two replicas of which only one may work.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from kube import ENV, REPO, apply, condition, create_namespace, get, helm, kubectl, wait_for
from manifests import microservice

pytestmark = pytest.mark.e2e

CHART = REPO / "charts/shopmesh"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
#: Operators run under the chart's RBAC log here, one file per POD_ID, truncated per run.
OPERATOR_LOG_DIR = REPO / ".shopmesh/logs"
SCHEMA_ERROR = "values don't meet the specifications of the schema"


def render(*args: str) -> list[dict[str, Any]]:
    out = helm("template", "rel", str(CHART), "--namespace", "ops", *args).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def ci_values(name: str) -> list[str]:
    return ["-f", str(CHART / "ci" / name)]


def only(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


# --- lint and schema -------------------------------------------------------


def test_ci_values_variants_exist() -> None:
    names = {path.name for path in CI_VALUES}
    assert {"default-values.yaml", "namespaced-values.yaml"} <= names


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda path: path.name)
def test_chart_lints_with_each_ci_values_file(values: Path) -> None:
    result = helm("lint", "--strict", str(CHART), "-f", str(values), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


# (values file content, what the schema says)
BAD_VALUES = [
    pytest.param("replicas: two\n", "at '/replicas': got string, want integer", id="replicas-text"),
    pytest.param(
        "replicaCount: 2\n",
        "additional properties 'replicaCount' not allowed",
        id="unknown-top-level-key",
    ),
    pytest.param(
        "image:\n  repo: x\n", "additional properties 'repo' not allowed", id="unknown-image-key"
    ),
    pytest.param(
        "watchNamespaces: shop\n",
        "at '/watchNamespaces': got string, want array",
        id="namespaces-not-a-list",
    ),
    pytest.param(
        "watchNamespaces: ['shop,staging']\n",
        "at '/watchNamespaces/0': 'shop,staging' does not match pattern",
        id="namespace-with-comma",
    ),
    pytest.param(
        "peering:\n  enabled: yes-please\n",
        "at '/peering/enabled': got string, want boolean",
        id="peering-not-boolean",
    ),
    pytest.param(
        "peering:\n  priority: high\n",
        "at '/peering/priority': got string, want",
        id="priority-not-a-number",
    ),
    pytest.param(
        "podDisruptionBudget:\n  maxUnavailable: 0\n",
        "minimum: got 0, want 1",
        id="pdb-would-block-drains",
    ),
    pytest.param(
        "securityContext:\n  runAsUser: 0\n",
        "at '/securityContext/runAsUser': minimum: got 0, want 1",
        id="root-user",
    ),
    pytest.param(
        "securityContext:\n  privileged: true\n",
        "additional properties 'privileged' not allowed",
        id="security-context-not-configurable",
    ),
    pytest.param(
        "image:\n  digest: latest\n",
        "at '/image/digest': 'latest' does not match pattern",
        id="digest-not-sha256",
    ),
    pytest.param(
        "kopfLogLevel: LOUD\n", "at '/kopfLogLevel': value must be one of", id="log-level"
    ),
    pytest.param(
        "resources:\n  requests:\n    memory: lots\n",
        "at '/resources/requests/memory'",
        id="quantity-not-a-quantity",
    ),
]


@pytest.mark.parametrize("command", ["lint", "template"])
@pytest.mark.parametrize(("content", "message"), BAD_VALUES)
def test_bad_values_are_refused_by_the_schema(
    tmp_path: Path, command: str, content: str, message: str
) -> None:
    values = tmp_path / "bad-values.yaml"
    values.write_text(content)
    result = helm(command, str(CHART), "-f", str(values), check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert SCHEMA_ERROR in output
    assert message in output


# (--set arguments, what NOTES.txt says)
BAD_COMBINATIONS = [
    pytest.param(
        ["--set", "replicas=3", "--set", "peering.enabled=false"],
        "replicas=3 with peering.enabled=false",
        id="replicas-without-peering",
    ),
    pytest.param(
        ["--set", "peering.priority=5"],
        "replicas=2 with peering.priority=5",
        id="replicas-sharing-a-fixed-priority",
    ),
    pytest.param(
        ["--set", "watchNamespaces={team-*}"],
        'watchNamespaces entry "team-*" is a pattern',
        id="namespace-glob-with-peering",
    ),
    pytest.param(
        ["--set", "serviceAccount.create=false"],
        "serviceAccount.create=false needs serviceAccount.name",
        id="default-service-account",
    ),
    pytest.param(
        ["--set", "extraEnv[0].name=SHOPMESH_NAMESPACES", "--set", "extraEnv[0].value=x"],
        "extraEnv sets SHOPMESH_NAMESPACES",
        id="extra-env-shadows-chart-env",
    ),
    pytest.param(
        ["--set", "podLabels.app\\.kubernetes\\.io/instance=x"],
        "podLabels sets app.kubernetes.io/instance",
        id="pod-label-breaks-selector",
    ),
]


@pytest.mark.parametrize(("args", "message"), BAD_COMBINATIONS)
def test_bad_value_combinations_fail_at_render(args: list[str], message: str) -> None:
    result = helm("template", str(CHART), *args, check=False)
    assert result.returncode != 0, result.stdout
    assert "VALUES VALIDATION" in result.stderr
    assert message in result.stderr


def test_every_problem_is_reported_at_once() -> None:
    result = helm(
        "template",
        str(CHART),
        *["--set", "replicas=2,peering.enabled=false,serviceAccount.create=false"],
        check=False,
    )
    assert result.returncode != 0
    assert "replicas=2 with peering.enabled=false" in result.stderr
    assert "serviceAccount.create=false needs serviceAccount.name" in result.stderr


# --- what it renders -------------------------------------------------------

# (values, {kind: names}) : exactly these objects, nothing else
RENDERED = [
    pytest.param(
        ci_values("default-values.yaml"),
        {
            "ServiceAccount": ["rel-shopmesh"],
            "ClusterRole": ["rel-shopmesh"],
            "ClusterRoleBinding": ["rel-shopmesh"],
            "Deployment": ["rel-shopmesh"],
            "PodDisruptionBudget": ["rel-shopmesh"],
            "ClusterKopfPeering": ["shopmesh"],
        },
        id="default",
    ),
    pytest.param(
        ci_values("namespaced-values.yaml"),
        {
            "ServiceAccount": ["rel-shopmesh"],
            "ClusterRole": ["rel-shopmesh"],
            "ClusterRoleBinding": ["rel-shopmesh"],
            "Deployment": ["rel-shopmesh"],
            "PodDisruptionBudget": ["rel-shopmesh"],
            "KopfPeering": ["shop-staging/shopmesh", "shop/shopmesh"],
        },
        id="namespaced",
    ),
    pytest.param(
        ci_values("standalone-values.yaml"),
        {
            "ServiceAccount": ["rel-shopmesh"],
            "ClusterRole": ["rel-shopmesh"],
            "ClusterRoleBinding": ["rel-shopmesh"],
            "Deployment": ["rel-shopmesh"],
        },
        id="standalone",
    ),
    pytest.param(
        ci_values("priority-values.yaml"),
        {
            "ServiceAccount": ["rel-shopmesh"],
            "ClusterRole": ["rel-shopmesh"],
            "ClusterRoleBinding": ["rel-shopmesh"],
            "Deployment": ["rel-shopmesh"],
            "PodDisruptionBudget": ["rel-shopmesh"],
            "ClusterKopfPeering": ["shopmesh"],
        },
        id="priority",
    ),
    pytest.param(
        ci_values("pinned-values.yaml"),
        {"Deployment": ["shopmesh-operator"], "PodDisruptionBudget": ["shopmesh-operator"]},
        id="pinned",
    ),
]


@pytest.mark.parametrize(("args", "expected"), RENDERED)
def test_chart_renders_exactly_the_expected_objects(
    args: list[str], expected: dict[str, list[str]]
) -> None:
    rendered: dict[str, list[str]] = {}
    for doc in render(*args):
        meta = doc["metadata"]
        name = (
            f"{meta['namespace']}/{meta['name']}" if doc["kind"] == "KopfPeering" else meta["name"]
        )
        rendered.setdefault(doc["kind"], []).append(name)
    assert {kind: sorted(names) for kind, names in rendered.items()} == expected


@pytest.mark.parametrize(
    "kind",
    [
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "PodDisruptionBudget",
        "ClusterKopfPeering",
    ],
)
def test_every_object_carries_the_chart_labels(kind: str) -> None:
    labels = only(render(), kind)["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "shopmesh"
    assert labels["app.kubernetes.io/instance"] == "rel"
    assert labels["app.kubernetes.io/managed-by"] == "Helm"
    assert labels["helm.sh/chart"] == "shopmesh-0.1.0"


def _container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return dict(only(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0])


def _env(docs: list[dict[str, Any]], name: str) -> Any:
    """The variable's value, or None when the chart does not set it."""
    return next((e.get("value") for e in _container(docs)["env"] if e["name"] == name), None)


def _pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return dict(only(docs, "Deployment")["spec"]["template"]["spec"])


# (values, read from the rendered objects, expected)
CONTRACT: list[Any] = [
    pytest.param([], lambda d: _container(d)["image"], "shopmesh/operator:0.1.0", id="image"),
    pytest.param(
        ["--set", "image.tag=9.9.9"],
        lambda d: _container(d)["image"],
        "shopmesh/operator:9.9.9",
        id="image-tag",
    ),
    pytest.param(
        [],
        lambda d: _container(d)["command"],
        ["python", "-m", "shopmesh_operator"],
        id="command",
    ),
    # The operator reads its settings from the environment; it ignores arguments.
    pytest.param([], lambda d: "args" in _container(d), False, id="no-args"),
    # No fixed priority: each replica picks its own, or kopf would pause them all.
    pytest.param(
        [],
        lambda d: (_env(d, "SHOPMESH_PEERING"), _env(d, "SHOPMESH_PRIORITY")),
        ("shopmesh", None),
        id="peering-without-fixed-priority",
    ),
    pytest.param(
        ci_values("priority-values.yaml"),
        lambda d: (_env(d, "SHOPMESH_PEERING"), _env(d, "SHOPMESH_PRIORITY")),
        ("shopmesh", "100"),
        id="fixed-priority",
    ),
    pytest.param(
        ci_values("pinned-values.yaml"),
        lambda d: _env(d, "SHOPMESH_PEERING"),
        "shopmesh-prod",
        id="peering-name",
    ),
    pytest.param(
        ci_values("standalone-values.yaml"),
        lambda d: (_env(d, "SHOPMESH_PEERING"), _env(d, "SHOPMESH_PRIORITY")),
        (None, None),
        id="standalone-without-peering",
    ),
    pytest.param(
        [],
        lambda d: _env(d, "SHOPMESH_LIVENESS"),
        "http://0.0.0.0:8081/healthz",
        id="liveness-endpoint",
    ),
    pytest.param(
        [],
        lambda d: (
            _container(d)["livenessProbe"]["httpGet"],
            _container(d)["ports"][0]["containerPort"],
        ),
        ({"path": "/healthz", "port": "health"}, 8081),
        id="liveness-probe",
    ),
    pytest.param([], lambda d: _env(d, "SHOPMESH_NAMESPACES"), "", id="clusterwide"),
    pytest.param(
        ci_values("namespaced-values.yaml"),
        lambda d: _env(d, "SHOPMESH_NAMESPACES"),
        "shop,shop-staging",
        id="namespaces-comma-joined",
    ),
    pytest.param([], lambda d: only(d, "Deployment")["spec"]["replicas"], 2, id="two-replicas"),
    pytest.param(
        [],
        lambda d: only(d, "PodDisruptionBudget")["spec"]["maxUnavailable"],
        1,
        id="pdb-max-unavailable",
    ),
    pytest.param(
        [],
        lambda d: _pod(d)["serviceAccountName"],
        "rel-shopmesh",
        id="service-account",
    ),
    pytest.param(
        [],
        lambda d: (
            _pod(d)["securityContext"]["runAsNonRoot"],
            _pod(d)["securityContext"]["seccompProfile"],
        ),
        (True, {"type": "RuntimeDefault"}),
        id="pod-security-context",
    ),
    pytest.param(
        [],
        lambda d: {
            k: _container(d)["securityContext"][k]
            for k in (
                "runAsNonRoot",
                "readOnlyRootFilesystem",
                "allowPrivilegeEscalation",
                "capabilities",
                "seccompProfile",
            )
        },
        {
            "runAsNonRoot": True,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        id="container-security-context",
    ),
    pytest.param(
        [],
        lambda d: sorted(_container(d)["resources"]),
        ["limits", "requests"],
        id="resources",
    ),
]


@pytest.mark.parametrize(("args", "read", "expected"), CONTRACT)
def test_deployment_contract(args: list[str], read: Callable[[Any], Any], expected: Any) -> None:
    assert read(render(*args)) == expected


CHILD_VERBS = ("get", "list", "watch", "create", "patch", "update")
#: The operator's contract: (apiGroup, resource) -> verbs. Exactly this, nothing more.
EXPECTED_RULES: dict[tuple[str, str], tuple[str, ...]] = {
    ("shopmesh.io", "microservices"): ("get", "list", "watch", "patch"),
    ("shopmesh.io", "microservices/status"): ("get", "patch"),
    ("kopf.dev", "clusterkopfpeerings"): ("get", "list", "watch", "patch"),
    ("kopf.dev", "kopfpeerings"): ("get", "list", "watch", "patch"),
    ("apiextensions.k8s.io", "customresourcedefinitions"): ("list", "watch"),
    ("", "namespaces"): ("list", "watch"),
    ("", "events"): ("create", "patch", "list"),
    ("", "pods"): ("list", "watch"),
    ("events.k8s.io", "events"): ("create", "patch"),
    ("", "serviceaccounts"): CHILD_VERBS,
    # delete: the preview Service of a Microservice that left BlueGreen (reconcile.py).
    ("", "services"): (*CHILD_VERBS, "delete"),
    # delete: the canary (or preview) Deployment of a release that ended (canary.py).
    ("apps", "deployments"): (*CHILD_VERBS, "delete"),
    ("apps", "replicasets"): ("list",),
    # The one child the spec can stop asking for: the operator deletes it when
    # spec.autoscaling goes away (reconcile.OPTIONAL_KINDS).
    ("autoscaling", "horizontalpodautoscalers"): (*CHILD_VERBS, "delete"),
    ("policy", "poddisruptionbudgets"): CHILD_VERBS,
    ("security.istio.io", "peerauthentications"): CHILD_VERBS,
    ("security.istio.io", "authorizationpolicies"): CHILD_VERBS,
    ("networking.istio.io", "destinationrules"): CHILD_VERBS,
    ("networking.istio.io", "virtualservices"): CHILD_VERBS,
    ("monitoring.coreos.com", "servicemonitors"): CHILD_VERBS,
}


def _cluster_role_rules() -> list[dict[str, Any]]:
    return list(only(render(), "ClusterRole")["rules"])


def test_cluster_role_grants_exactly_the_operator_contract() -> None:
    granted: set[tuple[str, str, str]] = set()
    for rule in _cluster_role_rules():
        assert set(rule) == {"apiGroups", "resources", "verbs"}, rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted.update((group, resource, verb) for verb in rule["verbs"])
    expected = {
        (group, resource, verb)
        for (group, resource), verbs in EXPECTED_RULES.items()
        for verb in verbs
    }
    assert granted == expected


@pytest.mark.parametrize(
    ("field", "forbidden"),
    [
        pytest.param("resources", "secrets", id="no-secrets"),
        pytest.param("resources", "configmaps", id="no-configmaps"),
        pytest.param("resources", "*", id="no-wildcard-resources"),
        pytest.param("verbs", "*", id="no-wildcard-verbs"),
        pytest.param("apiGroups", "*", id="no-wildcard-groups"),
        pytest.param("verbs", "escalate", id="no-escalate"),
    ],
)
def test_cluster_role_never_mentions(field: str, forbidden: str) -> None:
    for rule in _cluster_role_rules():
        assert forbidden not in rule[field], rule


def test_only_optional_children_may_be_deleted() -> None:
    """The HPA, a release's second Deployment and the BlueGreen preview Service: the
    children the spec can stop asking for. Nothing else, and each in a rule of its own."""
    deletable = [rule["resources"] for rule in _cluster_role_rules() if "delete" in rule["verbs"]]
    assert deletable == [["services"], ["deployments"], ["horizontalpodautoscalers"]]


# --- a real install ----------------------------------------------------------


@dataclass(frozen=True)
class Release:
    name: str
    namespace: str
    service_account: str
    peering: str


def release_for(suffix: str) -> Release:
    # A peering name of its own: a ClusterKopfPeering is cluster-wide and may already
    # exist under the default name, from a real install of the chart.
    return Release(
        name=f"sm-{suffix}",
        namespace=f"chart-{suffix}",
        service_account=f"sm-{suffix}-shopmesh",
        peering=f"chart-{suffix}",
    )


def install(release: Release, *args: str) -> Release:
    create_namespace(release.namespace)
    helm(
        "install",
        release.name,
        str(CHART),
        *["--namespace", release.namespace, "--set", f"peering.name={release.peering}"],
        *["--wait", "--timeout", "3m", *args],
    )
    return release


def uninstall(release: Release) -> None:
    helm("uninstall", release.name, "--namespace", release.namespace, "--wait", check=False)
    # A half-finished install has no release for helm to uninstall; its cluster-scoped
    # objects would outlive the namespace.
    kubectl(
        "delete",
        "clusterrole,clusterrolebinding,clusterkopfpeering",
        "-l",
        f"app.kubernetes.io/instance={release.name}",
        "--ignore-not-found",
        check=False,
    )
    kubectl("delete", "namespace", release.namespace, "--wait=false", check=False)


@pytest.fixture(scope="module")
def release(cluster: None) -> Iterator[Release]:
    """The chart installed once, with its defaults, into a fresh namespace."""
    release = release_for(uuid.uuid4().hex[:8])
    try:
        yield install(release)
    finally:
        uninstall(release)


def test_operator_deployment_becomes_available(release: Release) -> None:
    name = f"{release.name}-shopmesh"
    kubectl(
        "wait",
        f"deployment/{name}",
        "-n",
        release.namespace,
        "--for=condition=Available",
        "--timeout=120s",
    )
    deploy = get("deployment", name, release.namespace)
    assert deploy is not None
    assert deploy["status"]["readyReplicas"] == 2
    spec = deploy["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == release.service_account
    peering = json.loads(kubectl("get", "clusterkopfpeering", release.peering, "-o", "json").stdout)
    assert peering["metadata"]["labels"]["app.kubernetes.io/instance"] == release.name


# (verb and resource, as kubectl auth can-i takes them; the answer)
CAN_I = [
    pytest.param(["patch", "deployments"], "yes", id="patch-deployments"),
    pytest.param(
        ["patch", "virtualservices.networking.istio.io"], "yes", id="patch-virtualservices"
    ),
    pytest.param(
        ["patch", "microservices.shopmesh.io", "--subresource=status"],
        "yes",
        id="patch-microservice-status",
    ),
    pytest.param(["create", "events"], "yes", id="create-events"),
    pytest.param(["create", "events.events.k8s.io"], "yes", id="create-events-k8s-io"),
    pytest.param(["patch", "clusterkopfpeerings.kopf.dev"], "yes", id="patch-peering"),
    pytest.param(
        ["watch", "customresourcedefinitions.apiextensions.k8s.io"], "yes", id="watch-crds"
    ),
    pytest.param(["create", "servicemonitors.monitoring.coreos.com"], "yes", id="servicemonitors"),
    pytest.param(["get", "secrets"], "no", id="get-secrets"),
    pytest.param(["list", "configmaps"], "no", id="list-configmaps"),
    pytest.param(["delete", "deployments"], "yes", id="delete-canary-deployments"),
    pytest.param(["delete", "services"], "yes", id="delete-preview-services"),
    pytest.param(["delete", "serviceaccounts"], "no", id="delete-serviceaccounts"),
    pytest.param(["delete", "poddisruptionbudgets.policy"], "no", id="delete-pdbs"),
    pytest.param(
        ["delete", "horizontalpodautoscalers.autoscaling"], "yes", id="delete-leftover-hpa"
    ),
    pytest.param(["create", "pods"], "no", id="create-pods"),
    pytest.param(["delete", "microservices.shopmesh.io"], "no", id="delete-microservices"),
    pytest.param(["update", "microservices.shopmesh.io"], "no", id="update-microservices"),
    pytest.param(
        ["create", "customresourcedefinitions.apiextensions.k8s.io"], "no", id="create-crds"
    ),
    pytest.param(
        ["create", "clusterrolebindings.rbac.authorization.k8s.io"], "no", id="bind-roles"
    ),
]


@pytest.mark.parametrize(("what", "answer"), CAN_I)
def test_service_account_can_do_only_what_the_operator_needs(
    release: Release, what: list[str], answer: str
) -> None:
    user = f"system:serviceaccount:{release.namespace}:{release.service_account}"
    # Another namespace than the release's: the grants are cluster-wide.
    result = kubectl("auth", "can-i", *what, f"--as={user}", "-n", "default", check=False)
    assert result.stdout.strip() == answer, result.stderr


def test_uninstall_removes_the_cluster_scoped_objects(cluster: None) -> None:
    release = release_for(uuid.uuid4().hex[:8])
    name = f"{release.name}-shopmesh"
    cluster_scoped = [
        ("clusterrole", name),
        ("clusterrolebinding", name),
        ("clusterkopfpeering", release.peering),
    ]
    try:
        install(release)
        for kind, obj in cluster_scoped:
            assert kubectl("get", kind, obj, check=False).returncode == 0, (kind, obj)
        # helm itself, not the safety net in uninstall(), must remove them.
        helm("uninstall", release.name, "--namespace", release.namespace, "--wait")
        for kind, obj in cluster_scoped:
            result = kubectl("get", kind, obj, check=False)
            assert "NotFound" in result.stderr, (kind, obj)
    finally:
        uninstall(release)


# --- the operator under exactly the chart's RBAC -----------------------------


@pytest.fixture
def sa_kubeconfig(release: Release, tmp_path: Path) -> Path:
    """Server and CA of the current kubeconfig; the chart ServiceAccount's token as the user."""
    token = kubectl(
        "create", "token", release.service_account, "-n", release.namespace, "--duration=1h"
    ).stdout.strip()
    current = json.loads(
        kubectl("config", "view", "--raw", "--minify", "--flatten", "-o", "json").stdout
    )
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": current["clusters"][0]["cluster"]}],
        "users": [{"name": "operator", "user": {"token": token}}],
        "contexts": [{"name": "operator", "context": {"cluster": "local", "user": "operator"}}],
        "current-context": "operator",
    }
    path = tmp_path / "kubeconfig.yaml"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    who = kubectl("auth", "whoami", "-o", "json", "--kubeconfig", str(path))
    username = json.loads(who.stdout)["status"]["userInfo"]["username"]
    assert username == f"system:serviceaccount:{release.namespace}:{release.service_account}"
    return path


@pytest.fixture
def workload(release: Release) -> Iterator[str]:
    """A namespace for the Microservice, with the KopfPeering the chart would create for it
    (watchNamespaces). Not e2e-*: the session's shared operator must not reconcile it too."""
    name = f"chart-{uuid.uuid4().hex[:8]}"
    create_namespace(name)
    apply(
        {
            "apiVersion": "kopf.dev/v1",
            "kind": "KopfPeering",
            "metadata": {"name": release.peering, "namespace": name},
        }
    )
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


@dataclass
class OperatorRun:
    """`python -m shopmesh_operator` as a chart replica would run it, logging to a file."""

    pod_id: str
    log: Path
    proc: subprocess.Popen[bytes]

    def text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""


def chart_env(release: Release) -> dict[str, str]:
    """The plain environment variables of the installed operator Deployment."""
    deploy = get("deployment", f"{release.name}-shopmesh", release.namespace)
    assert deploy is not None
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


@contextlib.contextmanager
def operators(
    pod_ids: list[str],
    *,
    release: Release,
    kubeconfig: Path,
    namespace: str,
    resync_seconds: int,
) -> Iterator[list[OperatorRun]]:
    """Replicas with the chart's environment, except: one namespace, the resync interval,
    POD_ID (a fieldRef in the pod) and no liveness port (they would share one here)."""
    base = chart_env(release)
    assert base["SHOPMESH_PEERING"] == release.peering
    del base["SHOPMESH_LIVENESS"]
    OPERATOR_LOG_DIR.mkdir(parents=True, exist_ok=True)
    runs: list[OperatorRun] = []
    try:
        for pod_id in pod_ids:
            env = {
                **ENV,
                **base,
                "KUBECONFIG": str(kubeconfig),
                "SHOPMESH_NAMESPACES": namespace,
                "SHOPMESH_RESYNC_SECONDS": str(resync_seconds),
                "POD_ID": pod_id,
            }
            log = OPERATOR_LOG_DIR / f"operator-chart-rbac-{pod_id}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [str(REPO / ".venv/bin/python"), "-m", "shopmesh_operator"],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            runs.append(OperatorRun(pod_id, log, proc))
        yield runs
    finally:
        for run in runs:
            run.proc.send_signal(signal.SIGCONT)  # in case a test froze it
            run.proc.terminate()
        for run in runs:
            try:
                run.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                run.proc.kill()
            # pytest shows this only when the test fails.
            print(f"--- operator {run.pod_id} log ({run.log}):\n{run.text()}")


def wait_ready(runs: list[OperatorRun], namespace: str, timeout: float) -> None:
    def probe() -> dict[str, Any] | None:
        for run in runs:
            assert run.proc.poll() is None, f"operator {run.pod_id} exited"
        ms = get("msvc", "web", namespace)
        cond = condition(ms, "Ready")
        return ms if cond and cond["status"] == "True" else None

    wait_for(probe, what=f"msvc {namespace}/web Ready", timeout=timeout)


def wait_peers(release: Release, namespace: str, pod_ids: set[str]) -> None:
    """Until every replica has announced itself in the peering object, and had a moment
    to see the others' announcements: only then is there anything to elect."""

    def announced() -> bool:
        peering = get("kopfpeering", release.peering, namespace) or {}
        return pod_ids <= set(peering.get("status") or {})

    wait_for(announced, what=f"{sorted(pod_ids)} in the peering object", timeout=30)
    time.sleep(2)


def created_deployment(runs: list[OperatorRun], namespace: str) -> list[OperatorRun]:
    return [r for r in runs if f"{namespace}/web: created Deployment web" in r.text()]


def assert_no_rbac_errors(run: OperatorRun) -> None:
    for sign in ("forbidden", "Forbidden", "Not enough permissions"):
        assert sign not in run.text(), f"operator {run.pod_id}: {sign}"


def test_operator_reconciles_with_only_the_chart_rbac(
    release: Release, sa_kubeconfig: Path, workload: str
) -> None:
    with operators(
        ["op-0"],
        release=release,
        kubeconfig=sa_kubeconfig,
        namespace=workload,
        resync_seconds=2,  # the cluster-wide resync list runs under this RBAC meanwhile
    ) as runs:
        apply(microservice("web", workload))
        wait_ready(runs, workload, timeout=90)
        # Give the resync loop a couple of rounds before reading the log.
        time.sleep(5)
        [run] = runs
        # The one delete the operator makes: the HPA, once autoscaling is removed.
        autoscaling = {"minReplicas": 2, "maxReplicas": 4, "targetCPUUtilization": 70}
        apply(microservice("web", workload, autoscaling=autoscaling))
        wait_for(lambda: get("hpa", "web", workload), what="the HPA")
        apply(microservice("web", workload))
        wait_for(lambda: get("hpa", "web", workload) is None, what="the HPA deleted")
        assert run.proc.poll() is None, "the operator exited"
        for kind in ("ServiceAccount", "Service", "Deployment"):
            assert f"{workload}/web: created {kind} web" in run.text()
        assert_no_rbac_errors(run)
        # kopf's keep-alive reached the peering object: peering works under this RBAC too.
        peering = get("kopfpeering", release.peering, workload)
        assert peering is not None
        assert "op-0" in peering.get("status", {})


def test_two_replicas_elect_one_active_operator(
    release: Release, sa_kubeconfig: Path, workload: str
) -> None:
    # Each replica takes a random kopf priority (the chart sets none); the lower pauses.
    with operators(
        ["op-a", "op-b"],
        release=release,
        kubeconfig=sa_kubeconfig,
        namespace=workload,
        resync_seconds=2,
    ) as runs:
        wait_peers(release, workload, {"op-a", "op-b"})
        apply(microservice("web", workload))
        wait_ready(runs, workload, timeout=90)
        assert [r.pod_id for r in created_deployment(runs, workload)] in (["op-a"], ["op-b"])
        for run in runs:
            assert "Pausing all operators, including self" not in run.text()
            assert_no_rbac_errors(run)


def test_a_paused_replica_writes_nothing(
    release: Release, sa_kubeconfig: Path, workload: str
) -> None:
    with operators(
        ["op-a", "op-b"],
        release=release,
        kubeconfig=sa_kubeconfig,
        namespace=workload,
        resync_seconds=2,
    ) as runs:
        wait_peers(release, workload, {"op-a", "op-b"})
        apply(microservice("web", workload))
        wait_ready(runs, workload, timeout=90)
        creators = created_deployment(runs, workload)
        assert len(creators) == 1, f"{[r.pod_id for r in creators]} all reconciled"
        [active] = creators
        # Freeze the active replica: its keep-alive stays valid for a while, so the
        # other one stays paused and nobody should repair anything meanwhile.
        active.proc.send_signal(signal.SIGSTOP)
        kubectl("scale", "deployment", "web", "-n", workload, "--replicas=5")
        time.sleep(6)  # a child event, and three resync rounds, for the paused replica
        deploy = get("deployment", "web", workload)
        assert deploy is not None
        assert deploy["spec"]["replicas"] == 5, "a paused replica repaired the drift"
