"""Reads the log records the local collector received, to find one order's lines by trace id.

Jaeger v2 (the stack's collector, ci/stack/jaeger.yaml) ships no file exporter, so its
logs pipeline ends in the debug exporter at detailed verbosity: each batch of records is
one JSON line of the collector's own log (`.shopmesh/stack/logs/otel-collector.jsonl`)
whose `msg` is the exporter's text rendering. This module parses that text back into
records (service, time, severity, trace id, span id, body: the service's own JSON line).

    .venv/bin/python ci/stack/otel_logs.py --trace-id 4bf92f3577b34da6a3ce929d0e0e4736
    .venv/bin/python ci/stack/otel_logs.py --service orders --raw

Used by people on the local stack and by tests/shop/test_observability_traces.py.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DEFAULT_FILE = REPO / ".shopmesh" / "stack" / "logs" / "otel-collector.jsonl"


@dataclass
class LogRecord:
    """One log record as the collector received it."""

    service: str = ""
    timestamp: str = ""
    severity: str = ""
    trace_id: str = ""
    span_id: str = ""
    body: str = ""
    attributes: dict[str, str] = field(default_factory=dict)

    def body_json(self) -> dict[str, Any] | None:
        """The body as JSON (our services send their JSON line), or None."""
        try:
            value = json.loads(self.body)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None


def _value(text: str) -> str:
    # The debug exporter renders a string value as Str(<text>); other types as Int(1) etc.
    if "(" in text and text.endswith(")"):
        return text[text.index("(") + 1 : -1]
    return text


def parse_batch(text: str) -> Iterator[LogRecord]:
    """The records in one debug-exporter rendering of a batch (`ResourceLog #0 ...`)."""
    service = ""
    section = ""
    record: LogRecord | None = None
    for line in text.splitlines():
        if line.startswith("ResourceLog #"):
            if record is not None:
                yield record
            record, service, section = None, "", "resource"
        elif line.startswith("LogRecord #"):
            if record is not None:
                yield record
            record, section = LogRecord(service=service), "record"
        elif line.startswith("Resource attributes:"):
            section = "resource"
        elif line.startswith("Attributes:"):
            section = "attributes"
        elif line.startswith("     -> ") and ": " in line:
            key, _, value = line[len("     -> ") :].partition(": ")
            if section == "resource" and key == "service.name":
                service = _value(value)
            elif section == "attributes" and record is not None:
                record.attributes[key] = _value(value)
        elif record is not None:
            key, _, value = line.partition(": ")
            if key == "Timestamp":
                record.timestamp = value
            elif key == "SeverityText":
                record.severity = value
            elif key == "Body":
                record.body = _value(value)
            elif key == "Trace ID":
                record.trace_id = value
            elif key == "Span ID":
                record.span_id = value
    if record is not None:
        yield record


def read_records(lines: Iterable[str]) -> Iterator[LogRecord]:
    """Every record in the collector's JSON log lines (other lines are skipped)."""
    for line in lines:
        if '"debug"' not in line or "LogRecord #" not in line:
            continue  # cheap filter: the collector's own messages
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("otelcol.component.id") == "debug" and entry.get("otelcol.signal") == "logs":
            yield from parse_batch(str(entry.get("msg", "")))


def records_in(path: Path | str | None = None) -> list[LogRecord]:
    """Every record in the collector's log file (SHOPMESH_OTEL_LOG_FILE or the default)."""
    target = Path(path or os.environ.get("SHOPMESH_OTEL_LOG_FILE") or DEFAULT_FILE)
    if not target.is_file():
        return []
    with target.open(encoding="utf-8", errors="replace") as lines:
        return list(read_records(lines))


def main(argv: list[str] | None = None) -> int:
    """Print the matching records' bodies (our JSON lines), oldest first."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--trace-id", help="32 hex digits (the X-Trace-Id response header)")
    parser.add_argument("--service", help="service.name of the sender")
    parser.add_argument("--file", help=f"the collector's JSON log (default {DEFAULT_FILE})")
    parser.add_argument("--raw", action="store_true", help="print every field, not only the body")
    args = parser.parse_args(argv)
    found = 0
    for record in records_in(args.file):
        if args.trace_id and record.trace_id != args.trace_id.lower():
            continue
        if args.service and record.service != args.service:
            continue
        found += 1
        if args.raw:
            print(json.dumps(record.__dict__))
        else:
            print(record.body)
    return 0 if found else 1


if __name__ == "__main__":
    sys.exit(main())
