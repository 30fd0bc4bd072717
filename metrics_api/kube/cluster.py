"""Cluster mode, assembled: Kubernetes access, the authentication settings kept current (and their
client CAs trusted by the TLS context), the Gate, workload lookups and the optional caBundle write."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kubernetes_asyncio.config import ConfigException

from metrics_api.apis.served import served_apis
from metrics_api.cli.config import ConfigError, Settings
from metrics_api.http.certs import ca_file
from metrics_api.http.tls import ServingTls
from metrics_api.kube.authconfig import AuthConfigSource
from metrics_api.kube.authn import Authenticator
from metrics_api.kube.authz import Authorizer
from metrics_api.kube.cabundle import write_ca_bundle
from metrics_api.kube.client import Kube, KubeError
from metrics_api.kube.gate import KubeGate
from metrics_api.kube.inventory import Inventory
from metrics_api.kube.owners import Ownership
from metrics_api.kube.tokens import TokenReviewer
from metrics_api.kube.workloads import WorkloadLookup
from metrics_api.packs.model import Pack


@dataclass
class Cluster:
    kube: Kube
    auth: AuthConfigSource
    gate: KubeGate
    workloads: WorkloadLookup

    @classmethod
    async def connect(cls, settings: Settings, pack: Pack, tls: ServingTls) -> Cluster:
        """Raises ConfigError (one line for the user) when the cluster cannot be used."""
        try:
            kube = await Kube.connect(settings.kubeconfig)
        except (ConfigException, OSError) as exc:
            where = f"--kubeconfig {settings.kubeconfig}" if settings.kubeconfig else "the in-cluster configuration"
            raise ConfigError(f"cannot load Kubernetes access from {where}: {exc}") from None
        auth = AuthConfigSource(kube, settings.reload_interval)
        auth.on_change.append(lambda config: tls.trust_client_cas(config.ca_pem()))
        try:
            await auth.start()
            if settings.write_ca_bundle:
                apis = served_apis(pack, custom_metrics=settings.enable_custom_metrics,
                                   external_metrics=settings.enable_external_metrics).apis
                await write_ca_bundle(kube, ca_file(Path(settings.cert_dir)).read_bytes(),
                                      [f"{api.version}.{api.group}" for api in apis])
        except (KubeError, ValueError) as exc:
            await kube.close()
            raise ConfigError(f"Kubernetes: {exc}") from None
        gate = KubeGate(Authenticator(auth, TokenReviewer(kube)), Authorizer(kube))
        return cls(kube, auth, gate, WorkloadLookup(Inventory(kube), Ownership(kube), pack))

    async def close(self) -> None:
        await self.auth.stop()
        await self.kube.close()
