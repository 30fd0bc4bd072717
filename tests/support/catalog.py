"""The shipped packs, as tests read them (a fresh Catalog: no user overrides)."""
from metrics_api.packs.catalog import Catalog

packs = Catalog()
