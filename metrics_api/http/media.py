"""Accept-header negotiation: which representation a client asked for, as kube-apiserver decides it."""
from __future__ import annotations

from dataclasses import dataclass

JSON = "application/json"
_JSON_RANGES = ("application/json", "application/*", "*/*")


@dataclass(frozen=True)
class MediaRange:
    mime: str                   # lower case, e.g. "application/json"
    params: dict[str, str]      # keys lower case, e.g. {"as": "Table", "g": "meta.k8s.io", "v": "v1"}

    @property
    def is_json(self) -> bool:
        return self.mime in _JSON_RANGES

    def names(self, kind: str, group: str, versions: tuple[str, ...]) -> str | None:
        """The version of `group`/`kind` this JSON range asks for (`as=…;g=…;v=…`), or None."""
        if not self.is_json or self.params.get("as") != kind or self.params.get("g") != group:
            return None
        version = self.params.get("v", "")
        return version if version in versions else None


def parse_accept(header: str | None) -> list[MediaRange]:
    """The ranges of an Accept header, most preferred first (by q, then by order); q=0 ranges dropped.
    A missing or empty header means JSON."""
    if not header or not header.strip():
        return [MediaRange(JSON, {})]
    ranked: list[tuple[float, int, MediaRange]] = []
    for position, part in enumerate(header.split(",")):
        mime, *raw_params = (piece.strip() for piece in part.split(";"))
        params: dict[str, str] = {}
        for raw in raw_params:
            key, _, value = raw.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        try:
            quality = float(params.pop("q", "1"))
        except ValueError:
            quality = 1.0
        if mime and quality > 0:
            ranked.append((-quality, position, MediaRange(mime.lower(), params)))
    return [media for _, _, media in sorted(ranked, key=lambda entry: entry[:2])]
