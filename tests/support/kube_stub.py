"""A stand-in for kube-apiserver (none is installable here): a TLS aiohttp server on 127.0.0.1 that
answers exactly the endpoints smi-metrics-api calls, with the real API's JSON shapes and Status errors:
the extension-apiserver-authentication ConfigMap, TokenReview, SubjectAccessReview (policy set per
test), workload lists (paged with limit/continue), and the APIService (get, merge patch). It records
every review it answers, and issues real certificates: its own serving CA, a front-proxy CA and a
client CA, from which tests mint client certificates."""
from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import ipaddress
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from meshsim.process import free_port
from meshsim.scenario import Scenario, pod_ip

SERVICE_ACCOUNT_TOKEN = "stub-service-account-token"
# Where each SMI plural lives in the Kubernetes API, and its list kind.
API = {
    "namespaces": ("/api/v1", "v1", "Namespace"), "pods": ("/api/v1", "v1", "Pod"),
    "services": ("/api/v1", "v1", "Service"), "deployments": ("/apis/apps/v1", "apps/v1", "Deployment"),
    "statefulsets": ("/apis/apps/v1", "apps/v1", "StatefulSet"),
    "daemonsets": ("/apis/apps/v1", "apps/v1", "DaemonSet"),
    "replicasets": ("/apis/apps/v1", "apps/v1", "ReplicaSet"), "jobs": ("/apis/batch/v1", "batch/v1", "Job"),
    "endpointslices": ("/apis/discovery.k8s.io/v1", "discovery.k8s.io/v1", "EndpointSlice"),
}
PLURAL = {kind: plural for plural, (_, _, kind) in API.items()}
CONFIGMAP = "/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication"
APISERVICES = "/apis/apiregistration.k8s.io/v1/apiservices"
SMI_APISERVICE = "v1alpha1.metrics.smi-spec.io"
# The APIServices the stand-in has: ours, and the optional autoscaling ones (deploy/components/autoscaling).
APISERVICE_GROUPS = {SMI_APISERVICE: ("metrics.smi-spec.io", "v1alpha1"),
                     "v1alpha2.metrics.smi-spec.io": ("metrics.smi-spec.io", "v1alpha2"),
                     "v1beta2.custom.metrics.k8s.io": ("custom.metrics.k8s.io", "v1beta2"),
                     "v1beta1.custom.metrics.k8s.io": ("custom.metrics.k8s.io", "v1beta1"),
                     "v1beta1.external.metrics.k8s.io": ("external.metrics.k8s.io", "v1beta1")}
RESOURCE_VERSION = "1"   # the objects never change: every list is consistent with every other
PAGE_LIMIT_CAP = 3   # answer at most this many items per page, to exercise `continue`

Policy = Callable[[dict[str, Any]], bool]   # a SubjectAccessReview spec → allowed?


@dataclass
class Authority:
    """A CA that can mint certificates, as files."""
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    directory: Path

    @classmethod
    def create(cls, directory: Path, name: str) -> Authority:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        certificate = (
            _builder(subject, subject, key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_usage(ca=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        directory.mkdir(parents=True, exist_ok=True)
        return cls(certificate, key, directory)

    @property
    def pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    def issue(self, name: str, organizations: tuple[str, ...] = (), *, server_hosts: tuple[str, ...] = (),
              valid_days: float = 1.0) -> tuple[Path, Path]:
        """A client certificate (CN=name, O=organizations), or a serving one for `server_hosts`: (cert, key) files."""
        key = ec.generate_private_key(ec.SECP256R1())
        attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
        subject = x509.Name(attributes + [x509.NameAttribute(NameOID.COMMON_NAME, name)])
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server_hosts else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            _builder(subject, self.certificate.subject, key.public_key(), valid_days)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(ca=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
        )
        if server_hosts:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([_san(h) for h in server_hosts]), critical=False)
        certificate = builder.sign(self.key, hashes.SHA256())
        stem = self.directory / f"{name.replace(':', '_')}-{certificate.serial_number:x}"
        cert_path, key_path = stem.with_suffix(".crt"), stem.with_suffix(".key")
        cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        return cert_path, key_path


def _builder(subject: x509.Name, issuer: x509.Name, public_key, valid_days: float = 1.0) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=valid_days)))


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _usage(ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=not ca,
                         data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                         encipher_only=False, decipher_only=False)


def objects_of(scenario: Scenario, extra: tuple[tuple[str, str, str, dict[str, str]], ...] = ()) -> dict[str, list]:
    """Kubernetes objects for the scenario, as a cluster running it would hold them: namespaces, the
    workloads, a ReplicaSet per Deployment (named `<deployment>-<pod-template-hash>`, as the deployment
    controller names it), the pods (ownerReferences to their controller, labels, IPs), one Service per
    workload selecting its pods, and that Service's EndpointSlice (targetRef to each pod); plus `extra`
    (namespace, name, kind, labels) objects that have no traffic and no pods."""
    found: dict[str, list] = {plural: [] for plural in API}
    ips = {key: pod_ip(index) for key, index in scenario.pod_index().items()}

    def add(kind: str, namespace: str, name: str, labels: dict[str, str], owner: dict[str, Any] | None = None,
            spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None,
            **fields: Any) -> dict[str, Any]:
        metadata: dict[str, Any] = {"name": name, "uid": uid(kind, namespace, name), "resourceVersion": "1",
                                    "creationTimestamp": "2024-01-01T00:00:00Z", "labels": labels}
        if kind != "Namespace":
            metadata = {"name": name, "namespace": namespace, **{k: v for k, v in metadata.items() if k != "name"}}
        if owner is not None:
            metadata["ownerReferences"] = [owner]
        body = {"metadata": metadata, **fields} if fields else {"metadata": metadata, "spec": spec or {},
                                                                 "status": status or {}}
        found[PLURAL[kind]].append(body)
        return body

    for namespace in sorted({w.namespace for w in scenario.workloads} | {e[0] for e in extra}):
        add("Namespace", "", namespace, {"kubernetes.io/metadata.name": namespace})
    services: set[tuple[str, str]] = set()
    for workload in scenario.workloads:
        labels = dict(workload.labels)
        add(workload.kind, workload.namespace, workload.name, labels, spec={"selector": {"matchLabels": labels}})
        controller = owner_reference(workload.kind, workload.namespace, workload.name)
        pod_labels = labels
        if workload.kind == "Deployment":
            replicaset = f"{workload.name}-{workload.pod_template_hash}"
            pod_labels = {**labels, "pod-template-hash": workload.pod_template_hash}
            add("ReplicaSet", workload.namespace, replicaset, pod_labels, controller,
                spec={"replicas": len(workload.pods), "selector": {"matchLabels": pod_labels}})
            controller = owner_reference("ReplicaSet", workload.namespace, replicaset)
        endpoints = []
        for pod in workload.pods:
            ip = ips[(workload.namespace, pod)]
            add("Pod", workload.namespace, pod, pod_labels, controller, spec={"serviceAccountName": workload.service_account},
                status={"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]})
            endpoints.append({"addresses": [ip], "conditions": {"ready": True, "serving": True, "terminating": False},
                              "targetRef": {"kind": "Pod", "namespace": workload.namespace, "name": pod,
                                            "uid": uid("Pod", workload.namespace, pod)}})
        service = workload.service   # `c.d` and `c-d` are both behind Service `c-d`: one object, two slices
        if (workload.namespace, service) not in services:
            services.add((workload.namespace, service))
            add("Service", workload.namespace, service, {"app": labels.get("app", service)},
                spec={"selector": {"app": labels.get("app", service)}, "ports": [{"port": 8080, "protocol": "TCP"}],
                      "type": "ClusterIP"})
        add("EndpointSlice", workload.namespace, f"{service}-{hashlib.sha256(workload.name.encode()).hexdigest()[:5]}",
            {"kubernetes.io/service-name": service, "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"},
            owner_reference("Service", workload.namespace, service), addressType="IPv4", endpoints=endpoints,
            ports=[{"name": "", "port": 8080, "protocol": "TCP"}])
    for namespace, name, kind, labels in extra:
        add(kind, namespace, name, labels)
    return found


def uid(kind: str, namespace: str, name: str) -> str:
    return f"uid-{kind}-{namespace}-{name}"


def owner_reference(kind: str, namespace: str, name: str) -> dict[str, Any]:
    """The controller ownerReference to the object (Kubernetes sets `controller: true` on exactly one)."""
    api_version = API[PLURAL[kind]][1]
    return {"apiVersion": api_version, "kind": kind, "name": name, "uid": uid(kind, namespace, name),
            "controller": True, "blockOwnerDeletion": True}


class KubeStub:
    def __init__(self, directory: Path, objects: dict[str, list]) -> None:
        self.directory = directory
        self.objects = objects
        self.serving_ca = Authority.create(directory / "serving-ca", "stub-kube-apiserver-ca")
        self.front_proxy_ca = Authority.create(directory / "front-proxy-ca", "front-proxy-ca")
        self.client_ca = Authority.create(directory / "client-ca", "kubernetes-client-ca")
        self.configmap: dict[str, str] = {}
        self.set_authentication(self.front_proxy_ca, ["front-proxy-client"])
        self.tokens: dict[str, dict[str, Any]] = {}        # bearer token → TokenReview status.user
        self.policy: Policy = lambda spec: True
        self.subject_access_reviews: list[dict[str, Any]] = []
        self.token_reviews: list[str] = []
        self.token_review_seconds = 0.01   # a real review takes a round trip to kube-apiserver and back
        self.list_calls: list[str] = []
        self.apiservices: dict[str, dict[str, Any]] = {
            name: {"kind": "APIService", "apiVersion": "apiregistration.k8s.io/v1",
                   "metadata": {"name": name, "resourceVersion": "1"},
                   "spec": {"group": group, "version": version, "groupPriorityMinimum": 100, "versionPriority": 100}}
            for name, (group, version) in APISERVICE_GROUPS.items()}
        # Split objects (CRDs): group → the versions the cluster serves, and the objects of each plural.
        self.served_groups: dict[str, list[str]] = {}
        self.route_objects: dict[str, list[dict[str, Any]]] = {}
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    # ---------------------------------------------------------------- test controls
    def set_authentication(self, front_proxy: Authority, allowed_names: list[str]) -> None:
        """What kube-apiserver writes into kube-system/extension-apiserver-authentication."""
        self.configmap = {
            "client-ca-file": self.client_ca.pem,
            "requestheader-client-ca-file": front_proxy.pem,
            "requestheader-allowed-names": orjson.dumps(allowed_names).decode(),
            "requestheader-username-headers": '["X-Remote-User"]',
            "requestheader-group-headers": '["X-Remote-Group"]',
            "requestheader-extra-headers-prefix": '["X-Remote-Extra-"]',
        }

    def kubeconfig(self) -> Path:
        path = self.directory / "kubeconfig"
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "stub",
            "clusters": [{"name": "stub", "cluster": {
                "server": self.url,
                "certificate-authority-data": base64.b64encode(self.serving_ca.pem.encode()).decode()}}],
            "users": [{"name": "smi-metrics-api", "user": {"token": SERVICE_ACCOUNT_TOKEN}}],
            "contexts": [{"name": "stub", "context": {"cluster": "stub", "user": "smi-metrics-api"}}],
        }))
        return path

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> KubeStub:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _start(self) -> None:
        app = web.Application(middlewares=[self._authenticate])
        app.router.add_get(CONFIGMAP, self._configmap)
        app.router.add_post("/apis/authentication.k8s.io/v1/tokenreviews", self._token_review)
        app.router.add_post("/apis/authorization.k8s.io/v1/subjectaccessreviews", self._subject_access_review)
        app.router.add_get(APISERVICES + "/{name}", self._get_apiservice)
        app.router.add_patch(APISERVICES + "/{name}", self._patch_apiservice)
        for plural, (base, _, _) in API.items():
            app.router.add_get(f"{base}/{plural}", self._list)
            app.router.add_get(f"{base}/namespaces/{{namespace}}/{plural}", self._list)
        app.router.add_get("/apis", self._api_groups)
        app.router.add_get("/apis/{group}/{version}/{plural}", self._list_routes)
        cert, key = self.serving_ca.issue("stub-kube-apiserver", server_hosts=("localhost", "127.0.0.1"))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=context).start()

    # ---------------------------------------------------------------- handlers
    @web.middleware
    async def _authenticate(self, request: web.Request, handler) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {SERVICE_ACCOUNT_TOKEN}":
            return status(401, "Unauthorized", "Unauthorized")
        return await handler(request)

    async def _configmap(self, request: web.Request) -> web.Response:
        return json({"kind": "ConfigMap", "apiVersion": "v1",
                     "metadata": {"name": "extension-apiserver-authentication", "namespace": "kube-system",
                                  "resourceVersion": str(abs(hash(orjson.dumps(self.configmap))))},
                     "data": dict(self.configmap)})

    async def _token_review(self, request: web.Request) -> web.Response:
        review = await request.json()
        token = review["spec"]["token"]
        self.token_reviews.append(token)
        await asyncio.sleep(self.token_review_seconds)
        user = self.tokens.get(token)
        result = {"authenticated": True, "user": user, "audiences": ["https://kubernetes.default.svc"]} if user \
            else {"user": {}, "error": "[invalid bearer token, token lookup failed]"}
        return json({**review, "metadata": {"creationTimestamp": None}, "status": result}, 201)

    async def _subject_access_review(self, request: web.Request) -> web.Response:
        review = await request.json()
        if review.get("kind") != "SubjectAccessReview" or "spec" not in review:
            return status(400, "BadRequest", "not a SubjectAccessReview")
        self.subject_access_reviews.append(review["spec"])
        allowed = self.policy(review["spec"])
        result = {"allowed": True, "reason": "RBAC: allowed by the test policy"} if allowed else {"allowed": False}
        return json({**review, "metadata": {"creationTimestamp": None}, "status": result}, 201)

    @property
    def apiservice(self) -> dict[str, Any]:
        """The SMI APIService."""
        return self.apiservices[SMI_APISERVICE]

    def _named_apiservice(self, request: web.Request) -> dict[str, Any] | web.Response:
        """The APIService the path names, or kube-apiserver's 404."""
        name = request.match_info["name"]
        if name not in self.apiservices:
            return status(404, "NotFound", f'apiservices.apiregistration.k8s.io "{name}" not found')
        return self.apiservices[name]

    async def _get_apiservice(self, request: web.Request) -> web.Response:
        apiservice = self._named_apiservice(request)
        return apiservice if isinstance(apiservice, web.Response) else json(apiservice)

    async def _patch_apiservice(self, request: web.Request) -> web.Response:
        if request.content_type != "application/merge-patch+json":
            return status(415, "UnsupportedMediaType", f"the body of the request was in an unknown format ({request.content_type})")
        apiservice = self._named_apiservice(request)
        if isinstance(apiservice, web.Response):
            return apiservice
        patch = await request.json()
        wanted = (patch.get("metadata") or {}).get("resourceVersion")
        current = apiservice["metadata"]["resourceVersion"]
        if wanted and wanted != current:
            return status(409, "Conflict", 'Operation cannot be fulfilled on apiservices.apiregistration.k8s.io '
                                           f'"{apiservice["metadata"]["name"]}": the object has been modified; '
                                           'please apply your changes to the latest version and try again')
        apiservice["spec"].update(patch.get("spec") or {})
        apiservice["metadata"]["resourceVersion"] = str(int(current) + 1)
        return json(apiservice)

    async def _list(self, request: web.Request) -> web.Response:
        """A list as kube-apiserver answers it: items in key order (namespace/name), at most `limit` (and
        PAGE_LIMIT_CAP) per page, an opaque `continue` token while more remain, the list's resourceVersion."""
        self.list_calls.append(request.path_qs)
        plural = request.path.rsplit("/", 1)[-1]
        _, api_version, kind = API[plural]
        namespace = request.match_info.get("namespace")
        items = sorted((o for o in self.objects[plural] if namespace is None or o["metadata"].get("namespace") == namespace),
                       key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        try:
            start = continue_offset(request.query.get("continue"))
            limit = min(int(request.query.get("limit") or len(items) or 1), PAGE_LIMIT_CAP)
        except ValueError:
            return status(400, "BadRequest", "continue key is not valid")
        page = items[start:start + limit]
        metadata: dict[str, Any] = {"resourceVersion": RESOURCE_VERSION}
        if start + limit < len(items):
            metadata["continue"] = continue_token(start + limit)
            metadata["remainingItemCount"] = len(items) - start - limit
        return json({"kind": f"{kind}List", "apiVersion": api_version, "metadata": metadata,
                     "items": [{"kind": kind, "apiVersion": api_version, **o} for o in page]})


    async def _api_groups(self, request: web.Request) -> web.Response:
        groups = [{"name": name, "versions": [{"groupVersion": f"{name}/{v}", "version": v} for v in versions],
                   "preferredVersion": {"groupVersion": f"{name}/{versions[0]}", "version": versions[0]}}
                  for name, versions in self.served_groups.items()]
        return json({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})

    async def _list_routes(self, request: web.Request) -> web.Response:
        group, version, plural = (request.match_info[k] for k in ("group", "version", "plural"))
        self.list_calls.append(request.path_qs)
        if version not in self.served_groups.get(group, []):
            return status(404, "NotFound", "the server could not find the requested resource")
        items = [o for o in self.route_objects.get(plural, []) if o["apiVersion"].startswith(f"{group}/")]
        return json({"kind": "List", "apiVersion": f"{group}/{version}", "metadata": {"resourceVersion": "1"},
                     "items": [{**o, "apiVersion": f"{group}/{version}"} for o in items]})


def continue_token(offset: int) -> str:
    """Opaque to clients, as the real one (base64 JSON of the resource version and the next key)."""
    return base64.urlsafe_b64encode(orjson.dumps({"v": "meta.k8s.io/v1", "rv": RESOURCE_VERSION, "start": offset})).decode()


def continue_offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(token.encode()))
        return int(decoded["start"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, base64.binascii.Error) as exc:
        raise ValueError(token) from exc


def json(body: dict[str, Any], code: int = 200) -> web.Response:
    return web.Response(status=code, body=orjson.dumps(body), content_type="application/json")


def status(code: int, reason: str, message: str) -> web.Response:
    return json({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
                 "reason": reason, "code": code}, code)
