"""The species list seizure records are checked against (``config/species.toml`` by default).

:meth:`SpeciesList.resolve` turns what a record says (a scientific name in any capitalisation,
``spp.`` or not, a listed synonym, or a common name) into the listed scientific name, its group
(timber / wildlife) and CITES appendix. A well-formed binomial of a listed genus takes the
genus's entry; a well-formed binomial of an unlisted genus is kept as written with no appendix
(and a warning); anything else is not a species name and is rejected.
"""

from __future__ import annotations

import logging
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from config.settings import CONFIG_DIR
from ingest.errors import SourceError

logger = logging.getLogger(__name__)

BUNDLED = CONFIG_DIR / "species.toml"
APPENDICES = ("I", "II", "III")
GROUPS = ("timber", "wildlife")
_BINOMIAL = re.compile(r"^([A-Z][a-z]+)( [a-z][a-z-]+){1,2}$")
_SPP = re.compile(r"\s+(spp?|ssp)\.?$", re.IGNORECASE)


@dataclass(frozen=True)
class Species:
    """One entry of the list."""

    name: str
    rank: str
    group: str
    cites: str
    common: tuple[str, ...] = ()
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Resolved:
    """What a record's species cell resolves to. ``known`` is False for an unlisted binomial."""

    name: str
    group: str | None
    cites: str | None
    known: bool


def _key(text: str) -> str:
    return re.sub(r"\s+", " ", _SPP.sub("", text.strip())).lower()


def canonical_binomial(text: str) -> str:
    """``"dalbergia  OLIVERI"`` -> ``"Dalbergia oliveri"`` (genus capitalised, the rest lower case)."""
    words = re.sub(r"\s+", " ", text.strip()).split(" ")
    return " ".join([words[0].capitalize(), *(w.lower() for w in words[1:])])


class SpeciesList:
    """Lookup of species names (see the module docstring)."""

    def __init__(self, entries: list[Species], source: str = "") -> None:
        self.entries = entries
        self.source = source
        self._by_key: dict[str, Species] = {}
        self._genus: dict[str, Species] = {}
        for sp in entries:
            for name in (sp.name, *sp.synonyms, *sp.common):
                self._by_key.setdefault(_key(name), sp)
            if sp.rank == "genus":
                self._genus[_key(sp.name)] = sp

    @classmethod
    def load(cls, path: Path | None = None) -> SpeciesList:
        """Read a species list (TOML, ``[[species]]`` tables); ``SourceError`` names a bad entry."""
        path = Path(path) if path else BUNDLED
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
            raise SourceError(str(path), f"cannot read the species list: {err}") from err
        entries = []
        for i, item in enumerate(doc.get("species", []), start=1):
            try:
                sp = Species(
                    str(item["name"]), str(item.get("rank", "species")), str(item["group"]), str(item.get("cites", "")),
                    tuple(item.get("common", ())), tuple(item.get("synonyms", ())),
                )
            except (KeyError, TypeError) as err:
                raise SourceError(str(path), f"species entry {i}: missing or bad {err}") from err
            if sp.group not in GROUPS or sp.cites not in (*APPENDICES, "") or sp.rank not in ("species", "genus", "family"):
                raise SourceError(str(path), f"species entry {i} ({sp.name}): group must be timber/wildlife, cites I/II/III or empty, rank species/genus/family")
            entries.append(sp)
        return cls(entries, str(path))

    def resolve(self, text: str) -> Resolved:
        """The listed species for ``text``; ``ValueError`` when it is not a species name at all."""
        key = _key(text)
        hit = self._by_key.get(key)
        if hit is not None:
            return Resolved(hit.name, hit.group, hit.cites or None, True)
        name = canonical_binomial(_SPP.sub("", text.strip()))
        if _BINOMIAL.match(name):
            genus = self._genus.get(name.split(" ")[0].lower())
            if genus is not None:
                return Resolved(name, genus.group, genus.cites or None, True)
            return Resolved(name, None, None, False)
        raise ValueError("not a scientific name (Genus species) nor a name in the species list")


@lru_cache(maxsize=4)
def species_list(path: str = "") -> SpeciesList:
    """The species list at ``path`` (the bundled one when empty), read once per process."""
    return SpeciesList.load(Path(path) if path else None)


def normalise_appendix(text: str) -> str:
    """``"App. II"``, ``"2"``, ``"appendix ii"`` -> ``"II"``; ``ValueError`` otherwise."""
    t = re.sub(r"^(cites\s+)?(appendix|app\.?)\s*", "", text.strip(), flags=re.IGNORECASE).strip().upper()
    t = {"1": "I", "2": "II", "3": "III"}.get(t, t)
    if t not in APPENDICES:
        raise ValueError("not a CITES appendix (I, II or III)")
    return t
