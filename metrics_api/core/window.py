"""The window a request measures over: a Go duration between 1s and 24h (CONTRACT §2 and §5), whichever
API and parameter carry it (`t=`, a metric selector's `window=`)."""
from __future__ import annotations

from metrics_api.core.errors import bad_request
from metrics_api.core.quantity import parse_go_duration

MIN_WINDOW, MAX_WINDOW = 1.0, 86400.0


def parse_window(text: str, where: str) -> float:
    """Seconds in `text`, or a 400 that says `where` the value came from (e.g. "t='2x'")."""
    try:
        seconds = parse_go_duration(text)
    except ValueError:
        raise bad_request(f"invalid window {where}: expected a Go duration such as 30s, 1m or 1m30s") from None
    if not MIN_WINDOW <= seconds <= MAX_WINDOW:
        raise bad_request(f"invalid window {where}: must be between 1s and 24h")
    return seconds
