"""Streaming OpenMetrics writer for linearly growing counters and histograms.

Every simulated series is linear in time: value(t_i) = start + i * inc, where
i is the index of the sample timestamp.  A family is written contiguously;
each histogram MetricPoint (all ``_bucket`` lines, ``_count``, ``_sum``) shares
one timestamp.  Timestamps are written in seconds, the file ends in ``# EOF``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import IO


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render_labels(labels: Mapping[str, str] | Iterable[tuple[str, str]]) -> str:
    """``a="1",b="2"`` (no braces), in the given order."""
    items = labels.items() if isinstance(labels, Mapping) else labels
    return ",".join(f'{k}="{escape(str(v))}"' for k, v in items)


def fmt(v: float) -> str:
    if isinstance(v, int):
        return str(v)
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


@dataclass(frozen=True)
class Counter:
    labels: str  # rendered label string, see render_labels
    start: float
    inc: float  # per sample


@dataclass(frozen=True)
class Histogram:
    labels: str  # rendered label string without le
    les: Sequence[str]  # formatted upper bounds, last one "+Inf"
    start: Sequence[int]  # cumulative bucket counts at the first sample
    inc: Sequence[int]  # cumulative bucket increments per sample
    start_sum: float
    inc_sum: float


@dataclass(frozen=True)
class Family:
    name: str  # counter family "request" → samples "request_total"; "unknown" family → samples "name"
    type: str  # "counter" | "unknown" | "histogram"
    help: str
    metrics: Iterable[Counter | Histogram]


def write(out: IO[str], families: Iterable[Family], timestamps: Sequence[int]) -> int:
    """Write ``families`` sampled at ``timestamps``; returns the number of series written."""
    ts = [str(t) for t in timestamps]
    idx = range(len(ts))
    n_series = 0
    for fam in families:
        out.write(f"# TYPE {fam.name} {fam.type}\n")
        if fam.help:
            out.write(f"# HELP {fam.name} {escape(fam.help)}\n")
        if fam.type in ("counter", "unknown"):
            # Envoy's counters keep their stat names (no `_total`): OpenMetrics calls those "unknown".
            sample = f"{fam.name}_total" if fam.type == "counter" else fam.name
            for m in fam.metrics:
                prefix = f"{sample}{{{m.labels}}} "
                s, d = m.start, m.inc
                out.write("".join(f"{prefix}{fmt(s + i * d)} {ts[i]}\n" for i in idx))
                n_series += 1
        elif fam.type == "histogram":
            for m in fam.metrics:
                sep = "," if m.labels else ""
                bprefix = [f"{fam.name}_bucket{{{m.labels}{sep}le=\"{le}\"}} " for le in m.les]
                cprefix = f"{fam.name}_count{{{m.labels}}} "
                sprefix = f"{fam.name}_sum{{{m.labels}}} "
                pairs = list(zip(bprefix, m.start, m.inc))
                cstart, cinc = m.start[-1], m.inc[-1]
                chunks = []
                for i in idx:
                    t = ts[i]
                    for p, s, d in pairs:
                        chunks.append(f"{p}{s + i * d} {t}\n")
                    chunks.append(f"{cprefix}{cstart + i * cinc} {t}\n")
                    chunks.append(f"{sprefix}{fmt(m.start_sum + i * m.inc_sum)} {t}\n")
                out.write("".join(chunks))
                n_series += len(m.les) + 2
        else:
            raise ValueError(f"unsupported family type {fam.type}")
    return n_series


def write_eof(out: IO[str]) -> None:
    out.write("# EOF\n")


def format_le(bound: float) -> str:
    """Upper bound as the proxies print it: ``1``, ``0.5``, ``3600000``."""
    return str(int(bound)) if float(bound).is_integer() else repr(float(bound))


def format_go_le(bound: float) -> str:
    """Upper bound as Go exporters print it (strconv.FormatFloat(v, 'g', -1, 64)): ``0.005``, ``300000``,
    ``1.8e+06``: client_golang (Hubble) and kuma-dp's re-exported Envoy histograms."""
    digits_tuple = Decimal(repr(float(bound))).normalize().as_tuple()
    digits = "".join(map(str, digits_tuple.digits))
    exponent = len(digits) + digits_tuple.exponent - 1
    if exponent < -4 or exponent >= 6:   # shortest form: Go switches to %e at exponent 6
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{mantissa}e{'+' if exponent >= 0 else '-'}{abs(exponent):02d}"
    return format_le(bound)


def linear_histogram(
    labels: str,
    bounds: Sequence[float],
    cells: Iterable[tuple[float, int]],
    base_steps: int,
    offset: int,
    les: Sequence[str] | None = None,
    unit_ms: float = 1.0,
) -> Histogram:
    """Histogram series from per-step (latency_ms, count) cells.

    Each cell starts at ``base_steps * count + offset`` and grows by ``count``
    per sample; a latency falls in the first bucket with ``latency <= bound``.
    ``les`` spells the bounds as the mesh prints them (default ``format_le``) and
    ``unit_ms`` is the mesh's unit in ms (1000 for seconds: ``_sum`` is divided by it).
    """
    nb = len(bounds) + 1  # + Inf
    start = [0] * nb
    inc = [0] * nb
    s_sum = i_sum = 0.0
    for ms, c in cells:
        b = next((k for k, ub in enumerate(bounds) if ms <= ub), len(bounds))
        c0 = base_steps * c + offset
        for k in range(b, nb):
            start[k] += c0
            inc[k] += c
        s_sum += ms * c0 / unit_ms
        i_sum += ms * c / unit_ms
    les = list(les) if les is not None else [format_le(b) for b in bounds]
    return Histogram(labels, les + ["+Inf"], start, inc, s_sum, i_sum)


class SeriesSet:
    """Accumulates per-step latency cells per (base label string, request outcome).

    Flows that a mesh cannot tell apart (same reporting pod, same peer
    identity) land on the same key and are summed, as a real proxy would.
    """

    def __init__(self) -> None:
        self.data: dict[str, dict] = {}   # labels → Outcome → [(latency_ms, count per step)]

    def add(self, labels: str, flow, step: int) -> None:
        by_outcome = self.data.setdefault(labels, {})
        for ms, counts in flow.cells(step):
            for outcome, count in counts.items():
                by_outcome.setdefault(outcome, []).append((ms, count))

    def items(self):
        return self.data.items()
