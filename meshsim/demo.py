"""`python -m meshsim.demo`: generated mesh traffic in a real Prometheus, served by the API in --local mode
(from a checkout: the simulator is not part of the installed package)."""
from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

from meshsim import VARIANTS
from meshsim.scenario import default_scenario
from meshsim.store import PROMETHEUS, PROMTOOL, PrometheusServer, write_scenario
from metrics_api.apis.smi import API_PREFIX
from metrics_api.app import serve
from metrics_api.cli.config import Settings


def run_demo(variant: str, port: int) -> int:
    """`variant`: a mesh, or one of its variants (istio-ambient, kuma-legacy, ...), served by its mesh's pack."""
    if variant not in VARIANTS:
        print(f"demo: no generator for mesh {variant!r}; choose one of {', '.join(VARIANTS)}", file=sys.stderr)
        return 2
    mesh = VARIANTS[variant].mesh
    for binary in (PROMETHEUS, PROMTOOL):
        if not Path(binary).exists():
            print(f"demo: {binary} is missing: apt-get install prometheus", file=sys.stderr)
            return 2
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    workdir = Path(tempfile.mkdtemp(prefix="smi-metrics-demo-"))
    try:
        started = time.monotonic()
        print(f"Generating {variant} traffic (now-20m … now+60m) and backfilling it with promtool …", flush=True)
        write_scenario(default_scenario(), [variant], workdir / "tsdb")
        with PrometheusServer(workdir / "tsdb") as prometheus:
            print(f"Prometheus ready at {prometheus.url} after {time.monotonic() - started:.1f}s", flush=True)
            settings = Settings(prometheus_url=prometheus.url, mesh=mesh, secure_port=port, bind_address="127.0.0.1",
                                cert_dir=str(workdir / "certs"), local=True, shutdown_delay=0, drain_timeout=2,
                                enable_custom_metrics=True, enable_external_metrics=True)
            kubeconfig = write_kubeconfig(workdir / "kubeconfig", port)
            _print_commands(port, prometheus.url, kubeconfig)
            try:
                asyncio.run(serve(settings))
            except KeyboardInterrupt:
                pass
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("demo stopped; Prometheus stopped and its data removed")
    return 0


def write_kubeconfig(path: Path, port: int) -> Path:
    """A kubeconfig for kubectl against the local server (--local ignores credentials; kubectl wants some)."""
    path.write_text(f"""apiVersion: v1
kind: Config
clusters:
- name: smi-demo
  cluster: {{server: "https://127.0.0.1:{port}", insecure-skip-tls-verify: true}}
users:
- name: smi-demo
  user: {{token: local-mode-ignores-this}}
contexts:
- name: smi-demo
  context: {{cluster: smi-demo, user: smi-demo}}
current-context: smi-demo
""")
    return path


def _print_commands(port: int, prometheus_url: str, kubeconfig: Path) -> None:
    kubectl = f"kubectl --kubeconfig={kubeconfig}"
    print(f"""
The SMI Traffic Metrics API is on https://127.0.0.1:{port} (self-signed certificate). Try:

  {kubectl} get --raw {API_PREFIX}
  {kubectl} get --raw {API_PREFIX}/namespaces/shop/deployments/web
  {kubectl} get --raw {API_PREFIX}/namespaces/shop/deployments/api/edges
  {kubectl} get --raw '{API_PREFIX}/namespaces/shop/deployments?t=5m'
  {kubectl} get --raw {API_PREFIX}/namespaces/shop
  curl -sk https://127.0.0.1:{port}{API_PREFIX}/deployments
  curl -sk https://127.0.0.1:{port}/metrics

The autoscaling metrics APIs (docs/autoscaling.md), as HPA and Flagger ask them:

  {kubectl} get --raw /apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/deployments.apps/web/request_rate
  {kubectl} get --raw '/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/pods/*/request_rate'
  {kubectl} get --raw \\
      '/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/success_rate?labelSelector=deployment%3Dweb'

Prometheus with the generated series: {prometheus_url}
Ctrl-C stops the server and Prometheus.
""", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m meshsim.demo",
                                     description="generated mesh traffic in a real Prometheus + the server")
    parser.add_argument("--mesh", default="linkerd", help="which mesh (or variant, e.g. istio-ambient) to generate and serve")
    parser.add_argument("--secure-port", type=int, default=6443)
    args = parser.parse_args(argv)
    return run_demo(args.mesh, args.secure_port)


if __name__ == "__main__":
    sys.exit(main())
