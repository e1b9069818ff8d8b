"""Zip archives (zipped Shapefiles, zipped GeoJSON, KMZ): checked first, unpacked only when safe.

Refused, before anything is written: members with absolute paths or ``..`` components, links,
nested archives, encrypted members, and more unpacked bytes than ``ingest_max_file_mb`` (also
enforced while copying, so a member that lies about its size cannot fill the disk). macOS
``__MACOSX/`` and ``._*`` resource forks are skipped.
"""

from __future__ import annotations

import logging
import re
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from ingest.errors import ArchiveError
from ingest.limits import Limits, check_file_size

logger = logging.getLogger(__name__)

ARCHIVE_SUFFIXES = (".zip", ".kmz", ".gz", ".tgz", ".tar", ".7z", ".rar", ".bz2", ".xz", ".zst", ".gpkg.zip")
MAX_MEMBERS = 10_000
_DRIVE = re.compile(r"^[A-Za-z]:")
_CHUNK = 1 << 20


def _skipped(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return bool(parts) and (parts[0] == "__MACOSX" or parts[-1].startswith("._"))


def check_zip(path: Path, limits: Limits) -> list[zipfile.ZipInfo]:
    """The members of a zip archive that are safe to unpack (directories and resource forks left out).

    Raises
    ------
    ArchiveError
        Not a zip file, or a member that is refused (named, with the reason).
    """
    path = Path(path)
    if not zipfile.is_zipfile(path):
        raise ArchiveError(str(path), "is not a zip archive (or is damaged)")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError) as err:
        raise ArchiveError(str(path), f"cannot be read as a zip archive: {err}") from err
    if len(infos) > MAX_MEMBERS:
        raise ArchiveError(str(path), f"holds {len(infos):,} members, more than {MAX_MEMBERS:,}; refused")
    members: list[zipfile.ZipInfo] = []
    total = 0
    for info in infos:
        name = info.filename
        unix_mode = info.external_attr >> 16
        if name.startswith(("/", "\\")) or _DRIVE.match(name):
            raise ArchiveError(str(path), f"member {name!r} has an absolute path; refused, nothing was unpacked")
        if ".." in re.split(r"[\\/]", name):
            raise ArchiveError(str(path), f"member {name!r} points outside the archive ('..'); refused, nothing was unpacked")
        if stat.S_ISLNK(unix_mode):
            raise ArchiveError(str(path), f"member {name!r} is a symbolic link; refused, nothing was unpacked")
        if info.flag_bits & 0x1:
            raise ArchiveError(str(path), f"member {name!r} is encrypted; give an unencrypted archive")
        if info.is_dir() or _skipped(name):
            continue
        if name.lower().endswith(ARCHIVE_SUFFIXES):
            raise ArchiveError(str(path), f"member {name!r} is itself an archive; nested archives are refused, unpack it first")
        total += info.file_size
        members.append(info)
    check_file_size(path, limits, size=total)
    return members


def unpack_zip(path: Path, dest: Path, limits: Limits) -> list[Path]:
    """Check ``path`` with :func:`check_zip`, then unpack its members under ``dest``; the unpacked files."""
    members = check_zip(path, limits)
    dest = Path(dest).resolve()
    out: list[Path] = []
    budget = limits.max_file_bytes
    with zipfile.ZipFile(path) as zf:
        for info in members:
            target = (dest / info.filename).resolve()
            if dest not in target.parents:  # belt and braces after the name checks
                raise ArchiveError(str(path), f"member {info.filename!r} would land outside the folder; refused")
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(info) as src, target.open("wb") as dst:
                    while chunk := src.read(_CHUNK):
                        budget -= len(chunk)
                        if budget < 0:
                            raise ArchiveError(
                                str(path),
                                f"unpacks to more than {limits.max_file_bytes / 1e6:,.1f} MB (setting ingest_max_file_mb); refused",
                            )
                        dst.write(chunk)
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as err:
                raise ArchiveError(str(path), f"member {info.filename!r} cannot be unpacked: {err}") from err
            out.append(target)
    logger.debug("%s: unpacked %d member(s) to %s", path.name, len(out), dest)
    return out
