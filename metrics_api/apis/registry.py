"""The table of served APIs: which prefix goes to which API object, and the discovery documents that
span groups (`/apis` as APIGroupList or aggregated discovery v2, `/apis/<group>`), built once."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from metrics_api.apis.api import Api
from metrics_api.http.document import Document
from metrics_api.http.media import parse_accept

DISCOVERY_GROUP = "apidiscovery.k8s.io"
DISCOVERY_LIST = "APIGroupDiscoveryList"
DISCOVERY_V2 = f"application/json;g={DISCOVERY_GROUP};v=v2;as={DISCOVERY_LIST}"


class Apis:
    """`apis` in preference order: a group's first version listed is its preferred version."""

    def __init__(self, apis: Sequence[Api]) -> None:
        self.apis = tuple(apis)
        self._groups: dict[str, list[Api]] = {}
        for api in self.apis:
            self._groups.setdefault(api.group, []).append(api)
        # Path → pre-serialized discovery body: /apis, /apis/<group>, /apis/<group>/<version>.
        self.documents: dict[str, bytes] = {"/apis": orjson.dumps(self._group_list())}
        for group in self._groups:
            self.documents[f"/apis/{group}"] = orjson.dumps({"kind": "APIGroup", "apiVersion": "v1",
                                                             **self._group(group)})
        for api in self.apis:
            self.documents[api.prefix] = api.resource_list
        self.aggregated = Document.of(self._aggregated(), DISCOVERY_V2)

    def for_path(self, path: str) -> Api | None:
        """The API whose prefix `path` is under (not the prefix itself: that is discovery)."""
        for api in self.apis:
            if path.startswith(api.prefix) and path[len(api.prefix):len(api.prefix) + 1] == "/":
                return api
        return None

    def _group(self, group: str) -> dict[str, Any]:
        versions = [{"groupVersion": f"{api.group}/{api.version}", "version": api.version}
                    for api in self._groups[group]]
        return {"name": group, "versions": versions, "preferredVersion": versions[0]}

    def _group_list(self) -> dict[str, Any]:
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [self._group(g) for g in self._groups]}

    def _aggregated(self) -> dict[str, Any]:
        items = [{"metadata": {"name": group},
                  "versions": [{"version": api.version, "resources": api.discovery_resources(), "freshness": "Current"}
                               for api in apis]}
                 for group, apis in self._groups.items()]
        return {"kind": DISCOVERY_LIST, "apiVersion": f"{DISCOVERY_GROUP}/v2", "metadata": {}, "items": items}


def wants_aggregated_discovery(accept: str | None) -> bool:
    """Whether the most preferred range we can serve for `/apis` is the v2 APIGroupDiscoveryList."""
    for media in parse_accept(accept):
        if media.names(DISCOVERY_LIST, DISCOVERY_GROUP, ("v2",)):
            return True
        if media.is_json and "as" not in media.params:
            return False
    return False
