"""GraphQL enums. Values are the canonical lower snake_case the upstream clients produce,
so a record's string maps straight onto a member; GraphQL names are UPPER_SNAKE."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum(description="Where a sample is in the lab's workflow.")
class SampleStatus(Enum):
    PENDING = "pending"
    VALIDATED = "validated"
    IN_STORAGE = "in_storage"
    IN_SEQUENCING = "in_sequencing"
    COMPLETED = "completed"
    FAILED = "failed"
    DISCARDED = "discarded"
    REJECTED = "rejected"
    ARCHIVED = "archived"
    DELETED = "deleted"


@strawberry.enum(description="Life cycle of a sample template.")
class TemplateStatus(Enum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"
    DEPRECATED = "deprecated"


@strawberry.enum(description="The input kind of a template field.")
class TemplateFieldType(Enum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    BOOLEAN = "boolean"
    SELECT = "select"
    MULTISELECT = "multiselect"
    FILE = "file"
