"""The CPU cost of threat detection (security.threats) on typical requests.

    .venv/bin/python -m bench.threats [--rounds 15] [--requests 5000]

In-process, over what the gateway's endpoints hand the detector for each kind of request
(no I/O, nothing else timed); the bound is 20 µs of CPU per request (issue 17):

- ``graphql-query``: S2's query (50 samples with their relations) and its variables; the
  document's literals are scanned once per prepared operation, so a request pays for its
  variables;
- ``graphql-mutation``: S4's ``createSample`` with an input object of six strings;
- ``rest-get``: S5's ``GET /api/samples/{id}`` with two query parameters;
- ``rest-post``: a ``POST /api/samples`` JSON body of 1 KiB (parsed, then scanned);
- ``document``: preparing a document's screen (once per operation, not per request).

Each round times ``--requests`` requests of each kind with ``time.process_time``; rounds
alternate between the kinds. The bound holds the fastest round of each kind, as timeit's
documentation advises for code timed alone (slower rounds measure what else the machine was
doing); the report gives the median of the rounds beside it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from graphql import parse

from security.threats import ThreatConfig, ThreatDetector

MAX_US = 20.0

QUERY = """query Samples($first: Int!, $status: SampleStatus, $search: String) {
  samples(first: $first, filter: {status: $status, search: $search}) {
    edges { node { id name barcode status template { name } storage { path } } }
  }
}"""
QUERY_VARIABLES = {"first": 50, "status": "VALIDATED", "search": "PLS-2025"}
MUTATION = """mutation Create($input: CreateSampleInput!) {
  createSample(input: $input) { sample { id barcode } userErrors { field code } }
}"""
MUTATION_VARIABLES = {
    "input": {
        "name": "Plasma aliquot 3 (patient 1142)",
        "sampleType": "BLOOD",
        "barcode": "PLS-20251231204208-0919",
        "location": "Freezer B, rack 4",
        "notes": "Received on dry ice; label intact. Spin 10 min & store at -80 °C.",
        "templateId": "3c0d9a5e-0a7e-4b8e-9d0b-6d6f6f6f6f01",
    }
}
REST_PATH = "/api/samples/3c0d9a5e-0a7e-4b8e-9d0b-6d6f6f6f6f01"
REST_QUERY = [("include", "storage"), ("fields", "name,barcode,status")]
REST_BODY = orjson.dumps(
    {
        "name": "Plasma aliquot 3 (patient 1142)",
        "sample_type": "blood",
        "barcode": "PLS-20251231204208-0919",
        "location": "Freezer B, rack 4",
        "metadata": {
            "collected_by": "tech@tracseq.lab",
            "volume_ml": 2.5,
            "tube_type": "EDTA",
            "notes": "Received on dry ice; label intact. " * 18,
        },
    }
)


def kinds(detector: ThreatDetector) -> dict[str, Callable[[], object]]:
    query_screen = detector.screen_document(parse(QUERY))
    mutation_screen = detector.screen_document(parse(MUTATION))
    document = parse(MUTATION)
    return {
        "graphql-query": lambda: (
            query_screen.literal or detector.variables(query_screen, QUERY_VARIABLES)
        ),
        "graphql-mutation": lambda: (
            mutation_screen.literal or detector.variables(mutation_screen, MUTATION_VARIABLES)
        ),
        "rest-get": lambda: detector.rest(REST_PATH, REST_QUERY),
        "rest-post": lambda: (
            detector.rest("/api/samples", []) or detector.body(REST_BODY, "application/json", True)
        ),
        "document": lambda: detector.screen_document(document).literal,
    }


def run(rounds: int = 15, requests: int = 5000) -> dict[str, Any]:
    detector = ThreatDetector(ThreatConfig())
    cases = kinds(detector)
    for name, case in cases.items():
        if case() is not None:
            raise SystemExit(f"{name}: a typical request was flagged: {case()}")
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, case in cases.items():
            started = time.process_time()
            for _ in range(requests):
                case()
            times[name].append((time.process_time() - started) / requests * 1e6)
    per_request = {name: round(min(t), 2) for name, t in times.items()}
    typical = [v for k, v in per_request.items() if k != "document"]
    return {
        "rounds": rounds,
        "requests": requests,
        "rest_body_bytes": len(REST_BODY),
        "us_per_request": per_request,
        "median_us_per_request": {
            name: round(statistics.median(t), 2) for name, t in times.items()
        },
        "max_us": MAX_US,
        "worst_us": max(typical),
        "met": max(typical) <= MAX_US,
    }


def target_rows(result: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    costs = result["us_per_request"]
    shown = ", ".join(f"{k} {v}" for k, v in costs.items() if k != "document")
    return [
        (
            "threat detection CPU per typical request",
            f"<= {result['max_us']:.0f} µs",
            f"{result['worst_us']} µs (worst of {shown})",
            result["met"],
        )
    ]


def text(result: Mapping[str, Any]) -> str:
    costs, medians = result["us_per_request"], result.get("median_us_per_request", {})
    rows = "\n".join(f"| {kind} | {us} | {medians.get(kind, '-')} |" for kind, us in costs.items())
    return (
        "## Threat detection\n\n"
        f"CPU per request of `security.threats` (in-process, {result['rounds']} rounds of "
        f"{result['requests']} requests of each kind; the REST body is "
        f"{result['rest_body_bytes']} bytes; `document` is once per prepared operation); "
        f"bound {result['max_us']:.0f} µs on the fastest round: see `bench/threats.py`.\n\n"
        "| request | µs of CPU, fastest round | median round |\n|---|---|---|\n" + rows + "\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args()
    print(json.dumps(run(args.rounds, args.requests), indent=2))


if __name__ == "__main__":
    main()
