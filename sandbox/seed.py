"""Deterministic seed data for the sandbox store.

Everything comes from one ``random.Random(SEED)`` and a fixed base time, so two fresh stores
hold the same ids, names and barcodes: users (one demo user per role, see ``DEMO_USERS``),
12 templates with their fields, ~2,000 samples, 40 storage locations with their container
trees and the samples placed in positions, 60 sequencing jobs with sample sheets,
notifications, and the lab documents split into full-text passages for the RAG service.
"""

from __future__ import annotations

import random
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from sandbox.corpus import DOCUMENTS
from sandbox.passwords import hash_password
from sandbox.web import iso

SEED = 20260101
BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
SAMPLE_COUNT = 2000

#: The demo accounts, one per role: (email, password, role).
DEMO_USERS: list[tuple[str, str, str]] = [
    ("admin@tracseq.lab", "admin-tracseq", "lab_administrator"),
    ("pi@tracseq.lab", "pi-tracseq", "principal_investigator"),
    ("tech@tracseq.lab", "tech-tracseq", "lab_technician"),
    ("scientist@tracseq.lab", "scientist-tracseq", "research_scientist"),
    ("analyst@tracseq.lab", "analyst-tracseq", "data_analyst"),
    ("guest@tracseq.lab", "guest-tracseq", "guest"),
]

_DEMO_PROFILES = {
    "lab_administrator": ("Alex", "Morgan", "Laboratory Operations", "Lab Administrator"),
    "principal_investigator": ("Priya", "Natarajan", "Genomics", "Principal Investigator"),
    "lab_technician": ("Tomas", "Keller", "Biorepository", "Senior Lab Technician"),
    "research_scientist": ("Sofia", "Lindqvist", "Genomics", "Research Scientist"),
    "data_analyst": ("Daniel", "Okafor", "Bioinformatics", "Data Analyst"),
    "guest": ("Grace", "Hopper", "Visitors", "Guest"),
}

_EXTRA_USERS = [
    ("Maria", "Rossi", "lab_technician", "Biorepository"),
    ("Kenji", "Tanaka", "lab_technician", "Sequencing Core"),
    ("Amara", "Diallo", "research_scientist", "Oncology"),
    ("Lukas", "Weber", "research_scientist", "Neurology"),
    ("Chen", "Wei", "data_analyst", "Bioinformatics"),
    ("Fatima", "Haddad", "principal_investigator", "Oncology"),
    ("Olivia", "Brown", "lab_technician", "Sequencing Core"),
    ("Mateo", "Garcia", "research_scientist", "Microbiology"),
]

SAMPLE_STATUSES = [
    ("Pending", 15),
    ("Validated", 12),
    ("InStorage", 30),
    ("InSequencing", 10),
    ("Completed", 15),
    ("Failed", 4),
    ("Discarded", 3),
    ("Rejected", 4),
    ("Archived", 5),
    ("Deleted", 2),
]
_STORED_STATUSES = {"InStorage", "InSequencing", "Completed"}

#: sample type -> (barcode prefix, label, volume unit, volume range, concentration range)
SAMPLE_TYPES: dict[str, tuple[str, str, str, tuple[float, float], tuple[float, float] | None]] = {
    "blood": ("BLD", "Whole Blood", "mL", (1.0, 10.0), None),
    "plasma": ("PLS", "Plasma", "mL", (0.5, 4.0), None),
    "serum": ("SER", "Serum", "mL", (0.5, 4.0), None),
    "dna": ("DNA", "Genomic DNA", "uL", (20.0, 200.0), (5.0, 250.0)),
    "rna": ("RNA", "Total RNA", "uL", (10.0, 100.0), (10.0, 500.0)),
    "tissue": ("TIS", "Tissue Biopsy", "mg", (5.0, 80.0), None),
    "saliva": ("SAL", "Saliva", "mL", (1.0, 2.5), None),
    "urine": ("URN", "Urine", "mL", (10.0, 50.0), None),
    "swab": ("SWB", "Swab", "units", (1.0, 1.0), None),
    "cell_culture": ("CEL", "Cell Pellet", "uL", (50.0, 1000.0), None),
    "ffpe": ("FFP", "FFPE Block", "sections", (5.0, 20.0), None),
    "csf": ("CSF", "Cerebrospinal Fluid", "mL", (0.5, 3.0), None),
}
_TYPE_WEIGHTS = [20, 12, 8, 16, 12, 8, 6, 4, 4, 4, 4, 2]
#: the seed's sample type -> the samples service's own type name (the release's exact list)
RELEASE_SAMPLE_TYPES = {
    "blood": "Blood",
    "plasma": "Plasma",
    "serum": "Serum",
    "dna": "DNA",
    "rna": "RNA",
    "tissue": "Tissue",
    "saliva": "Saliva",
    "urine": "Urine",
    "swab": "Swab",
    "cell_culture": "Cell Culture",
    "ffpe": "Tissue",
    "csf": "Other",
}

_STUDIES = [
    ("ONC", "Oncology Cohort"),
    ("CARD", "Cardiac Biobank"),
    ("NEU", "Neuro Longitudinal"),
    ("MIC", "Microbiome Study"),
    ("IMM", "Immunology Panel"),
    ("RARE", "Rare Disease Trios"),
    ("PED", "Paediatric Genomes"),
    ("MET", "Metabolic Cohort"),
]
_SITES = [
    "Clinic A - Phlebotomy",
    "Clinic B - Outpatients",
    "Hospital Ward 4",
    "Surgical Suite 2",
    "Field Site North",
    "Research Unit 1",
]

#: name -> (category, template_type, [(field name, label, type, required, options)])
_TEMPLATES: list[tuple[str, str, str, list[tuple[str, str, str, bool, list[str] | None]]]] = [
    (
        "Blood Collection",
        "clinical",
        "collection",
        [
            ("patient_id", "Patient ID", "Text", True, None),
            ("collection_date", "Collection date", "Date", True, None),
            ("tube_type", "Tube type", "Select", True, ["EDTA", "Heparin", "Citrate", "SST"]),
            ("volume_ml", "Volume (mL)", "Number", True, None),
            ("fasting", "Fasting", "Boolean", False, None),
            ("phlebotomist", "Phlebotomist", "Text", False, None),
        ],
    ),
    (
        "DNA Extraction QC",
        "quality_control",
        "qc",
        [
            ("concentration", "Concentration (ng/uL)", "Number", True, None),
            ("a260_280", "A260/A280", "Number", True, None),
            ("a260_230", "A260/A230", "Number", False, None),
            ("din", "DNA integrity number", "Number", False, None),
            ("kit", "Extraction kit", "Select", True, ["Spin column", "Magnetic beads", "Phenol"]),
        ],
    ),
    (
        "RNA Extraction",
        "molecular",
        "extraction",
        [
            ("rin", "RIN", "Number", True, None),
            ("concentration", "Concentration (ng/uL)", "Number", True, None),
            ("dnase_treated", "DNase treated", "Boolean", True, None),
            ("extraction_date", "Extraction date", "Date", True, None),
        ],
    ),
    (
        "Tissue Biopsy Intake",
        "clinical",
        "collection",
        [
            ("patient_id", "Patient ID", "Text", True, None),
            ("anatomical_site", "Anatomical site", "Text", True, None),
            ("preservation", "Preservation", "Select", True, ["Snap frozen", "RNAlater", "FFPE"]),
            ("ischemia_minutes", "Cold ischemia (min)", "Number", False, None),
            ("pathology_report", "Pathology report", "File", False, None),
            ("tumour_content", "Tumour content (%)", "Number", False, None),
            ("consent_verified", "Consent verified", "Boolean", True, None),
        ],
    ),
    (
        "Saliva Kit Registration",
        "collection",
        "collection",
        [
            ("kit_serial", "Kit serial", "Text", True, None),
            ("collection_date", "Collection date", "Date", True, None),
            ("donor_age", "Donor age", "Number", False, None),
        ],
    ),
    (
        "Plasma Processing",
        "processing",
        "processing",
        [
            ("spin_speed", "Centrifuge speed (x g)", "Number", True, None),
            ("spin_minutes", "Spin time (min)", "Number", True, None),
            ("haemolysis", "Haemolysis", "Select", True, ["None", "Slight", "Moderate", "Gross"]),
            ("aliquots", "Aliquots", "Number", True, None),
            ("processed_at", "Processed at", "Date", True, None),
        ],
    ),
    (
        "Cell Line Banking",
        "cell_biology",
        "banking",
        [
            ("cell_line", "Cell line", "Text", True, None),
            ("passage", "Passage number", "Number", True, None),
            ("mycoplasma_tested", "Mycoplasma tested", "Boolean", True, None),
            ("cells_per_vial", "Cells per vial", "Number", True, None),
            ("medium", "Freezing medium", "Select", False, ["10% DMSO", "5% DMSO", "Glycerol"]),
            ("str_profile", "STR profile", "File", False, None),
        ],
    ),
    (
        "Microbiome Swab",
        "microbiology",
        "collection",
        [
            ("body_site", "Body site", "Select", True, ["Gut", "Oral", "Skin", "Nasal", "Vaginal"]),
            ("antibiotics_90d", "Antibiotics in last 90 days", "Boolean", True, None),
            ("diet", "Diet", "Multiselect", False, ["Omnivore", "Vegetarian", "Vegan", "Keto"]),
            ("collection_date", "Collection date", "Date", True, None),
        ],
    ),
    (
        "FFPE Block Intake",
        "pathology",
        "collection",
        [
            ("block_id", "Block ID", "Text", True, None),
            ("fixation_hours", "Fixation time (h)", "Number", True, None),
            ("sections", "Sections", "Number", True, None),
            ("dv200", "DV200 (%)", "Number", False, None),
            ("tissue_type", "Tissue type", "Text", True, None),
            ("pathologist", "Pathologist", "Text", False, None),
            ("slide_images", "Slide images", "File", False, None),
            ("archive_date", "Archive date", "Date", False, None),
        ],
    ),
    (
        "Library Prep Submission",
        "sequencing",
        "submission",
        [
            ("library_kit", "Library kit", "Select", True, ["TruSeq", "Nextera XT", "NEBNext"]),
            ("insert_size", "Insert size (bp)", "Number", True, None),
            ("index_i7", "i7 index", "Text", True, None),
            ("index_i5", "i5 index", "Text", True, None),
            ("read_depth", "Requested depth (M reads)", "Number", True, None),
            ("paired_end", "Paired end", "Boolean", True, None),
            ("read_length", "Read length", "Select", True, ["2x75", "2x100", "2x150", "2x250"]),
            ("pooling_notes", "Pooling notes", "Text", False, None),
            ("qc_report", "QC report", "File", False, None),
            ("submitted_on", "Submitted on", "Date", True, None),
        ],
    ),
    (
        "Single-Cell Suspension",
        "sequencing",
        "submission",
        [
            ("viability", "Viability (%)", "Number", True, None),
            ("cell_count", "Cells per uL", "Number", True, None),
            ("platform", "Platform", "Select", True, ["10x 3'", "10x 5'", "Multiome"]),
            ("dissociation", "Dissociation protocol", "Text", False, None),
        ],
    ),
    (
        "CSF Collection",
        "clinical",
        "collection",
        [
            ("patient_id", "Patient ID", "Text", True, None),
            ("puncture_level", "Puncture level", "Select", True, ["L3-L4", "L4-L5"]),
            ("volume_ml", "Volume (mL)", "Number", True, None),
            ("blood_contaminated", "Blood contamination", "Boolean", True, None),
            ("collection_date", "Collection date", "Date", True, None),
        ],
    ),
]

#: (name, location type, temperature zone, unit kind)
_ZONES = [
    ("-80C", "ultra_low_freezer", "Freezer F-80", 12),
    ("-20C", "freezer", "Freezer F-20", 10),
    ("4C", "refrigerator", "Refrigerator R4", 8),
    ("RT", "cabinet", "Cabinet RT", 6),
    ("37C", "incubator", "Incubator I37", 4),
]
_BUILDINGS = ["Building A", "Building B", "Biorepository Annex"]
RACKS_PER_UNIT = 2
BOXES_PER_RACK = 3
BOX_ROWS = "ABCDE"
BOX_COLUMNS = 5

PLATFORMS = [
    ("NovaSeq 6000", "illumina"),
    ("NextSeq 2000", "illumina"),
    ("MiSeq", "illumina"),
    ("PacBio Sequel IIe", "pacbio"),
    ("PromethION", "nanopore"),
]
JOB_STATUSES = [
    ("Draft", 4),
    ("Submitted", 6),
    ("Validated", 5),
    ("Queued", 8),
    ("Running", 8),
    ("Completed", 20),
    ("Failed", 3),
    ("Cancelled", 3),
    ("OnHold", 3),
]
PRIORITIES = ["Low", "Normal", "High", "Urgent", "Critical"]
PRIORITY_RANK = {name: rank for rank, name in enumerate(PRIORITIES)}
_WELLS = [f"{row}{col:02d}" for col in range(1, 13) for row in "ABCDEFGH"]
_BASES = "ACGT"

_NOTIFICATION_KINDS = [
    ("Alert", "Freezer temperature alarm", "Freezer {unit} rose above its threshold."),
    ("Info", "Sequencing run completed", "Run {run} completed and data is available."),
    ("Warning", "Low reagent stock", "Library prep kit stock is below 5 kits."),
    ("Error", "Sample QC failure", "Sample {barcode} failed QC and needs review."),
    ("Success", "Batch registered", "A batch of {count} samples was registered."),
    ("Reminder", "Freezer defrost due", "Freezer {unit} is due for defrosting this week."),
    ("Update", "Template published", "Template {template} was published."),
    ("System", "Scheduled maintenance", "The LIMS will be read-only on Saturday 06:00-08:00."),
]
# The notification service's enums travel in PascalCase (UPSTREAMS.md).
_CHANNELS = ["Email", "Sms", "Slack", "Teams", "Discord", "Webhook", "Push", "InApp"]


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _dumps(doc: dict[str, Any]) -> str:
    return orjson.dumps(doc).decode()


def _weighted(rng: random.Random, pairs: list[tuple[str, int]]) -> str:
    return rng.choices([name for name, _ in pairs], weights=[w for _, w in pairs])[0]


def barcode_for(sample_type: str, moment: datetime, sequence: int) -> str:
    prefix = SAMPLE_TYPES.get(sample_type, ("SMP",))[0]
    return f"{prefix}-{moment:%Y%m%d%H%M%S}-{sequence % 10000:04d}"


def seed(conn: sqlite3.Connection) -> None:
    """Fill an empty store (the caller holds the transaction)."""
    rng = random.Random(SEED)
    users = _seed_users(conn, rng)
    templates = _seed_templates(conn, rng, users)
    samples = _seed_samples(conn, rng, users, templates)
    _seed_storage(conn, rng, users, samples)
    _seed_sequencing(conn, rng, users, samples)
    _seed_notifications(conn, rng, users, samples, templates)
    _seed_documents(conn, rng, samples)
    conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('barcode_seq', ?)", (str(SAMPLE_COUNT),)
    )


def _seed_users(conn: sqlite3.Connection, rng: random.Random) -> list[dict[str, Any]]:
    users: list[dict[str, Any]] = []
    accounts: list[tuple[str, str, str, str, str, str]] = []
    for email, password, role in DEMO_USERS:
        first, last, department, position = _DEMO_PROFILES[role]
        accounts.append((email, password, role, first, last, department))
    for first, last, role, department in _EXTRA_USERS:
        email = f"{first}.{last}@tracseq.lab".lower()
        accounts.append((email, f"{rng.getrandbits(64):x}", role, first, last, department))
    for index, (email, password, role, first, last, department) in enumerate(accounts):
        user_id = _uuid(rng)
        salt = f"{rng.getrandbits(128):032x}"
        created = BASE_TIME - timedelta(days=400 - index * 7)
        position = _DEMO_PROFILES[role][3] if index < len(DEMO_USERS) else role.replace("_", " ")
        doc = {
            "id": user_id,
            "email": email,
            "first_name": first,
            "last_name": last,
            "role": role,
            "status": "active",
            "email_verified": True,
            "last_login_at": None,
            "created_at": iso(created),
            "department": department,
            "position": position.title() if index >= len(DEMO_USERS) else position,
            "lab_affiliation": "TracSeq Genomics Laboratory",
            # Stored, and shown only by the admin views (UPSTREAMS.md, "## auth").
            "failed_login_attempts": 0,
            "locked_until": None,
            "password_changed_at": None,
            "updated_at": iso(created),
        }
        conn.execute(
            "INSERT INTO users (id, email, role, salt, password_hash, created_at, doc) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (user_id, email, role, salt, hash_password(password, salt), iso(created), _dumps(doc)),
        )
        users.append(doc)
    return users


def _seed_templates(
    conn: sqlite3.Connection, rng: random.Random, users: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    templates: list[dict[str, Any]] = []
    for index, (name, category, template_type, fields) in enumerate(_TEMPLATES):
        template_id = _uuid(rng)
        created = BASE_TIME - timedelta(days=380 - index * 5)
        author = rng.choice(users[:4])
        status = "Published" if index < 9 else ("Draft", "Archived", "Deprecated")[index - 9]
        # The release's stored row: template_type, tags and the flags live in metadata;
        # created_by is a UUID column the release never fills (reads say "system").
        doc = {
            "id": template_id,
            "name": name,
            "description": f"{name} form used at sample registration.",
            "category": category,
            "status": status,
            "version": 1 + index % 3,
            "template_data": {"layout": "single_column", "submit_label": "Register"},
            "metadata": {
                "is_public": True,
                "is_system": index < 3,
                "owner_department": author["department"],
                "tags": [category, template_type],
                "template_type": template_type,
            },
            "is_active": True,
            "created_by": None,
            "created_at": iso(created),
            "updated_at": iso(created + timedelta(days=3)),
        }
        conn.execute(
            "INSERT INTO templates (id, name, status, created_at, doc) VALUES (?, ?, ?, ?, ?)",
            (template_id, name, status, doc["created_at"], _dumps(doc)),
        )
        for order, (field_name, label, field_type, required, options) in enumerate(fields):
            field_id = _uuid(rng)
            field: dict[str, Any] = {
                "id": field_id,
                "template_id": template_id,
                "field_name": field_name,
                "field_type": field_type,
                "field_label": label,
                "field_description": None,
                "is_required": required,
                "field_order": order,
                "validation_rules": {},
                "default_value": None,
                "field_options": options or [],
                "field_metadata": {},
            }
            conn.execute(
                "INSERT INTO template_fields (id, template_id, sort_order, doc) "
                "VALUES (?, ?, ?, ?)",
                (field_id, template_id, order, _dumps(field)),
            )
        templates.append(doc)
    return templates


def _seed_samples(
    conn: sqlite3.Connection,
    rng: random.Random,
    users: list[dict[str, Any]],
    templates: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    # The release stores its own type names and prints timestamps as chrono does; the other
    # seeders keep choosing zones and documents by this module's type keys.
    from sandbox.services.samples import release_doc, rfc3339, sortable

    samples: list[dict[str, Any]] = []
    types = list(SAMPLE_TYPES)
    rows = []
    for index in range(SAMPLE_COUNT):
        sample_type = rng.choices(types, weights=_TYPE_WEIGHTS)[0]
        _, label, unit, volumes, concentrations = SAMPLE_TYPES[sample_type]
        code, study = rng.choice(_STUDIES)
        subject = rng.randint(1, 650)
        created = BASE_TIME - timedelta(seconds=rng.randint(3600, 365 * 86400))
        collected = created - timedelta(hours=rng.randint(1, 96))
        status = _weighted(rng, SAMPLE_STATUSES)
        creator = rng.choice(users)
        updated = created + timedelta(hours=rng.randint(0, 400))
        sample_id = _uuid(rng)
        doc = {
            "id": sample_id,
            "name": f"{code}-{subject:04d} {label} V{rng.randint(1, 4)}",
            "barcode": barcode_for(sample_type, created, index),
            "sample_type": RELEASE_SAMPLE_TYPES[sample_type],
            "status": status,
            "template_id": rng.choice(templates)["id"] if rng.random() < 0.85 else None,
            "source_type": rng.choice(["patient", "donor", "cell_line", "environmental"]),
            "source_identifier": f"{code}-P{subject:04d}",
            "collection_date": rfc3339(collected),
            "collection_location": rng.choice(_SITES),
            "collector": f"{rng.choice(users)['first_name']} {rng.choice(users)['last_name']}",
            "concentration": (
                round(rng.uniform(*concentrations), 2) if concentrations is not None else None
            ),
            "volume": round(rng.uniform(*volumes), 2),
            "unit": unit,
            "quality_score": round(rng.uniform(5.0, 10.0), 1) if rng.random() < 0.7 else None,
            "metadata": {"study": study, "study_code": code, "visit": rng.randint(1, 4)},
            "notes": None if rng.random() < 0.8 else "Received on dry ice; label intact.",
            "created_at": rfc3339(created),
            "updated_at": rfc3339(updated),
            "created_by": creator["id"],
            "updated_by": creator["id"],
        }
        rows.append(
            (
                sample_id,
                doc["name"],
                doc["barcode"],
                doc["sample_type"],
                status,
                doc["template_id"],
                sortable(created),
                sortable(updated),
                release_doc(doc),
            )
        )
        samples.append({**doc, "sample_type": sample_type})
    conn.executemany(
        "INSERT INTO samples (id, name, barcode, sample_type, status, template_id, created_at, "
        "updated_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    return samples


def _seed_storage(
    conn: sqlite3.Connection,
    rng: random.Random,
    users: list[dict[str, Any]],
    samples: list[dict[str, Any]],
) -> None:
    positions_by_zone: dict[str, list[tuple[str, str, list[str]]]] = {}
    container_rows: list[tuple[str, str, str | None, str, str, str, dict[str, Any]]] = []
    created = iso(BASE_TIME - timedelta(days=420))
    for zone, location_type, unit_name, count in _ZONES:
        for number in range(1, count + 1):
            location_id = _uuid(rng)
            status = "active"
            if number == count and zone in ("-20C", "4C"):
                status = "maintenance"
            elif number == count and zone == "RT":
                status = "offline"
            elif number == count and zone == "37C":
                status = "decommissioned"
            name = f"{unit_name}-{number:02d}"
            building = _BUILDINGS[number % len(_BUILDINGS)]
            max_capacity = RACKS_PER_UNIT * BOXES_PER_RACK * len(BOX_ROWS) * BOX_COLUMNS
            location = {
                "id": location_id,
                "name": name,
                "description": f"{location_type.replace('_', ' ').title()} at {zone}, {building}",
                "location_type": location_type,
                "temperature_zone": zone,
                "max_capacity": max_capacity,
                "current_capacity": 0,
                "coordinates": {"building": building, "room": f"{100 + number}", "floor": 1},
                "status": status,
                "metadata": {"manufacturer": rng.choice(["Thermo", "Eppendorf", "PHCbi"])},
                "created_at": created,
                "updated_at": created,
            }
            conn.execute(
                "INSERT INTO locations (id, name, created_at, doc) VALUES (?, ?, ?, ?)",
                (location_id, name, created, _dumps(location)),
            )
            unit_id = _uuid(rng)
            container_rows.append(
                (unit_id, location_id, None, "freezer", f"{name}-U1", zone, {"capacity": 2})
            )
            for rack in range(1, RACKS_PER_UNIT + 1):
                rack_id = _uuid(rng)
                container_rows.append(
                    (rack_id, location_id, unit_id, "rack", f"R{rack}", zone, {"capacity": 3})
                )
                for box in range(1, BOXES_PER_RACK + 1):
                    box_id = _uuid(rng)
                    container_rows.append(
                        (box_id, location_id, rack_id, "box", f"B{box}", zone, {"capacity": 25})
                    )
                    chain = [box_id, rack_id, unit_id]
                    for row in BOX_ROWS:
                        for col in range(1, BOX_COLUMNS + 1):
                            pos_id = _uuid(rng)
                            label = f"{row}{col}"
                            container_rows.append(
                                (pos_id, location_id, box_id, "position", label, zone, {})
                            )
                            if status == "active":
                                positions_by_zone.setdefault(zone, []).append(
                                    (pos_id, location_id, chain)
                                )
    occupied: dict[str, int] = {}
    placements = []
    zone_for_type = {
        "rna": "-80C",
        "plasma": "-80C",
        "serum": "-80C",
        "tissue": "-80C",
        "swab": "-80C",
        "csf": "-80C",
        "dna": "-20C",
        "blood": "4C",
        "urine": "-20C",
        "saliva": "RT",
        "ffpe": "RT",
        "cell_culture": "-80C",
    }
    for zone_positions in positions_by_zone.values():
        rng.shuffle(zone_positions)
    for sample in samples:
        if sample["status"] not in _STORED_STATUSES:
            continue
        free = positions_by_zone.get(zone_for_type[sample["sample_type"]]) or positions_by_zone.get(
            "-20C", []
        )
        if not free:
            continue
        pos_id, location_id, chain = free.pop()
        for container_id in [pos_id, *chain]:
            occupied[container_id] = occupied.get(container_id, 0) + 1
        # A SamplePosition as the release's assign route writes it.
        assignment = {
            "id": _uuid(rng),
            "sample_id": sample["id"],
            "container_id": pos_id,
            "position_identifier": None,
            "assigned_at": sample["updated_at"],
            "assigned_by": sample["created_by"],
            "removed_at": None,
            "removed_by": None,
            "status": "occupied",
            "reservation_expires_at": None,
            "storage_conditions": {},
            "special_requirements": {},
            "chain_of_custody": [
                {
                    "action": "assigned",
                    "assigned_by": sample["created_by"],
                    "container_id": pos_id,
                    "timestamp": sample["updated_at"],
                }
            ],
            "position_metadata": {},
            "notes": None,
            "created_at": sample["updated_at"],
            "updated_at": sample["updated_at"],
        }
        placements.append((sample["id"], pos_id, location_id, assignment))
    labels = {row[0]: row[4] for row in container_rows}
    conn.executemany(
        "INSERT INTO sample_locations (sample_id, container_id, location_id, doc) "
        "VALUES (?, ?, ?, ?)",
        [
            (sid, pid, lid, _dumps({**doc, "position_identifier": labels[pid]}))
            for sid, pid, lid, doc in placements
        ],
    )
    rows = []
    for container_id, location_id, parent_id, kind, name, zone, extra in container_rows:
        # A StorageContainer in the release's field order: only the top of a tree carries
        # location_id; positions carry their grid cell.
        grid: dict[str, int] | None = None
        dimensions: dict[str, int] | None = None
        if kind == "box":
            dimensions = {"rows": len(BOX_ROWS), "columns": BOX_COLUMNS}
        if kind == "position":
            grid = {"row": BOX_ROWS.index(name[0]) + 1, "column": int(name[1:])}
        doc = {
            "id": container_id,
            "name": name,
            "container_type": kind,
            "parent_container_id": parent_id,
            "location_id": location_id if parent_id is None else None,
            "grid_position": grid,
            "dimensions": dimensions,
            "capacity": extra.get("capacity", 1),
            "occupied_count": 0,
            "temperature_zone": zone,
            "barcode": f"CNT-{container_id[:8].upper()}",
            "description": None,
            "status": "active",
            "installation_date": None,
            "last_maintenance_date": None,
            "next_maintenance_date": None,
            "container_metadata": {},
            "access_restrictions": {},
            "created_at": created,
            "updated_at": created,
            "created_by": None,
        }
        rows.append(
            (
                container_id,
                location_id,
                parent_id,
                kind,
                name,
                occupied.get(container_id, 0),
                created,
                _dumps(doc),
            )
        )
    conn.executemany(
        "INSERT INTO containers (id, location_id, parent_id, container_type, name, occupied, "
        "created_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


# The release's platforms are configuration names, not records (UPSTREAMS.md): each seeded
# instrument runs on one of them. Workflow ids are free strings too.
RELEASE_PLATFORMS = {
    "NovaSeq 6000": "illumina_novaseq",
    "NextSeq 2000": "illumina_hiseq",
    "MiSeq": "illumina_hiseq",
    "PacBio Sequel IIe": "ion_torrent",
    "PromethION": "nanopore",
}
WORKFLOWS = ["standard_wgs", "exome_capture", "rna_seq", "amplicon_panel"]
JOB_ALIASES = (
    ("platform", "platform_id"),
    ("job_name", "name"),
    ("started_at", "actual_start"),
    ("completed_at", "actual_completion"),
)


def job_document(doc: dict[str, Any]) -> dict[str, Any]:
    """A SequencingJob in struct order, its alias keys (platform, job_name, started_at,
    completed_at) repeating the fields they stand for."""
    out = {k: v for k, v in doc.items() if k not in dict(JOB_ALIASES)}
    out["metadata"] = _sorted_json(out.get("metadata"))
    for alias, field in JOB_ALIASES:
        out[alias] = out.get(field)
    return out


def _sorted_json(value: Any) -> Any:
    """serde_json::Value keeps its object keys sorted at every level."""
    if isinstance(value, dict):
        return {k: _sorted_json(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted_json(v) for v in value]
    return value


def sheet_entries(sheet_id: str, rows: Any) -> list[dict[str, Any]]:
    """The SampleSheetEntry rows (sorted keys) the service stores for submitted sample rows,
    ordered by well."""
    entries: list[dict[str, Any]] = []
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict):
            continue
        entries.append(
            {
                "description": _text(row.get("Description")),
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{sheet_id}:{len(entries)}")),
                "index1": _text(row.get("index")) or "",
                "index2": _text(row.get("index2")),
                "project": _text(row.get("Sample_Project")) or "",
                "sample_id": _text(row.get("Sample_ID")) or "",
                "sample_name": _text(row.get("Sample_Name")) or "",
                "sample_plate": _text(row.get("Sample_Plate")),
                "sample_sheet_id": sheet_id,
                "sample_well": _text(row.get("Sample_Well")),
            }
        )
    entries.sort(key=lambda e: (e["sample_well"] is None, e["sample_well"] or ""))
    return entries


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _seed_sequencing(
    conn: sqlite3.Connection,
    rng: random.Random,
    users: list[dict[str, Any]],
    samples: list[dict[str, Any]],
) -> None:
    # The random draws keep their order (the seeds after this one depend on it).
    candidates = [s for s in samples if s["status"] in ("InSequencing", "Completed")]
    for _ in WORKFLOWS:
        _uuid(rng)
    for index in range(60):
        platform_name, vendor = rng.choice(PLATFORMS)
        pid = RELEASE_PLATFORMS[platform_name]
        created = BASE_TIME - timedelta(days=rng.randint(1, 300), minutes=rng.randint(0, 1440))
        status = _weighted(rng, JOB_STATUSES)
        priority = rng.choices(PRIORITIES, weights=[10, 50, 25, 10, 5])[0]
        count = rng.randint(8, 96)
        chosen = rng.sample(candidates, min(count, len(candidates)))
        sheet_id = _uuid(rng)
        rows = []
        for i, s in enumerate(chosen):
            i7 = "".join(rng.choice(_BASES) for _ in range(8))
            i5 = "".join(rng.choice(_BASES) for _ in range(8))
            rows.append(
                {
                    "Description": f"{s['name']} on {platform_name}",
                    "I5_Index_ID": f"S5{i % 24 + 1:02d}",
                    "I7_Index_ID": f"N7{i % 12 + 1:02d}",
                    "Sample_ID": s["id"],
                    "Sample_Name": s["name"],
                    "Sample_Plate": "Plate1",
                    "Sample_Project": f"P-{index + 1:03d}",
                    "Sample_Well": _WELLS[i],
                    "index": i7,
                    "index2": i5,
                }
            )
        creator = rng.choice(users[:5])
        sheet = {
            "created_at": iso(created),
            "created_by": creator["id"],
            "file_path": None,
            "id": sheet_id,
            "metadata": {},
            "name": f"SS-{created:%Y%m%d}-{index + 1:03d}",
            "platform_id": pid,
            "sample_count": len(rows),
            "samples_data": rows,
            "status": "Validated" if status not in ("Draft", "Submitted") else "Draft",
            "updated_at": iso(created),
            "validation_errors": None,
            "version": "1.0",
        }
        entries = sheet_entries(sheet_id, rows)
        stored = {"entries": entries, "sample_sheet": sheet, "validation": None}
        conn.execute(
            "INSERT INTO sample_sheets (id, doc) VALUES (?, ?)", (sheet_id, _dumps(stored))
        )
        conn.executemany(
            "INSERT OR IGNORE INTO sheet_samples (sheet_id, sample_id) VALUES (?, ?)",
            [(sheet_id, e["sample_id"]) for e in entries],
        )
        started = created + timedelta(days=2)
        job_id = _uuid(rng)
        running = status in ("Running", "Completed", "Failed")
        done = status in ("Completed", "Failed")
        workflow = rng.choice(WORKFLOWS)
        assigned = rng.choice(users[:4])["id"] if status != "Draft" else None
        doc = job_document(
            {
                "id": job_id,
                "name": f"{platform_name} run {index + 1:03d}",
                "description": f"{len(rows)} samples, {vendor} chemistry",
                "status": status,
                "priority": priority,
                "platform_id": pid,
                "workflow_id": workflow,
                "sample_sheet_id": sheet_id,
                "run_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"run:{job_id}")) if running else None,
                "created_by": creator["id"],
                "assigned_to": assigned,
                "estimated_start": iso(started),
                "estimated_completion": None,
                "actual_start": iso(started) if running else None,
                "actual_completion": iso(started + timedelta(hours=44)) if done else None,
                "metadata": {"read_length": "2x150", "instrument": platform_name},
                "created_at": iso(created),
                "updated_at": iso(started if running else created),
            }
        )
        conn.execute(
            "INSERT INTO jobs (id, name, status, priority, priority_rank, platform_id, "
            "platform_name, sample_sheet_id, created_at, updated_at, doc) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job_id,
                doc["name"],
                status,
                priority,
                PRIORITY_RANK[priority],
                pid,
                pid,
                sheet_id,
                doc["created_at"],
                doc["updated_at"],
                _dumps(doc),
            ),
        )


def _seed_notifications(
    conn: sqlite3.Connection,
    rng: random.Random,
    users: list[dict[str, Any]],
    samples: list[dict[str, Any]],
    templates: list[dict[str, Any]],
) -> None:
    for index in range(30):
        kind, title, message = rng.choice(_NOTIFICATION_KINDS)
        created = BASE_TIME - timedelta(hours=rng.randint(1, 24 * 60))
        status = rng.choice(["Sent", "Delivered", "Delivered", "Failed", "Pending"])
        doc = {
            "id": _uuid(rng),
            "title": title,
            "message": message.format(
                unit=f"F-80-{rng.randint(1, 12):02d}",
                run=f"RUN-{index:03d}",
                barcode=rng.choice(samples)["barcode"],
                count=rng.randint(8, 96),
                template=rng.choice(templates)["name"],
            ),
            "notification_type": kind,
            "priority": rng.choice(["Low", "Medium", "High", "Critical", "Urgent"]),
            "status": status,
            "channels": rng.sample(_CHANNELS, rng.randint(1, 3)),
            "recipients": [u["email"] for u in rng.sample(users, rng.randint(1, 3))],
            "template_id": None,
            "template_data": None,
            "scheduled_at": None,
            "sent_at": iso(created + timedelta(seconds=5)) if status != "Pending" else None,
            "delivery_attempts": 0 if status == "Pending" else rng.randint(1, 3),
            "metadata": {},
            "created_by": rng.choice(users)["id"],
            "created_at": iso(created),
            "updated_at": iso(created),
        }
        conn.execute(
            "INSERT INTO notifications (id, created_at, doc) VALUES (?, ?, ?)",
            (doc["id"], doc["created_at"], _dumps(doc)),
        )


def _seed_documents(
    conn: sqlite3.Connection, rng: random.Random, samples: list[dict[str, Any]]
) -> None:
    named = [s for s in samples if s["sample_type"] in ("rna", "dna", "cell_culture")]
    refs: dict[str, str] = {}
    for index, sample in enumerate(rng.sample(named, 6)):
        refs[f"s{index}_name"] = sample["name"]
        refs[f"s{index}_barcode"] = sample["barcode"]
    for title, category, paragraphs in DOCUMENTS:
        doc_id = _uuid(rng)
        body = [p.format(**refs) for p in paragraphs]
        conn.execute(
            "INSERT INTO documents (id, title, category, body) VALUES (?, ?, ?, ?)",
            (doc_id, title, category, "\n\n".join(body)),
        )
        conn.executemany(
            "INSERT INTO passages (title, body, doc_id) VALUES (?, ?, ?)",
            [(title, passage, doc_id) for passage in body],
        )
