"""One check for pack validation: a broken pack fails naming the file, the key and the problem."""
from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from metrics_api.packs.loader import parse
from metrics_api.packs.model import PackError


def assert_rejected(document: dict, mutate: Callable[[dict], object], key: str, problem: str) -> None:
    broken = copy.deepcopy(document)
    mutate(broken)
    with pytest.raises(PackError) as caught:
        parse(broken, "custom.yaml")
    message = str(caught.value)
    assert message.startswith("custom.yaml: ") and key in message and problem in message, message
