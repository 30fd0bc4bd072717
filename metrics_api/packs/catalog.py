"""The packs a server can use: the shipped ones (package data `metrics_api.queries`, the repository's
`queries/` folder) or `SMI_METRICS_QUERIES_DIR`, and user packs from `--query-packs` that replace a
shipped pack of the same mesh name or add one. Built once at start and passed to whoever needs it."""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from metrics_api.packs.loader import load_file
from metrics_api.packs.model import Pack, PackError


def shipped_dir() -> Path:
    configured = os.environ.get("SMI_METRICS_QUERIES_DIR")
    if configured:
        return Path(configured)
    shipped = resources.files("metrics_api") / "queries"   # in an installed wheel
    if shipped.is_dir():
        return Path(str(shipped))
    return Path(__file__).resolve().parents[2] / "queries"   # a source checkout: queries/ beside metrics_api/


class Catalog:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory if directory is not None else shipped_dir()
        self._overrides: dict[str, Path] = {}   # mesh name → user pack file, preferred over the shipped one

    def add_overrides(self, file_or_directory: str) -> list[Pack]:
        """Register user packs: one YAML file, or every *.yaml/*.yml in a directory (a ConfigMap mount).
        Each is validated now (a PackError names file, key and problem); each then replaces the shipped
        pack with the same `mesh` name, or adds a new one."""
        path = Path(file_or_directory)
        if path.is_dir():
            files = sorted(f for f in path.iterdir() if f.suffix in (".yaml", ".yml") and f.is_file())
        elif path.is_file():
            files = [path]
        else:
            raise PackError(f"{path}: --query-packs: no such file or directory")
        if not files:
            raise PackError(f"{path}: --query-packs: no *.yaml query pack in this directory")
        loaded = [load_file(file.resolve()) for file in files]
        names = [pack.name for pack in loaded]
        if duplicates := sorted({n for n in names if names.count(n) > 1}):
            raise PackError(f"{path}: --query-packs: several files define mesh {', '.join(duplicates)}")
        for file, pack in zip(files, loaded):
            self._overrides[pack.name] = file.resolve()
        return loaded

    def names(self) -> list[str]:
        return sorted({p.stem for p in self.directory.glob("*.yaml")} | set(self._overrides))

    def load(self, name_or_file: str) -> Pack:
        """A pack by name (`linkerd`: a user override, else a shipped pack), or from a YAML file path."""
        if name_or_file in self._overrides:
            return load_file(self._overrides[name_or_file])
        if name_or_file.endswith((".yaml", ".yml")) or os.sep in name_or_file:
            return load_file(Path(name_or_file))
        path = self.directory / f"{name_or_file}.yaml"
        if not path.exists():
            raise PackError(f"unknown mesh {name_or_file!r}: known packs are {', '.join(self.names())}")
        return load_file(path)

    def all(self) -> list[Pack]:
        return [self.load(name) for name in self.names()]
