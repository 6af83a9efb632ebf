"""Who is calling: the principal a verified token names, or nobody."""

from __future__ import annotations

from dataclasses import dataclass

# Roles, lowest to highest (UPSTREAMS.md).
ROLES = (
    "guest",
    "data_analyst",
    "research_scientist",
    "lab_technician",
    "principal_investigator",
    "lab_administrator",
)


@dataclass(frozen=True, slots=True)
class Principal:
    id: str
    email: str
    role: str
    session_id: str
    expires_at: float

    @property
    def key(self) -> str:
        """The rate-limit bucket key of this principal."""
        return f"user:{self.id}"
