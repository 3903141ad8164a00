"""``modic ingest PATH...``: ingest DICOM files, folders (recursive), .zip archives and NIfTI volumes."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from api.commands._common import add_database_option, fail, settings_from
from api.schemas.studies import StudyPublic
from registry.db import get_engine, migrate, session_scope
from registry.imaging.nifti import NiftiMetadata
from registry.imaging.sources import count_files
from registry.imaging.store import open_store
from registry.services.imaging import IngestResult, ProgressCallback, ingest_paths

EXIT_SOME_REJECTED = 2


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Ingest DICOM files, folders (recursively) and .zip archives; prints one JSON object per study "
        "on stdout and one line per rejected file on stderr. Exit status: 0 when every file was used, "
        f"{EXIT_SOME_REJECTED} when some files were rejected (the others are kept), 1 when nothing could be used."
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="file, folder or .zip")
    parser.add_argument("--patient-id", help="patient id of NIfTI files")
    parser.add_argument("--study-date", help="study date of NIfTI files (YYYY-MM-DD)")
    parser.add_argument("--weighting", help="weighting of NIfTI files (T1 or T2)")

    add_database_option(parser)
    parser.set_defaults(func=_ingest)


def _nifti_metadata(args: argparse.Namespace) -> NiftiMetadata | None:
    from registry.imaging.nifti import NiftiMetadata

    given = [args.patient_id, args.study_date, args.weighting]
    if not any(given):
        return None
    if not all(given):
        raise ValueError("NIfTI study data needs all of --patient-id, --study-date and --weighting")
    try:
        study_date = dt.date.fromisoformat(args.study_date)
    except ValueError:
        raise ValueError(f"--study-date {args.study_date!r} is not a date (YYYY-MM-DD)") from None
    return NiftiMetadata(args.patient_id, study_date, args.weighting)


def _run(args: argparse.Namespace, nifti: NiftiMetadata | None) -> IngestResult:

    settings = settings_from(args)
    engine = get_engine(settings.database_url)
    migrate(engine)
    store = open_store(settings)
    with session_scope(engine, write=True) as session:

        def ingest(progress: ProgressCallback | None = None) -> IngestResult:
            return ingest_paths(
                session,
                store,
                args.paths,
                nifti=nifti,
                expected_field_strength_t=settings.expected_field_strength_t,
                limits=settings.archive_limits(),
                progress=progress,
            )

        if not sys.stderr.isatty():
            return ingest()
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        columns = (TextColumn("ingesting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, transient=True) as bar:
            task = bar.add_task("ingest", total=count_files(args.paths))
            return ingest(lambda _name: bar.advance(task))


def _ingest(args: argparse.Namespace) -> int:

    try:
        nifti = _nifti_metadata(args)
    except ValueError as exc:
        return fail(str(exc))

    result = _run(args, nifti)
    for study in result.studies:
        print(json.dumps(StudyPublic.of(study.view).model_dump(mode="json")), flush=True)
    for rejection in result.rejections:
        print(f"modic: rejected {rejection.message}", file=sys.stderr)
    if not result.studies:
        return fail("no DICOM MR image could be used" + ("" if result.rejections else ": no files found"))
    return EXIT_SOME_REJECTED if result.rejections else 0
