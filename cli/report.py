"""``ecowatch report``: an evidence report of a clearing or corridor segment, and ``report verify``.

``ecowatch report CLEARING_ID -o FILE.pdf|FILE.html [--role ROLE] [--segment]`` writes the report
and, beside it, ``FILE.json``: the sealed canonical data (its SHA-256 is printed in the report and
here). ``ecowatch report verify FILE.json [--expect SHA256]`` recomputes the digest: exit 0 when it
matches, 1 when the file was changed.
"""

from __future__ import annotations

import getpass
import logging
from pathlib import Path

import click

from cli.common import JobFailed, opened_store, settings_of, store_option
from config import EcowatchError

logger = logging.getLogger(__name__)

ROLE_HELP = ("Report what this role may see: ngo (the default, safe to share: no case reference, agency, seizure point or reviewer "
             "name), planner, analyst or admin (everything).")


@click.command("report")
@click.argument("target", metavar="CLEARING_ID | verify")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path), metavar="[FILE.json]")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="The report: FILE.pdf or FILE.html (FILE.json is written beside).")
@click.option("--role", type=click.Choice(["planner", "analyst", "ngo", "admin"]), default="ngo", show_default=True, help=ROLE_HELP)
@click.option("--segment", is_flag=True, help="TARGET is a corridor segment id (a hotspot segment's report).")
@click.option("--expect", metavar="SHA256", help="With verify: the digest printed in the report, which must match too.")
@store_option
@click.pass_context
def report(ctx: click.Context, target: str, file: Path | None, output: Path | None, role: str, segment: bool, expect: str | None,
           store: str | None) -> None:
    """Write the evidence report of CLEARING_ID (or check one: report verify FILE.json)."""
    if target == "verify":
        _verify(file, expect)
        return
    if file is not None:
        raise click.UsageError("give the report's file with -o FILE.pdf (a second argument is only for 'report verify FILE.json')")
    if output is None or output.suffix.lower() not in (".pdf", ".html"):
        raise click.UsageError("-o FILE.pdf or -o FILE.html is required")
    from layers.errors import EvidenceError
    from layers.evidence_seal import write_sealed
    from layers.files import atomic_path
    from layers.opaque_ids import load_id_key
    from layers.redaction import Access
    from web.evidence import build_report
    from web.evidence_render import PdfError, html_to_pdf

    settings = settings_of(ctx)
    access = Access(role)  # type: ignore[arg-type]
    with opened_store(ctx, store, readonly=True) as st:
        try:
            if access.generalised:
                access = Access(access.role, load_id_key(settings))
            built = build_report(st, settings, access, "segment" if segment else "clearing", target)
        except EvidenceError as err:
            raise JobFailed(str(err)) from err
        except EcowatchError as err:
            raise JobFailed(str(err)) from err
    html = built.html()
    try:
        body = html_to_pdf(html) if output.suffix.lower() == ".pdf" else html.encode("utf-8")
    except PdfError as err:
        raise JobFailed(str(err)) from err
    with atomic_path(output, mode=0o600) as tmp:
        tmp.write_bytes(body)
    sealed_path = output.with_suffix(".json")
    sha = write_sealed(sealed_path, built.data)
    _log(ctx, store, role, f"evidence report {target} to {output}, SHA-256 {sha}")
    click.echo(f"report {target}: {output} and {sealed_path} (SHA-256 {sha})")


def _verify(file: Path | None, expect: str | None) -> None:
    from layers.evidence_seal import SealError, verify_file

    if file is None:
        raise click.UsageError("report verify needs FILE.json")
    try:
        verdict = verify_file(file, expect)
    except SealError as err:
        raise JobFailed(str(err)) from err
    if not verdict.ok:
        raise JobFailed(verdict.message)
    click.echo(verdict.message)


def _log(ctx: click.Context, store: str | None, role: str, detail: str) -> None:
    """The report in the access log, like an export (a store that cannot be written here: a warning)."""
    from layers.access_log import record_event
    from layers.errors import StoreError
    from layers.store import open_store

    try:
        with open_store(store or settings_of(ctx).store_url, create=False) as writer:
            record_event(writer, "export", username=f"cli:{getpass.getuser()}", role=role, method="cli", path="report", detail=detail)
    except StoreError as err:
        logger.warning("report not recorded in the access log (the store cannot be written here): %s", err)
