"""Query packs: the model, loading and validation, the catalog of available packs, and mesh detection."""
