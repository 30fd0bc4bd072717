"""PromQL literals. Every value that reaches a query passes through here, never through a format string."""
from __future__ import annotations

import re

LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def string_literal(value: str) -> str:
    """A double-quoted PromQL string whose content is exactly `value`."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def regex_escape(value: str) -> str:
    """`value` as an RE2 pattern that matches it and nothing else (metacharacters escaped)."""
    return re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", value)


def regex_literal(value: str) -> str:
    """A string literal for `=~` that matches `value` and nothing else (RE2 metacharacters escaped)."""
    return string_literal(regex_escape(value))


def matches(label: str, pattern: str) -> str:
    """`label=~"pattern"`: `pattern` is pack text whose values went through regex_escape."""
    return f"{label}=~{string_literal(pattern)}"


def equals(label: str, value: str) -> str:
    return f"{label}={string_literal(value)}"


def not_empty(label: str) -> str:
    return f'{label}!=""'


def duration(seconds: float) -> str:
    """A PromQL range such as `30s` or `1500ms` (whole milliseconds)."""
    millis = round(seconds * 1000)
    return f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"


def number(value: float) -> str:
    return repr(float(value))
