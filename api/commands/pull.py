"""``modic pull``: fetch the series grading needs (sagittal T1, T2, STIR) of a list of patients from a PACS."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from api.commands._common import add_database_option, fail, settings_from, use_patient_key
from registry.errors import RegistryError
from registry.imaging.cohort import PullRequest, StudyFinder, parse_patient_list
from registry.imaging.pacs import archive_config
from registry.imaging.store import ImageStore, open_store

if TYPE_CHECKING:  # the database layer is loaded while the archive is searched already (see _pull)
    from sqlalchemy import Engine

    from registry.services.pulls import PullSummary

MAX_PATIENT_FILE_BYTES = 16 << 20
EXIT_INCOMPLETE = 2


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Find the patients' studies on a PACS (DICOMweb or DIMSE), classify their series from the archive's "
        "metadata, retrieve only the series grading needs and ingest them. Prints one line per patient "
        "(row number and pseudonym, never the patient id) and a summary line. Running the same command "
        "again resumes: only what is missing is fetched. The archive, AE titles and credentials come from "
        "MODIC_PACS_* settings; the options below override address and AE title (credentials: environment "
        f"only). Exit status 0 when every patient was fetched, {EXIT_INCOMPLETE} when some were not found, "
        "had nothing gradable or were refused, 1 on bad input or an unreachable archive."
    )
    archive = parser.add_mutually_exclusive_group()
    archive.add_argument("--dicomweb", metavar="URL", help="DICOMweb base URL (default $MODIC_PACS_DICOMWEB_URL)")
    archive.add_argument("--dimse", metavar="HOST:PORT", help="DICOM archive (default $MODIC_PACS_DIMSE_ADDRESS)")
    parser.add_argument("--called-ae", metavar="AE", help="the archive's AE title (default $MODIC_PACS_CALLED_AE)")
    patients = parser.add_mutually_exclusive_group(required=True)
    patients.add_argument(
        "--patients", type=Path, metavar="FILE", help="CSV of patient ids (a patient_id column, or the first column)"
    )
    patients.add_argument("--patient", action="append", metavar="ID", help="a patient id (repeatable)")
    parser.add_argument("--since", type=_date, metavar="DATE", help="only studies on or after DATE (YYYY-MM-DD)")
    parser.add_argument("--until", type=_date, metavar="DATE", help="only studies on or before DATE (YYYY-MM-DD)")
    add_database_option(parser)
    parser.set_defaults(func=_pull)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _patient_ids(args: argparse.Namespace) -> list[str]:
    if args.patient:
        return list(args.patient)
    path: Path = args.patients
    try:
        size = path.stat().st_size
        if size > MAX_PATIENT_FILE_BYTES:
            raise ValueError(f"--patients {path}: {size} bytes; at most {MAX_PATIENT_FILE_BYTES}")
        return parse_patient_list(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise ValueError(f"--patients {path}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ValueError(f"--patients {path}: not a UTF-8 text file") from None


def _pull(args: argparse.Namespace) -> int:
    settings = settings_from(args, key_checked_only=True)
    try:
        config = archive_config(settings, dicomweb=args.dicomweb, dimse=args.dimse, called_ae=args.called_ae)
        patient_ids = _patient_ids(args)
        request = PullRequest(config.label, tuple(patient_ids), args.since, args.until)
    except ValueError as exc:
        return fail(str(exc))
    except RegistryError as exc:
        return fail(exc.message)
    store = open_store(settings)
    try:
        archive = config.open(store)
    except RegistryError as exc:
        return fail(exc.message)
    # The first patients' studies are searched for while the database layer loads and the pull opens;
    # run_pull takes the finder over (a resumed pull's settled patients are searched for in vain, at most
    # SEARCHES_AHEAD of them).
    finder = StudyFinder.of(archive, patient_ids, args.since, args.until)
    try:
        use_patient_key(settings)
        return _pull_into(settings.database_url, store, finder, request, settings.expected_field_strength_t)
    finally:
        finder.close()
        archive.close()


def _pull_into(database_url: str, store: ImageStore, finder: StudyFinder, request: PullRequest, field: float) -> int:
    from registry.db import get_engine, migrate, session_scope
    from registry.models import PullOutcome
    from registry.services.pulls import open_pull

    engine = get_engine(database_url)
    migrate(engine)
    with session_scope(engine, write=True) as session:
        pull, resumed = open_pull(session, request, None)
    print(f"modic pull: {'resuming' if resumed else 'starting'} pull {pull.id} from {request.archive}", file=sys.stderr)
    patient_ids = list(request.patient_ids)
    summary = _run(engine, store, finder, pull.id, patient_ids, field)
    print(summary.line, flush=True)
    if summary.error:
        return fail(summary.error)
    return 0 if summary.outcomes[PullOutcome.fetched] == len(patient_ids) else EXIT_INCOMPLETE


def _run(
    engine: Engine, store: ImageStore, finder: StudyFinder, pull_id: str, patient_ids: list[str], field: float
) -> PullSummary:
    from registry.services.pulls import ItemReport, run_pull

    def report(item: ItemReport) -> None:
        print(item.line, flush=True)

    def pull(on_item: Callable[[ItemReport], None]) -> PullSummary:
        return run_pull(
            engine,
            store,
            finder.archive,
            pull_id,
            patient_ids,
            expected_field_strength_t=field,
            on_item=on_item,
            finder=finder,
        )

    if not sys.stderr.isatty():
        return pull(report)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("pulling"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("pull", total=len(patient_ids))

        def advance(item: ItemReport) -> None:
            if sys.stdout.isatty():
                bar.console.print(item.line, highlight=False)
            else:
                report(item)
            bar.advance(task)

        return pull(advance)
