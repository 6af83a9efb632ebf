"""The lab documents behind the sandbox's RAG service: SOPs and protocols, one paragraph per
passage. ``{sN_name}`` and ``{sN_barcode}`` are filled with seeded samples so that answers
can name real samples of the store."""

from __future__ import annotations

DOCUMENTS: list[tuple[str, str, list[str]]] = [
    (
        "SOP-014 RNA Handling and Storage",
        "sop",
        [
            "Purpose. This SOP describes how RNA samples and purified RNA extracts are handled, "
            "aliquoted and stored so that RNA integrity (RIN) is preserved from collection to "
            "sequencing. RNA is degraded quickly by ribonucleases (RNases) present on skin, dust "
            "and most laboratory surfaces.",
            "Storage temperature. Purified RNA samples must be stored at -80C in the ultra-low "
            "temperature freezers of zone -80C. Short-term storage at -20C is acceptable for no "
            "more than 7 days, and RNA must never be kept at 4C or room temperature for longer "
            "than the working session. Tissue destined for RNA extraction is kept in RNAlater at "
            "4C overnight and then transferred to -80C.",
            "Freeze-thaw cycles. Each RNA extract is split into single-use aliquots of 10 uL "
            "before the first freeze. A sample must not undergo more than three freeze-thaw "
            "cycles; the cycle count is recorded in the sample metadata. Thaw RNA on ice and "
            "return it to -80C within 30 minutes.",
            "RNase control. Work in the designated RNA bench, wear fresh gloves, and use "
            "RNase-free filter tips and tubes. Surfaces are wiped with an RNase decontamination "
            "solution before and after work. Use nuclease-free water for all dilutions.",
            "Quality thresholds. RNA for RNA-seq library preparation needs a RIN of at least 7.0 "
            "and a concentration of at least 20 ng/uL measured by fluorometry. Samples below the "
            "threshold are set to OnHold or Failed in the LIMS with the reason recorded.",
        ],
    ),
    (
        "SOP-007 Genomic DNA Extraction from Whole Blood",
        "protocol",
        [
            "Scope. This protocol covers the extraction of genomic DNA from EDTA whole blood "
            "with the silica spin-column kit, for inputs of 200 uL to 1 mL of blood.",
            "Procedure. Add 20 uL proteinase K and 200 uL lysis buffer to 200 uL of blood, vortex "
            "and incubate at 56C for 10 minutes. Add 200 uL ethanol, load the column, centrifuge "
            "at 6,000 x g for 1 minute, wash twice with the wash buffers and elute in 100 uL of "
            "elution buffer pre-warmed to 56C.",
            "Yield and purity. Expected yield is 4 to 12 ug of DNA per 200 uL of blood. Accept "
            "extracts with an A260/A280 ratio between 1.8 and 2.0 and an A260/A230 above 1.8. "
            "Record the concentration in ng/uL and the volume in uL in the LIMS.",
            "Storage of DNA. Genomic DNA in elution buffer is stable at 4C for up to four weeks "
            "and is stored long term at -20C. DNA intended for long-read sequencing is stored at "
            "4C and not frozen, to avoid shearing of high molecular weight DNA.",
        ],
    ),
    (
        "SOP-021 Sample Storage Temperatures and Freezer Zones",
        "sop",
        [
            "Temperature zones. The biorepository has five zones: -80C ultra-low freezers for "
            "RNA, plasma, serum, tissue and cell pellets; -20C freezers for DNA extracts, "
            "reagents and enzymes; 4C refrigerators for short-term holding and DNA for long-read "
            "work; RT cabinets for FFPE blocks and dried blood spots; and 37C incubators for "
            "live cell cultures only.",
            "Placement. Every sample is assigned a position in the hierarchy freezer > rack > box "
            "> position before it is set to InStorage. Boxes are 5 x 5 and positions are named "
            "A1 to E5. Position assignment and every move are recorded with the user and reason.",
            "Plasma and serum. Plasma and serum are aliquoted into 500 uL cryovials within two "
            "hours of collection and frozen at -80C. Whole blood for DNA may be held at 4C for "
            "up to 72 hours before extraction; it must not be frozen if cells are to be "
            "isolated.",
            "Saliva and swabs. Saliva collected in stabilising buffer is stored at room "
            "temperature (RT) for up to 30 days, then at -20C. Microbiome swabs are frozen at "
            "-80C on the day of receipt.",
        ],
    ),
    (
        "SOP-030 Freezer Maintenance and Temperature Excursions",
        "sop",
        [
            "Monitoring. Every freezer and refrigerator is connected to the temperature "
            "monitoring system, which alarms when a -80C unit rises above -70C or a -20C unit "
            "above -15C for more than 15 minutes. The on-call technician acknowledges alarms "
            "within 30 minutes.",
            "Defrosting. Ultra-low freezers are defrosted every six months and -20C freezers "
            "every three months. Before defrosting, the contents are moved to the backup freezer "
            "and each move is recorded in the LIMS; the location is set to status maintenance "
            "for the duration.",
            "Excursion record. During the excursion of 14 March 2025 in freezer F-80-03, samples "
            "{s0_name} (barcode {s0_barcode}) and {s1_name} (barcode {s1_barcode}) were exposed "
            "to -52C for 40 minutes. Both were flagged for RNA integrity re-testing before "
            "release and remain in quarantine until QC is repeated.",
            "Decommissioning. A freezer that fails twice in twelve months is set to "
            "decommissioned. Its samples are relocated to a unit of the same temperature zone "
            "and the empty containers are archived.",
        ],
    ),
    (
        "SOP-003 Barcode Labelling of Samples",
        "sop",
        [
            "Barcode format. Every sample receives a unique barcode at registration in the "
            "format PREFIX-YYYYMMDDHHMMSS-NNNN, where the prefix names the sample type (BLD "
            "blood, PLS plasma, SER serum, DNA, RNA, TIS tissue, SAL saliva, URN urine, SWB "
            "swab, CEL cell culture, FFP FFPE, CSF cerebrospinal fluid), followed by the "
            "registration time and a four digit sequence number.",
            "Labels. Labels are printed on cryo-resistant stock and applied to the tube body, "
            "not the cap, before the sample is frozen. A 2D DataMatrix code and the human "
            "readable barcode are both printed.",
            "Duplicates and relabelling. The LIMS rejects a duplicate barcode with a conflict "
            "error. A damaged label is reprinted from the LIMS; hand-written labels are not "
            "allowed. For example, sample {s2_name} was relabelled with its original barcode "
            "{s2_barcode} after the label peeled off in the -80C freezer.",
        ],
    ),
    (
        "PROT-011 Illumina Library Preparation",
        "protocol",
        [
            "Input. Library preparation starts from 100 to 500 ng of genomic DNA or 100 ng to "
            "1 ug of total RNA with a RIN of at least 7.0. Inputs are quantified by fluorometry "
            "on the day of preparation.",
            "Fragmentation and ligation. DNA is fragmented enzymatically to a mean insert size "
            "of 350 bp, end-repaired, A-tailed and ligated to unique dual index (UDI) adapters. "
            "Each library in a sample sheet must have a unique i7 and i5 index pair.",
            "Amplification and clean-up. Libraries are amplified with 4 to 8 PCR cycles "
            "depending on input and cleaned with 0.8x magnetic beads. The final library is "
            "eluted in 25 uL of 10 mM Tris.",
            "Library QC. Accept libraries with a concentration above 2 nM by qPCR and a fragment "
            "size between 300 and 600 bp on the fragment analyser. Libraries are pooled "
            "equimolarly and the pool is sequenced on the NovaSeq 6000 or the NextSeq 2000.",
        ],
    ),
    (
        "PROT-015 Sequencing Run Setup and Sample Sheets",
        "protocol",
        [
            "Sample sheets. A sequencing job references one sample sheet listing 8 to 96 "
            "samples with their well (A01 to H12), i7 and i5 index sequences and lane. The sheet "
            "is validated before the job moves from Submitted to Validated.",
            "Job workflow. Jobs move through Draft, Submitted, Validated, Queued, Running and "
            "Completed. A job can be put OnHold when a reagent or a flow cell is missing, and "
            "Cancelled before it starts Running. A Failed run is re-queued as a new job.",
            "Priorities. Urgent and Critical jobs are clinical or time-critical and are loaded "
            "on the next available flow cell. High jobs are scheduled within the week, Normal "
            "within two weeks, Low when capacity allows.",
            "Run QC. A run passes when at least 80 percent of bases are Q30 or above, the "
            "cluster pass-filter rate exceeds 70 percent, and each sample reaches its requested "
            "read depth. For example, the run including {s3_name} ({s3_barcode}) passed with "
            "93 percent Q30.",
        ],
    ),
    (
        "SOP-040 Biosafety for Human Samples",
        "sop",
        [
            "Containment. All human blood, tissue, saliva and CSF samples are handled as "
            "potentially infectious at biosafety level 2 (BSL-2). Open tubes only inside a class "
            "II biological safety cabinet.",
            "Personal protective equipment. Wear a lab coat, nitrile gloves and eye protection. "
            "Change gloves after handling a sample tube and before touching keyboards or "
            "barcode scanners.",
            "Spills. Cover a spill with absorbent paper, apply 10 percent bleach for 20 minutes, "
            "wipe from the outside in and dispose of the waste as biohazardous. Report every "
            "spill to the lab administrator.",
            "Waste. Sharps go into rigid sharps containers; liquid biological waste is treated "
            "with bleach to a final concentration of 10 percent before disposal; solid waste is "
            "autoclaved.",
        ],
    ),
    (
        "SOP-025 Quality Control Thresholds for Samples",
        "sop",
        [
            "DNA QC. Genomic DNA passes QC with a concentration of at least 10 ng/uL, an "
            "A260/A280 ratio between 1.8 and 2.0 and a DNA integrity number (DIN) of 7 or more. "
            "A quality score from 0 to 10 is recorded on the sample.",
            "RNA QC. RNA passes with a RIN of 7.0 or more, at least 20 ng/uL and an A260/A280 "
            "ratio between 1.9 and 2.1. RNA from FFPE tissue is accepted with a DV200 above 30 "
            "percent instead of a RIN.",
            "Plasma and serum QC. Haemolysed plasma or serum (visibly pink or red) is flagged; "
            "samples with haemolysis index above 2 are Rejected for proteomics.",
            "Failures. A sample that fails QC is set to Failed with the reason. A failed sample "
            "can be returned to Pending after re-extraction. Sample {s4_name} ({s4_barcode}) is "
            "the reference example of a re-extracted sample that passed on the second attempt.",
        ],
    ),
    (
        "SOP-001 Sample Reception and Registration",
        "sop",
        [
            "Reception. Incoming samples are checked against the submission form: number of "
            "tubes, labels, temperature on arrival and integrity of the packaging. Samples "
            "shipped on dry ice must arrive with dry ice remaining.",
            "Registration. Each sample is registered in the LIMS with its template, sample type, "
            "collection date, collector and volume. The LIMS generates the barcode and the "
            "sample starts in status Pending.",
            "Validation. A scientist reviews the metadata and sets the sample to Validated, or "
            "Rejected with a reason when the sample is mislabelled, leaked or lacks consent. "
            "Validated samples go to storage (InStorage) or directly to sequencing "
            "(InSequencing).",
            "Submission documents. Submission forms can be uploaded to the LIMS, which extracts "
            "the sample list automatically; the extracted data must be reviewed before the "
            "samples are registered.",
        ],
    ),
    (
        "PROT-020 Tissue Processing and FFPE Blocks",
        "protocol",
        [
            "Fresh tissue. Fresh tissue biopsies are snap-frozen in liquid nitrogen within 30 "
            "minutes of excision and stored at -80C, or placed in RNAlater when RNA is the "
            "target analyte.",
            "Fixation. Tissue for histology is fixed in 10 percent neutral buffered formalin for "
            "6 to 48 hours, processed and embedded in paraffin. FFPE blocks are stored at room "
            "temperature (RT) in the dark, away from humidity.",
            "Sectioning. Sections of 5 to 10 um are cut for nucleic acid extraction; the first "
            "sections are discarded. Record the number of sections and the tissue area in the "
            "sample metadata.",
        ],
    ),
    (
        "SOP-035 Cell Culture Banking",
        "sop",
        [
            "Culture. Cell lines are grown at 37C with 5 percent CO2 in the incubators of zone "
            "37C. Cultures are tested for mycoplasma every month.",
            "Cryopreservation. Cells are frozen at 1 to 5 million cells per mL in freezing "
            "medium with 10 percent DMSO, cooled at -1C per minute to -80C overnight and "
            "transferred to liquid nitrogen vapour phase for long-term banking.",
            "Thawing. Thaw vials quickly in a 37C water bath, dilute the DMSO immediately in warm "
            "medium and record the passage number. Sample {s5_name} ({s5_barcode}) is the master "
            "cell bank reference vial.",
        ],
    ),
]
