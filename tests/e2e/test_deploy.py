"""Checks of the Kubernetes manifests in deploy/ and of the Dockerfile.

Every overlay is rendered with `kubectl kustomize` (the tests skip, with a message, only when
kubectl is not installed) and checked for what the aggregator, Pod Security "restricted" and
our RBAC need. Built-in kinds (including APIService) are validated against the Kubernetes
OpenAPI schemas with the `kubernetes-validate` package in strict mode (unknown fields are
errors); without that package a structural check runs instead.
"""

from __future__ import annotations

import base64
import functools
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBECTL = shutil.which("kubectl")

NAMESPACE = "smi-metrics"
NAME = "smi-metrics-api"
APISERVICE = "v1alpha1.metrics.smi-spec.io"
GROUP = "metrics.smi-spec.io"
UID = 65532

MESHES = {
    "linkerd": "http://prometheus.linkerd-viz.svc.cluster.local:9090",
    "istio": "http://prometheus.istio-system.svc.cluster.local:9090",
    "consul": "http://prometheus-server.consul.svc.cluster.local",
    "osm": "http://osm-prometheus.osm-system.svc.cluster.local:7070",
    "kuma": "http://prometheus-server.mesh-observability.svc.cluster.local",
    "cilium": "http://prometheus.cilium-monitoring.svc.cluster.local:9090",
}

# Pod ports a Prometheus-compatible backend listens on (Service port 80 fronts 9090).
PROMETHEUS_POD_PORTS = {9090, 7070, 8428, 8481, 10902}

# Plurals of the contract (CONTRACT.md §2); users need each, its /edges, and plain "edges".
SMI_PLURALS = [
    "namespaces", "pods", "deployments", "statefulsets", "daemonsets",
    "replicasets", "jobs", "services", "trafficmetrics",
]

EXPECTED_KINDS = {
    "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "RoleBinding",
    "ConfigMap", "Service", "Deployment", "PodDisruptionBudget", "NetworkPolicy",
    "APIService", "Certificate", "Issuer",
}

CERT_MANAGER_GROUPS = ("cert-manager.io/", "acme.cert-manager.io/")
K8S_SCHEMA_VERSIONS = ("1.28", "1.32")  # oldest supported, and kubectl's here



# --------------------------------------------------------------------------- helpers


def kustomize(path: Path) -> list[dict]:
    if KUBECTL is None:
        pytest.skip("kubectl not found on PATH: cannot render deploy/ with `kubectl kustomize`")
    proc = subprocess.run(
        [KUBECTL, "kustomize", str(path)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, f"kubectl kustomize {path} failed:\n{proc.stderr}"
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    assert docs, f"kubectl kustomize {path} rendered nothing"
    return docs


@functools.lru_cache(maxsize=None)
def _render_cached(path: str) -> tuple:
    return tuple(kustomize(Path(path)))


def render(mesh: str) -> list[dict]:
    return list(_render_cached(str(DEPLOY / "overlays" / mesh)))


def find(docs: list[dict], kind: str, name: str | None = None, namespace: str | None = None) -> list[dict]:
    out = []
    for d in docs:
        md = d.get("metadata", {})
        if d.get("kind") != kind:
            continue
        if name is not None and md.get("name") != name:
            continue
        if namespace is not None and md.get("namespace") != namespace:
            continue
        out.append(d)
    return out


def one(docs: list[dict], kind: str, name: str | None = None, namespace: str | None = None) -> dict:
    found = find(docs, kind, name, namespace)
    assert len(found) == 1, f"expected exactly one {kind} {namespace}/{name}, found {len(found)}"
    return found[0]


def deployment(docs: list[dict]) -> dict:
    return one(docs, "Deployment", NAME, NAMESPACE)


def container(docs: list[dict]) -> dict:
    containers = deployment(docs)["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def args_map(c: dict) -> dict[str, str]:
    out = {}
    for a in c.get("args", []):
        if a.startswith("--"):
            k, _, v = a.partition("=")
            out[k] = v
    return out


overlays = pytest.mark.parametrize("mesh", sorted(MESHES))


# --------------------------------------------------------------------------- layout


def test_every_mesh_has_an_overlay():
    present = {p.name for p in (DEPLOY / "overlays").iterdir() if (p / "kustomization.yaml").exists()}
    assert set(MESHES) <= present


def test_base_renders_without_tls_shortcut():
    docs = kustomize(DEPLOY / "base")
    api = one(docs, "APIService", APISERVICE)
    assert api["spec"].get("insecureSkipTLSVerify") is not True
    # No placeholder caBundle that `kubectl apply` would write over cainjector's value.
    assert "caBundle" not in api["spec"]


# --------------------------------------------------------------------------- per overlay


@overlays
def test_expected_kinds(mesh):
    docs = render(mesh)
    kinds = {d["kind"] for d in docs}
    assert EXPECTED_KINDS <= kinds, f"missing: {sorted(EXPECTED_KINDS - kinds)}"
    for d in docs:
        assert d.get("apiVersion") and d["metadata"].get("name"), d
        assert d["metadata"].get("labels", {}).get("app.kubernetes.io/name") == NAME, (
            f"{d['kind']}/{d['metadata']['name']} lacks app.kubernetes.io/name"
        )
    ns = one(docs, "Namespace", NAMESPACE)
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


@overlays
def test_apiservice(mesh):
    docs = render(mesh)
    api = one(docs, "APIService", APISERVICE)
    assert api["apiVersion"] == "apiregistration.k8s.io/v1"
    spec = api["spec"]
    assert spec["group"] == GROUP
    assert spec["version"] == "v1alpha1"
    assert APISERVICE == f"{spec['version']}.{spec['group']}"
    assert 0 < spec["groupPriorityMinimum"] <= 1000
    assert spec["versionPriority"] > 0
    assert spec.get("insecureSkipTLSVerify") is not True
    # v1alpha2 from the same Service, preferred (higher versionPriority), patched like v1alpha1
    newer = one(docs, "APIService", "v1alpha2.metrics.smi-spec.io")["spec"]
    assert (newer["group"], newer["version"], newer["service"]) == (GROUP, "v1alpha2", spec["service"])
    assert newer["versionPriority"] > spec["versionPriority"] and newer.get("insecureSkipTLSVerify") is not True
    assert one(docs, "APIService", "v1alpha2.metrics.smi-spec.io")["metadata"].get("annotations") == \
        one(docs, "APIService", APISERVICE)["metadata"].get("annotations")
    if "caBundle" in spec:  # if present it must at least be base64 PEM
        assert b"BEGIN CERTIFICATE" in base64.b64decode(spec["caBundle"])

    ref = spec["service"]
    svc = one(docs, "Service", ref["name"], ref["namespace"])
    port = ref.get("port", 443)
    svc_ports = {p["port"]: p for p in svc["spec"]["ports"]}
    assert port in svc_ports, f"APIService points at port {port}, Service has {sorted(svc_ports)}"
    assert svc_ports[port]["name"] == "https"

    # The Service reaches the server's HTTPS port, and selects the server's pods.
    c = container(docs)
    cports = {p["name"]: p["containerPort"] for p in c["ports"]}
    target = svc_ports[port]["targetPort"]
    assert target in cports or target in cports.values()
    secure_port = int(args_map(c)["--secure-port"])
    assert cports.get(target, target) == secure_port == 6443
    labels = deployment(docs)["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= labels.items()


@overlays
def test_cert_manager_tls(mesh):
    docs = render(mesh)
    api = one(docs, "APIService", APISERVICE)
    ann = api["metadata"].get("annotations", {})
    ref = ann.get("cert-manager.io/inject-ca-from")
    assert ref, "APIService lacks cert-manager.io/inject-ca-from"
    cert_ns, cert_name = ref.split("/")
    cert = one(docs, "Certificate", cert_name, cert_ns)
    svc = api["spec"]["service"]
    assert f"{svc['name']}.{svc['namespace']}.svc" in cert["spec"]["dnsNames"]
    issuer = one(docs, "Issuer", cert["spec"]["issuerRef"]["name"], cert_ns)
    # Issued by a CA (stable caBundle across leaf renewals), itself a cert-manager CA cert.
    ca_secret = issuer["spec"]["ca"]["secretName"]
    assert any(c["spec"].get("isCA") and c["spec"]["secretName"] == ca_secret
               for c in find(docs, "Certificate", namespace=cert_ns))

    # The Deployment serves that certificate.
    c = container(docs)
    a = args_map(c)
    vols = {v["name"]: v for v in deployment(docs)["spec"]["template"]["spec"]["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    for flag, key in (("--tls-cert-file", "tls.crt"), ("--tls-private-key-file", "tls.key")):
        path = Path(a[flag])
        assert path.name == key
        vol = vols[mounts[str(path.parent)]]
        assert vol["secret"]["secretName"] == cert["spec"]["secretName"]


@overlays
def test_deployment_pod_security_restricted(mesh):
    docs = render(mesh)
    dep = deployment(docs)
    pod = dep["spec"]["template"]["spec"]
    psc = pod.get("securityContext", {})
    assert psc.get("runAsNonRoot") is True
    assert psc.get("runAsUser") == UID
    assert psc.get("seccompProfile", {}).get("type") == "RuntimeDefault"
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod.get(key), key
    assert "priorityClassName" not in pod
    allowed_volumes = {"configMap", "secret", "emptyDir", "projected", "downwardAPI"}
    for v in pod["volumes"]:
        assert set(v) - {"name"} <= allowed_volumes, v
    for c in pod.get("initContainers", []) + pod["containers"]:
        sc = c.get("securityContext", {})
        assert sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True
        assert sc.get("runAsUser", psc.get("runAsUser")) not in (None, 0)
        assert sc.get("readOnlyRootFilesystem") is True
        assert sc.get("allowPrivilegeEscalation") is False
        assert not sc.get("privileged")
        assert sc.get("capabilities", {}).get("drop") == ["ALL"]
        assert not sc.get("capabilities", {}).get("add")
        seccomp = sc.get("seccompProfile", psc.get("seccompProfile", {}))
        assert seccomp.get("type") == "RuntimeDefault"
        assert not c.get("ports") or all("hostPort" not in p for p in c["ports"])


@overlays
def test_deployment_runtime(mesh):
    docs = render(mesh)
    dep = deployment(docs)
    assert dep["spec"]["replicas"] == 2
    pod = dep["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == NAME
    assert pod["terminationGracePeriodSeconds"] == 30
    assert dep["spec"]["selector"]["matchLabels"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()
    c = container(docs)
    assert c["image"].startswith("ghcr.io/smi-metrics-api/smi-metrics-api")
    assert "lifecycle" not in c or "preStop" not in c["lifecycle"]
    assert c["args"][0] == "serve"
    a = args_map(c)
    assert a["--secure-port"] == "6443"
    assert a["--cert-dir"].startswith("/tmp/")

    for probe, path in (("livenessProbe", "/livez"), ("readinessProbe", "/readyz")):
        get = c[probe]["httpGet"]
        assert get["path"] == path
        assert get["scheme"] == "HTTPS"
        assert get["port"] in ("https", 6443)
        assert c[probe].get("timeoutSeconds", 1) >= 2

    res = c["resources"]
    assert res["requests"]["cpu"] == "50m"
    assert res["requests"]["memory"] == "64Mi"
    assert "memory" in res["limits"]

    # /tmp is a writable emptyDir (cert dir); the root filesystem is read-only.
    vols = {v["name"]: v for v in pod["volumes"]}
    tmp = [m for m in c["volumeMounts"] if m["mountPath"] == "/tmp"]
    assert tmp and "emptyDir" in vols[tmp[0]["name"]]

    spread = pod["topologySpreadConstraints"]
    host = [t for t in spread if t["topologyKey"] == "kubernetes.io/hostname"]
    assert host and host[0]["whenUnsatisfiable"] == "ScheduleAnyway"
    assert host[0]["labelSelector"]["matchLabels"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()

    pdb = one(docs, "PodDisruptionBudget", NAME, NAMESPACE)
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()


@overlays
def test_configmap_carries_mesh(mesh):
    docs = render(mesh)
    c = container(docs)
    config_path = Path(args_map(c)["--config"])
    pod = deployment(docs)["spec"]["template"]["spec"]
    mount = [m for m in c["volumeMounts"] if m["mountPath"] == str(config_path.parent)]
    assert mount, f"--config {config_path} is not on a mounted volume"
    vol = next(v for v in pod["volumes"] if v["name"] == mount[0]["name"])
    cm_name = vol["configMap"]["name"]
    assert cm_name.startswith("smi-metrics-api-config")
    cm = one(docs, "ConfigMap", cm_name, NAMESPACE)
    assert len(find(docs, "ConfigMap")) == 1
    config = yaml.safe_load(cm["data"][config_path.name])
    assert config["mesh"] == mesh
    assert config["prometheus_url"] == MESHES[mesh]
    assert set(config) <= {"prometheus_url", "mesh"}


@overlays
def test_networkpolicy(mesh):
    docs = render(mesh)
    np_ = one(docs, "NetworkPolicy", NAME, NAMESPACE)
    labels = deployment(docs)["spec"]["template"]["metadata"]["labels"]
    assert np_["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    assert set(np_["spec"]["policyTypes"]) == {"Ingress", "Egress"}

    ingress = [(p.get("protocol", "TCP"), p["port"]) for r in np_["spec"]["ingress"]
               for p in r.get("ports", [])]
    assert ("TCP", 6443) in ingress
    # From anywhere: the kube-apiserver's address is not known.
    assert all(not r.get("from") for r in np_["spec"]["ingress"])

    egress = {(p.get("protocol", "TCP"), p["port"]) for r in np_["spec"]["egress"]
              for p in r.get("ports", [])}
    assert {("UDP", 53), ("TCP", 53), ("TCP", 443), ("TCP", 6443)} <= egress
    assert {("TCP", p) for p in PROMETHEUS_POD_PORTS} <= egress
    url_port = urlsplit(MESHES[mesh]).port
    if url_port is not None:
        assert ("TCP", url_port) in egress


@overlays
def test_rbac(mesh):
    docs = render(mesh)
    sa = one(docs, "ServiceAccount", NAME, NAMESPACE)
    assert sa.get("automountServiceAccountToken", True) is True
    subject = {"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}

    def bound(kind: str, role_kind: str, role: str, namespace: str | None = None) -> bool:
        return any(
            b["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role}
            and subject in b.get("subjects", [])
            for b in find(docs, kind, namespace=namespace)
        )

    assert bound("ClusterRoleBinding", "ClusterRole", "system:auth-delegator")
    assert bound("RoleBinding", "Role", "extension-apiserver-authentication-reader", "kube-system")
    assert bound("ClusterRoleBinding", "ClusterRole", NAME)

    own = one(docs, "ClusterRole", NAME)
    grants = {(g, r) for rule in own["rules"] for g in rule["apiGroups"] for r in rule["resources"]
              if {"get", "list", "watch"} <= set(rule["verbs"])}
    for g, r in [("", "pods"), ("", "namespaces"), ("", "services"),
                 ("apps", "deployments"), ("apps", "statefulsets"), ("apps", "daemonsets"),
                 ("apps", "replicasets"), ("batch", "jobs"), ("discovery.k8s.io", "endpointslices"),
                 ("split.smi-spec.io", "trafficsplits"), ("gateway.networking.k8s.io", "httproutes")]:
        assert (g, r) in grants, (g, r)
    # Read-only.
    assert all(set(rule["verbs"]) <= {"get", "list", "watch"} for rule in own["rules"])

    reader = one(docs, "ClusterRole", "smi-metrics-reader")
    assert reader["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    smi = [r for r in reader["rules"] if GROUP in r.get("apiGroups", [])]
    resources = {res for r in smi for res in r["resources"]}
    assert all({"get", "list"} <= set(r["verbs"]) for r in smi)
    assert all(set(r["verbs"]) <= {"get", "list", "watch"} for r in smi)
    for plural in SMI_PLURALS:
        assert plural in resources and f"{plural}/edges" in resources, plural
    assert "edges" in resources  # GET .../namespaces/<ns>/edges authorizes as "edges"

    scrapers = [r for r in find(docs, "ClusterRole")
                for rule in r["rules"] if "/metrics" in rule.get("nonResourceURLs", [])]
    assert scrapers and all(r["metadata"]["name"] != "smi-metrics-reader" for r in scrapers)


# --------------------------------------------------------------------------- schemas


def _structural_check(doc: dict) -> None:
    """Fallback when kubernetes-validate is not installed: shape only."""
    assert isinstance(doc.get("apiVersion"), str) and "/" in doc["apiVersion"] or doc["apiVersion"] == "v1"
    assert isinstance(doc.get("kind"), str) and doc["kind"][:1].isupper()
    md = doc.get("metadata")
    assert isinstance(md, dict)
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9.:]*[a-z0-9])?", md["name"]), md["name"]
    for k, v in {**md.get("labels", {}), **md.get("annotations", {})}.items():
        assert isinstance(k, str) and isinstance(v, str), (k, v)
    if doc["kind"] == "Deployment":
        for c in doc["spec"]["template"]["spec"]["containers"]:
            assert isinstance(c["name"], str) and isinstance(c["image"], str)
            assert all(isinstance(a, str) for a in c.get("args", []))


@overlays
def test_objects_match_kubernetes_schemas(mesh):
    docs = render(mesh)
    try:
        import kubernetes_validate
    except ImportError:
        kubernetes_validate = None
    checked = 0
    for doc in docs:
        if doc["apiVersion"].startswith(CERT_MANAGER_GROUPS):
            continue  # CRD kinds: no built-in schema
        if kubernetes_validate is None:
            _structural_check(doc)
            checked += 1
            continue
        for version in K8S_SCHEMA_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.SchemaNotFoundError:
                pytest.fail(f"no schema for {doc['apiVersion']} {doc['kind']} in Kubernetes {version}")
            except kubernetes_validate.ValidationError as e:
                pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} invalid for Kubernetes "
                            f"{version} at {'/'.join(map(str, e.path))}: {e.message}")
        checked += 1
    assert checked >= len(EXPECTED_KINDS) - 2


# --------------------------------------------------------------------------- components


def test_insecure_component_is_opt_in_only():
    # No overlay uses it ...
    for p in (DEPLOY / "overlays").glob("*/kustomization.yaml"):
        assert "insecure-skip-tls-verify" not in "\n".join(
            line for line in p.read_text().splitlines() if not line.lstrip().startswith("#")
        ), p
    # ... and it does what it says when added to a kustomization.
    docs = with_components(DEPLOY / "base", "insecure-skip-tls-verify")
    api = one(docs, "APIService", APISERVICE)
    assert api["spec"]["insecureSkipTLSVerify"] is True
    assert "caBundle" not in api["spec"]
    assert "--tls-cert-file" not in args_map(container(docs))


AUTOSCALING_APISERVICES = {"v1beta2.custom.metrics.k8s.io": ("custom.metrics.k8s.io", "v1beta2", 200),
                           "v1beta1.custom.metrics.k8s.io": ("custom.metrics.k8s.io", "v1beta1", 100),
                           "v1beta1.external.metrics.k8s.io": ("external.metrics.k8s.io", "v1beta1", 100)}


def with_components(base: Path, *components: str) -> list[dict]:
    """`base` rendered with deploy/components/<component>..., as a user's kustomization would."""
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "kustomization.yaml").write_text(yaml.safe_dump({
            "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
            "resources": [os.path.relpath(base, tmp)],   # kustomize wants relative paths
            "components": [os.path.relpath(DEPLOY / "components" / c, tmp) for c in components],
        }))
        return kustomize(Path(tmp))


def test_autoscaling_component_is_opt_in_only():
    """Only one backend per group may exist in a cluster: no overlay may take the groups over."""
    for mesh in MESHES:
        assert not [d for d in render(mesh) if d["kind"] == "APIService" and "metrics.k8s.io" in d["spec"]["group"]
                    and d["spec"]["group"] != GROUP]
        assert "--enable-custom-metrics" not in container(render(mesh)).get("args", [])


def test_autoscaling_component_apiservices_flags_and_rbac():
    docs = with_components(DEPLOY / "overlays" / "linkerd", "autoscaling")
    smi = one(docs, "APIService", APISERVICE)
    for name, (group, version, priority) in AUTOSCALING_APISERVICES.items():
        api = one(docs, "APIService", name)
        spec = api["spec"]
        assert (spec["group"], spec["version"], spec["versionPriority"]) == (group, version, priority)
        assert spec["service"] == smi["spec"]["service"] and spec["insecureSkipTLSVerify"] is False
        # Verified TLS from the same CA as the SMI APIService.
        assert api["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == \
            smi["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]
    args = container(docs)["args"]
    assert "--enable-custom-metrics" in args and "--enable-external-metrics" in args
    reader = one(docs, "ClusterRole", "smi-metrics-api:autoscaling-metrics-reader")
    assert reader["rules"] == [{"apiGroups": ["custom.metrics.k8s.io", "external.metrics.k8s.io"],
                                "resources": ["*"], "verbs": ["get", "list"]}]
    assert not find(docs, "ClusterRoleBinding", "smi-metrics-api:autoscaling-metrics-reader"), "bound by users"
    try:
        import kubernetes_validate
    except ImportError:
        pytest.skip("kubernetes-validate is not installed")
    for doc in docs:
        if doc["apiVersion"].startswith(CERT_MANAGER_GROUPS):
            continue
        for version in K8S_SCHEMA_VERSIONS:
            kubernetes_validate.validate(doc, version, strict=True)


def test_base_config_map_is_replaced_not_merged():
    # An overlay that forgot the generator would silently keep mesh "auto".
    base_cfg = yaml.safe_load((DEPLOY / "base" / "config.yaml").read_text())
    assert base_cfg["mesh"] == "auto"
    for mesh in MESHES:
        assert yaml.safe_load((DEPLOY / "overlays" / mesh / "config.yaml").read_text())["mesh"] == mesh


# --------------------------------------------------------------------------- Dockerfile


def test_dockerfile():
    text = (ROOT / "Dockerfile").read_text()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert any("python:3.11-slim" in line for line in lines)
    assert 'ENTRYPOINT ["smi-metrics-api"]' in lines
    assert 'CMD ["serve"]' in lines
    users = [line for line in lines if line.startswith("USER ")]
    assert users and users[-1].split()[1].split(":")[0] == str(UID)
    assert "SMI_METRICS_CERT_DIR=/tmp/certs" in text
    # The packs travel inside the wheel (package data), the simulator and the tests never enter the image.
    assert re.search(r"^COPY queries/ queries/$", text, re.M) and "SMI_METRICS_QUERIES_DIR" not in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {"tests/", "meshsim/"} <= set(ignored)
    # Dependencies are installed before the package source is copied (layer caching).
    assert text.index("COPY pyproject.toml") < text.index("pip install -r") < text.index("COPY metrics_api/")
    ignore = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    for needed in ("pyproject.toml", "metrics_api", "metrics_api/", "queries", "queries/"):
        assert needed not in ignore



# --------------------------------------------------------------------------- issue 10: operators


def test_dockerfile_oci_provenance_labels_come_from_build_args():
    text = (ROOT / "Dockerfile").read_text()
    runtime = text[text.rindex("FROM "):]   # the labels belong to the image that ships
    for arg, label in (("SOURCE", "source"), ("REVISION", "revision"), ("VERSION", "version")):
        assert re.search(rf"^ARG {arg}=\S+$", runtime, re.M), arg
        assert f'org.opencontainers.image.{label}="${{{arg}}}"' in runtime, label


@pytest.mark.parametrize("mesh", sorted(MESHES))
def test_rendered_manifest_is_current(mesh):
    """deploy/rendered/<mesh>.yaml is exactly `kubectl kustomize deploy/overlays/<mesh>` (after its
    comment header): CI fails until scripts/render-manifests.sh is re-run after a change in deploy/."""
    if KUBECTL is None:
        pytest.skip("kubectl not found on PATH: cannot render deploy/ with `kubectl kustomize`")
    proc = subprocess.run([KUBECTL, "kustomize", str(DEPLOY / "overlays" / mesh)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    published = (DEPLOY / "rendered" / f"{mesh}.yaml").read_text()
    body = "".join(line for line in published.splitlines(keepends=True) if not line.startswith("# "))
    assert body == proc.stdout, f"deploy/rendered/{mesh}.yaml is stale: run scripts/render-manifests.sh"


def test_servicemonitor_component_scrapes_metrics_with_the_scraper_role():
    with tempfile.TemporaryDirectory(dir=DEPLOY) as tmp:   # inside deploy/: kustomize's load restrictor
        (Path(tmp) / "kustomization.yaml").write_text(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
            "resources: [../overlays/linkerd]\ncomponents: [../components/servicemonitor]\n")
        docs = kustomize(Path(tmp))
    monitor = one(docs, "ServiceMonitor", NAME, NAMESPACE)
    endpoint = monitor["spec"]["endpoints"][0]
    service = one(docs, "Service", NAME, NAMESPACE)
    assert endpoint["port"] in [port["name"] for port in service["spec"]["ports"]]
    assert (endpoint["scheme"], endpoint["path"]) == ("https", "/metrics")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert endpoint["tlsConfig"]["serverName"] == f"{NAME}.{NAMESPACE}.svc"
    serving = one(docs, "Certificate", "smi-metrics-api-tls", NAMESPACE)   # its Secret holds ca.crt too
    assert endpoint["tlsConfig"]["ca"]["secret"]["name"] == serving["spec"]["secretName"]
    role = one(docs, "ClusterRole", "smi-metrics-api:metrics-scraper")
    assert {"nonResourceURLs": ["/metrics"], "verbs": ["get"]} in role["rules"]
    binding = one(docs, "ClusterRoleBinding", "smi-metrics-api:metrics-scraper")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    discovery = one(docs, "RoleBinding", "smi-metrics-api:prometheus-discovery", NAMESPACE)
    assert discovery["subjects"] == binding["subjects"]   # the same Prometheus discovers and scrapes
    assert not find(render("linkerd"), "ServiceMonitor")   # opt-in: overlays without the component have none
