"""One package per API group and version served; each maps its paths onto the one pipeline."""
