"""One typed settings object: defaults from ``config/defaults.toml``, then ``ECOWATCH_*`` variables.

Nothing here reads ``os.environ`` by itself: the caller passes the environment mapping, so
tests never touch the real one. Validation happens once, in :func:`load_settings`, and a bad
value fails with a :class:`~config.errors.SettingsError` naming the key.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from config.errors import SettingsError

CONFIG_DIR = Path(__file__).resolve().parent
DEFAULTS_FILE = CONFIG_DIR / "defaults.toml"
ENV_PREFIX = "ECOWATCH_"


class Settings(BaseModel):
    """Every tunable of ecowatch, with its type, default and meaning."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data_dir: Path = Field(Path("data"), description="Folder for the default store, imagery cache and rejects files.")
    database_url: str = Field("", description="Store URL or GeoPackage path; empty means <data_dir>/ecowatch.gpkg.")
    region: str = Field("mekong", description="Region seed folder under config/regions/ used by `ecowatch demo`.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Logging level.")

    host: str = Field("127.0.0.1", description="Address `ecowatch serve` binds to.")
    port: int = Field(8765, ge=1, le=65535, description="Port `ecowatch serve` listens on.")
    tile_url: str = Field("", description="Optional XYZ basemap tile URL template; empty draws no basemap.")
    tile_attribution: str = Field("", description="Attribution shown for tile_url.")
    secret_key: str = Field("", description="Flask secret key; empty generates a random one per process.")

    invalid_scl_classes: tuple[int, ...] = Field(
        (0, 1, 2, 3, 8, 9, 10, 11), description="Sentinel-2 SCL classes that make an observation invalid."
    )
    forest_ndvi_min: float = Field(0.6, gt=-1, lt=1, description="Baseline NDVI at or above which a pixel counts as forest.")
    ndvi_drop: float = Field(0.25, gt=0, lt=2, description="NDVI drop below the baseline that makes a pixel a candidate.")
    nbr_drop: float = Field(0.20, gt=0, lt=2, description="NBR drop below the baseline that makes a pixel a candidate.")
    min_baseline_observations: int = Field(2, ge=1, description="Valid baseline observations a pixel needs to be assessed.")
    confirm_observations: int = Field(1, ge=0, le=5, description="Further valid observations that must confirm a drop for high confidence.")
    mmu_ha: float = Field(0.5, gt=0, description="Minimum mapping unit of a clearing, hectares.")
    window_px: int = Field(1024, ge=64, le=16384, description="Processing window size in pixels for detection jobs.")

    concession_coverage_min_share: float = Field(
        0.5, ge=0, le=1, description="Share of a clearing inside a concession source's coverage before 'outside every concession' is said."
    )

    match_radius_km: float = Field(50.0, gt=0, description="Search radius from a seizure to candidate clearings, km.")
    match_max_lag_days: int = Field(365, ge=0, description="Longest lag from a clearing's first detection to a seizure, days.")
    match_max_candidates: int = Field(10, ge=1, description="Best-scoring candidate clearings kept per seizure.")

    near_corridor_km: float = Field(5.0, ge=0, description="A clearing this close to an economic corridor is flagged 'near corridor', km.")
    near_border_km: float = Field(5.0, ge=0, description="A clearing this close to a national border is flagged 'near border', km.")
    near_crossing_km: float = Field(10.0, ge=0, description="A clearing this close to a border crossing is flagged 'near crossing', km.")
    spill_min_ha: float = Field(0.1, ge=0, description="Area of a concession's clearing outside its boundary that is flagged as spilling over, ha.")
    spill_max_distance_m: float = Field(1000.0, gt=0, description="Only clearing within this distance outside a concession counts as spilling over it, m.")
    no_clearing_purposes: tuple[str, ...] = Field(("tourism",), description="Concession purpose categories that allow no forest clearing.")
    risk_weights: dict[str, int] = Field(
        {
            "protected_area": 45, "concession_not_valid": 35, "outside_concessions": 30, "purpose_mismatch": 25,
            "spills_over_concession": 20, "near_border": 10, "near_crossing": 10, "near_corridor": 5,
            "no_concession_data": 5, "inside_concession": 0, "high_confidence": 10, "per_log2_ha": 2,
        },
        description="Points each flag adds to the 0-100 risk score (JSON in the environment).",
    )

    segment_km: float = Field(10.0, gt=0, description="Length of the corridor segments that hotspots are counted on, km.")
    corridor_buffer_km: float = Field(25.0, gt=0, description="Clearings and seizures this close to a corridor count for its nearest segment, km.")
    hotspot_period: Literal["month", "quarter"] = Field("quarter", description="Time step of the hotspot statistics.")
    gi_distance_km: float = Field(25.0, gt=0, description="Segments whose midpoints are this close are neighbours in Gi*, km.")
    h3_resolution: int = Field(5, ge=0, le=15, description="H3 resolution of the region-wide hotspot grid.")

    rejects_max_share: float = Field(0.5, ge=0, le=1, description="Share of rejected records above which an ingest run fails.")

    @field_validator("invalid_scl_classes")
    @classmethod
    def _scl_codes(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        bad = [v for v in value if not 0 <= v <= 11]
        if bad:
            raise ValueError(f"SCL codes are 0..11, got {bad}")
        return tuple(sorted(set(value)))

    @property
    def store_url(self) -> str:
        """Where the store lives: ``database_url`` or the default GeoPackage under ``data_dir``."""
        return self.database_url or str(self.data_dir / "ecowatch.gpkg")


def region_dir(name: str) -> Path:
    """Folder of a bundled region's seed data (``config/regions/<name>``)."""
    path = CONFIG_DIR / "regions" / name
    if not path.is_dir():
        known = sorted(p.name for p in (CONFIG_DIR / "regions").iterdir() if p.is_dir())
        raise SettingsError("region", name, f"no such region; bundled regions: {', '.join(known)}")
    return path


def _env_value(field_type: Any, raw: str) -> Any:
    """Turn an environment string into what pydantic should validate (lists are comma-separated)."""
    if str(field_type).startswith("tuple"):
        return [p.strip() for p in raw.split(",") if p.strip()]
    if str(field_type).startswith("dict"):
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw  # pydantic then says what is wrong, naming the key
    return raw


def load_settings(
    environ: Mapping[str, str] | None = None,
    defaults_file: Path = DEFAULTS_FILE,
    **overrides: Any,
) -> Settings:
    """Build and validate the settings.

    Parameters
    ----------
    environ
        The environment to read ``ECOWATCH_*`` variables from (the CLI passes ``os.environ``;
        tests pass a dict or nothing).
    defaults_file
        TOML file with the defaults.
    **overrides
        Values that win over both (used by tests and by CLI options such as ``--store``).

    Raises
    ------
    SettingsError
        When a value does not validate or an ``ECOWATCH_*`` variable names no setting.
    """
    try:
        values: dict[str, Any] = tomllib.loads(defaults_file.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise SettingsError(str(defaults_file), "", f"cannot read defaults: {err}") from err
    source: dict[str, str] = {k: str(defaults_file) for k in values}
    fields = Settings.model_fields
    for key, raw in (environ or {}).items():
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX):].lower()
        if name not in fields:
            raise SettingsError(key, raw, f"not a setting; known: {', '.join(ENV_PREFIX + f.upper() for f in fields)}")
        value = _env_value(fields[name].annotation, raw)
        if isinstance(value, dict) and isinstance(fields[name].default, dict):
            value = {**fields[name].default, **value}  # a partial table overrides those entries only
        values[name] = value
        source[name] = key
    values.update(overrides)
    for name in overrides:
        source[name] = name
    unknown = [k for k in values if k not in fields]
    if unknown:
        raise SettingsError(unknown[0], values[unknown[0]], f"not a setting (from {source[unknown[0]]})")
    try:
        return Settings(**values)
    except ValidationError as err:
        first = err.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "?"
        key = source.get(name, name)
        if key == str(defaults_file):
            key = f"{name} in {defaults_file.name}"
        raise SettingsError(key, values.get(name), first["msg"]) from err
