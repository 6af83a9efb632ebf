"""GraphQL enums. Values are the canonical lower snake_case the upstream clients produce,
so a record's string maps straight onto a member; GraphQL names are UPPER_SNAKE.

``SampleType`` is the exception: the samples client leaves sample types as the release
spells them (``"Cell Culture"``), so its values are the release's exact names.
"""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum(
    description="Where a sample is in the lab's workflow. The samples service allows only "
    "some moves (see `Sample.allowedNextStatuses`)."
)
class SampleStatus(Enum):
    PENDING = strawberry.enum_value(
        "pending", description="Registered, not yet checked. Every new sample starts here."
    )
    VALIDATED = strawberry.enum_value(
        "validated", description="Checked and accepted for storage or sequencing."
    )
    IN_STORAGE = strawberry.enum_value("in_storage", description="Stored in the lab's storage.")
    IN_SEQUENCING = strawberry.enum_value(
        "in_sequencing",
        description="Being sequenced: it can only complete or fail, and cannot be deleted.",
    )
    COMPLETED = strawberry.enum_value("completed", description="Sequencing finished.")
    FAILED = strawberry.enum_value(
        "failed", description="Sequencing failed; it may go back to PENDING."
    )
    DISCARDED = strawberry.enum_value(
        "discarded", description="Physically discarded; it may only be archived or deleted."
    )
    REJECTED = strawberry.enum_value(
        "rejected", description="Refused at validation; it may go back to PENDING."
    )
    ARCHIVED = strawberry.enum_value("archived", description="Kept for the record; final.")
    DELETED = strawberry.enum_value(
        "deleted",
        description="Deleted (softly: the sample stays readable and listed); final.",
    )


@strawberry.enum(
    description="The kind of material a sample is: exactly the samples service's list "
    "(any other type is refused by it)."
)
class SampleType(Enum):
    DNA = strawberry.enum_value("DNA", description="Deoxyribonucleic acid.")
    RNA = strawberry.enum_value("RNA", description="Ribonucleic acid.")
    PROTEIN = strawberry.enum_value("Protein", description="Protein.")
    CELL_CULTURE = strawberry.enum_value("Cell Culture", description="A cell culture.")
    TISSUE = strawberry.enum_value("Tissue", description="Tissue.")
    BLOOD = strawberry.enum_value("Blood", description="Whole blood.")
    SERUM = strawberry.enum_value("Serum", description="Blood serum.")
    PLASMA = strawberry.enum_value("Plasma", description="Blood plasma.")
    URINE = strawberry.enum_value("Urine", description="Urine.")
    SALIVA = strawberry.enum_value("Saliva", description="Saliva.")
    SWAB = strawberry.enum_value("Swab", description="A swab.")
    ENVIRONMENTAL = strawberry.enum_value(
        "Environmental", description="An environmental sample (soil, water, air, surface)."
    )
    OTHER = strawberry.enum_value("Other", description="Any other material.")


@strawberry.enum(description="Life cycle of a sample template.")
class TemplateStatus(Enum):
    DRAFT = strawberry.enum_value(
        "draft", description="Being written: its fields may still change; not offered for use."
    )
    PUBLISHED = strawberry.enum_value("published", description="Offered for recording new samples.")
    ARCHIVED = strawberry.enum_value(
        "archived", description="No longer offered; kept for the samples recorded with it."
    )
    DEPRECATED = strawberry.enum_value(
        "deprecated", description="Still usable but superseded: new samples should use another."
    )


@strawberry.enum(description="The input kind of a template field.")
class TemplateFieldType(Enum):
    TEXT = strawberry.enum_value("text", description="Free text.")
    NUMBER = strawberry.enum_value("number", description="A number.")
    DATE = strawberry.enum_value("date", description="A calendar date.")
    BOOLEAN = strawberry.enum_value("boolean", description="Yes or no.")
    SELECT = strawberry.enum_value("select", description="One of the field's options.")
    MULTISELECT = strawberry.enum_value(
        "multiselect", description="Any number of the field's options."
    )
    FILE = strawberry.enum_value("file", description="An uploaded file.")
