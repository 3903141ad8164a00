"""``modic store migrate --to-dicomweb URL``: move the site's images from the data directory into a DICOM
archive (resumable, verified; docs/imaging.md#moving-a-site-to-an-archive)."""

from __future__ import annotations

import argparse
import sys

from api.commands._common import add_database_option, fail, settings_from
from registry.db import get_engine, migrate
from registry.errors import RegistryError

EXIT_NOT_VERIFIED = 2


def register(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    move = actions.add_parser(
        "migrate",
        help="copy every image from the data directory into a DICOMweb archive and verify it",
        description=(
            "Copy every image the registry knows from MODIC_DATA_DIR into the DICOMweb archive (STOW-RS), "
            "skipping what the archive already holds, then check that the archive lists every one. Run it "
            "again to resume. Exit status: 0 when every image is verified in the archive, "
            f"{EXIT_NOT_VERIFIED} when some are not, 1 on bad input or an unreachable archive. Then set "
            "MODIC_IMAGE_STORE=dicomweb and MODIC_IMAGE_STORE_URL=URL on every process."
        ),
    )
    move.add_argument(
        "--to-dicomweb",
        required=True,
        metavar="URL",
        help="DICOMweb base URL of the archive (credentials and CA file: MODIC_IMAGE_STORE_*)",
    )
    add_database_option(move)
    move.set_defaults(func=_migrate)


def _migrate(args: argparse.Namespace) -> int:
    from registry.imaging.store import FileStore
    from registry.services.store_migration import migrate_to_archive

    try:
        settings = settings_from(args).model_copy(update={"image_store_url": args.to_dicomweb})
        if not args.to_dicomweb.startswith(("http://", "https://")):
            raise ValueError(f"--to-dicomweb {args.to_dicomweb!r} is not an http:// or https:// URL")
        from registry.imaging.dicomweb_store import DicomwebStore

        target = DicomwebStore.of(settings)
    except ValueError as exc:
        return fail(str(exc))
    engine = get_engine(settings.database_url)
    migrate(engine)
    try:
        report = migrate_to_archive(
            engine, FileStore.of(settings), target, progress=lambda line: print(line, file=sys.stderr)
        )
    except RegistryError as exc:
        return fail(exc.message)
    print(report.summary())
    for uid in report.missing_locally[:20]:
        print(f"instance {uid}: in the registry, missing from the data directory and the archive", file=sys.stderr)
    for uid in report.unverified[:20]:
        print(f"instance {uid}: stored but not listed by the archive", file=sys.stderr)
    return 0 if report.verified else EXIT_NOT_VERIFIED
