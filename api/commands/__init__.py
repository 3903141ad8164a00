"""Subcommands of ``modic``: each module here (except ``_``-prefixed helpers) is one subcommand,
listed with its one-line summary in :data:`SUMMARIES`.

``modic`` makes the subcommand's parser (named after the module, with the summary as its help) and
imports the module only when that subcommand runs; the module's ``register(parser)`` adds the
arguments and sets ``func`` (a callable taking the parsed namespace and returning the exit status)
with ``parser.set_defaults(func=...)``. ``modic --help`` imports none of them.
"""

SUMMARIES: dict[str, str] = {
    "agreement": "rater agreement report of a long-format CSV (unit,rater,value[,cluster][,variable])",
    "assign": "assign a radiologist to studies (only assigned studies reach a radiologist)",
    "backup": "back up the database and the image folder (while the service runs)",
    "ingest": "ingest DICOM files, folders or .zip archives (and NIfTI with study data)",
    "key": "the key that encrypts patient identifiers at rest",
    "pull": "fetch the sagittal T1/T2 (and STIR) series of patients from a PACS",
    "receive": "run a DICOM Storage SCP (C-STORE receiver) that ingests what it receives",
    "reevaluate": "re-evaluate eligibility decisions (daily, or all)",
    "restore": "restore a backup into an empty database and image folder",
    "serve": "run the HTTP service",
    "store": "manage the image store (move a site's images to an archive)",
    "token": "issue, rotate and revoke API tokens",
    "user": "manage users",
}
"""Each subcommand's one-line summary, by name (the name of its module)."""
