"""Helpers shared by the unit, e2e and perf tests: the truth computed from the scenario, server processes, a kube-apiserver stand-in, fault and store proxies."""
