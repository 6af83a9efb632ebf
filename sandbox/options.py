"""What a sandbox run adds to the release: [extension] filters and fixed defects.

By default every service answers as the real TracSeq release does (UPSTREAMS.md), defects
included. Two switches change that, each for one run of the sandbox:

- ``--extensions all|none|LIST``: the [extension] batch filters of UPSTREAMS.md, by service
  (the same names as the gateway's ``TRACSEQ_BATCH_EXTENSIONS``);
- ``--fix NAME`` (repeatable): one release defect of ``FIXES`` turned off, for tests that
  want the intended behaviour.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Service → the [extension] filters it then answers.
EXTENSIONS: Mapping[str, str] = {
    "samples": "GET /samples?ids=a,b",
    "templates": "GET /templates?ids=a,b",
    "sequencing": "GET /jobs?ids=a,b and GET /jobs?sample_ids=a,b",
    "storage": "GET /storage/samples/locations?sample_ids=a,b",
}

# Defect name → what the release does that the fix turns off.
FIXES: Mapping[str, str] = {
    "samples-list-filters": "samples: any list filter (status, sample_type, template_id, "
    "search, created_after, created_before) answers 500 database_error",
    "templates-list-query": "templates: the list ignores page, page_size and every filter "
    "(always the 50 newest)",
    "templates-update": "templates: PUT applies only name, description and category, and "
    "replaces the stored metadata (wiping template_type, tags and is_public)",
    "templates-clone": "templates: POST /templates/{id}/clone answers 200 'not yet "
    "implemented' and clones nothing",
    "jobs-list-filters": "sequencing: GET /jobs ignores status, priority, platform and created_by",
    "storage-container-totals": "storage: GET /storage/containers counts total_items and "
    "total_pages over all containers, not the filtered ones",
    "storage-capacity-summary": "storage: /storage/capacity/summary and /storage/utilization "
    "always answer 500",
    "notifications-persist": "notifications: POST /notifications stores nothing (the id it "
    "returns answers 404 and the list never shows it)",
    "notifications-list-filters": "notifications: GET /notifications ignores status, "
    "channel, priority and notification_type",
    "rag-canned-answers": "rag: POST /api/samples/rag/query answers one of five canned "
    "texts with three fixed sources, not from the lab's documents",
}


@dataclass(frozen=True, slots=True)
class Options:
    """The extensions and fixes of one sandbox run; empty means the release as it is."""

    extensions: frozenset[str] = frozenset()
    fixes: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        unknown = sorted(self.extensions - set(EXTENSIONS))
        if unknown:
            raise ValueError(
                f"unknown extension(s) {', '.join(unknown)}; choose from {', '.join(EXTENSIONS)}"
            )
        unknown = sorted(self.fixes - set(FIXES))
        if unknown:
            raise ValueError(
                f"unknown fix(es) {', '.join(unknown)}; choose from {', '.join(FIXES)}"
            )

    def extension(self, service: str) -> bool:
        """Whether ``service`` answers its [extension] filters."""
        return service in self.extensions

    def fixed(self, defect: str) -> bool:
        """Whether the release defect ``defect`` (a name of ``FIXES``) is turned off."""
        if defect not in FIXES:
            raise KeyError(f"no such release defect: {defect}")
        return defect in self.fixes

    def arguments(self) -> list[str]:
        """The command-line flags that give these options (for ``SandboxProcess``)."""
        args = ["--extensions", ",".join(sorted(self.extensions)) or "none"]
        for name in sorted(self.fixes):
            args += ["--fix", name]
        return args


RELEASE = Options()


def parse_extensions(value: str) -> frozenset[str]:
    """``all``, ``none`` or a comma list of service names."""
    lowered = value.strip().lower()
    if lowered == "all":
        return frozenset(EXTENSIONS)
    if lowered in ("", "none"):
        return frozenset()
    return frozenset(part.strip() for part in lowered.split(",") if part.strip())


def options_from(extensions: str, fixes: Iterable[str]) -> Options:
    return Options(extensions=parse_extensions(extensions), fixes=frozenset(fixes))
