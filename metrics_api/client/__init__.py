"""`kubectl traffic`: a kubectl plugin (console script `kubectl-traffic`) and a local dashboard that read the
SMI Traffic Metrics API through the user's kubeconfig. A client of the API only: it imports the plain
`core` helpers (kinds, quantities, cells) and `kube.client`, never the server's pipeline or HTTP stack."""
