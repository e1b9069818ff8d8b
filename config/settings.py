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

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

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
    trusted_hosts: tuple[str, ...] = Field(
        (), description="Host names the web app answers besides localhost, 127.0.0.1 and [::1] (host or host:port); any other Host header gets 400."
    )
    id_secret: SecretStr = Field(
        SecretStr(""),
        description="Key of the opaque ids shown to roles that see generalised seizures (HMAC of the internal id) and of seizure ids made from "
        "a record's content; empty uses <data_dir>/id_secret, created on first use. Keep it: a new key gives every record a new id.",
    )
    server_threads: int = Field(8, ge=1, le=256, description="Worker threads of the production server (waitress) behind `ecowatch serve`.")
    trusted_proxies: int = Field(0, ge=0, le=5, description="Reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host headers are trusted (0: none).")
    secure_cookies: bool = Field(False, description="Send the session cookie with Secure (and as __Host-ecowatch): set true whenever the app is reached over https.")
    session_hours: float = Field(12.0, gt=0, le=24 * 30, description="How long a login lasts, hours.")
    password_min_length: int = Field(12, ge=8, le=256, description="Shortest password `ecowatch users add` accepts, characters.")
    password_hash_time_cost: int = Field(3, ge=1, le=20, description="Argon2id passes over memory when hashing a password.")
    password_hash_memory_kib: int = Field(65536, ge=1024, le=4 * 1024 * 1024, description="Argon2id memory per password hash, KiB.")
    password_hash_parallelism: int = Field(4, ge=1, le=16, description="Argon2id lanes per password hash.")
    login_max_failures: int = Field(5, ge=1, le=1000, description="Wrong passwords for an account (or from an address) within login_window_s after which logins are refused with 429.")
    login_window_s: float = Field(900.0, gt=0, description="Window of the login throttle, seconds.")
    demo_password: SecretStr = Field(SecretStr(""), description="Password of every demo account `ecowatch demo` creates; empty: a random one each, printed once.")

    invalid_scl_classes: tuple[int, ...] = Field(
        (0, 1, 2, 3, 8, 9, 10, 11), description="Sentinel-2 SCL classes that make an observation invalid."
    )
    forest_ndvi_min: float = Field(0.6, gt=-1, lt=1, description="Baseline NDVI at or above which a pixel counts as forest.")
    ndvi_drop: float = Field(0.15, gt=0, lt=2, description="NDVI drop below the seasonal reference that makes an observation a drop.")
    nbr_drop: float = Field(0.15, gt=0, lt=2, description="Drop of the SWIR index (NBR or NDMI, see swir_index) below the seasonal reference that makes an observation a drop.")
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

    imagery_cache_dir: str = Field("", description="Folder of the imagery cache (fetched COGs); empty means <data_dir>/imagery.")
    imagery_resolution_m: float = Field(10.0, ge=10, le=60, description="Pixel size of the AOI grid remote imagery is fetched onto, metres.")
    imagery_max_attempts: int = Field(3, ge=1, le=10, description="Attempts of an imagery request failing with 5xx or a broken connection before the run fails.")
    imagery_retry_s: float = Field(5.0, ge=0, le=600, description="Wait before the first retry of a failed imagery request, seconds (x3 for each further one).")
    imagery_max_rate_limited: int = Field(10, ge=1, description="429 Too Many Requests answers tolerated per imagery request before the run fails.")
    http_timeout_s: float = Field(120.0, gt=0, description="Timeout of one HTTP request to an imagery service, seconds.")
    sentinelhub_base_url: str = Field("https://services.sentinel-hub.com", description="Sentinel Hub API base URL (Copernicus Data Space: https://sh.dataspace.copernicus.eu).")
    sentinelhub_token_url: str = Field(
        "https://services.sentinel-hub.com/auth/realms/main/protocol/openid-connect/token", description="OAuth token URL of that Sentinel Hub deployment."
    )
    sentinelhub_client_id: str = Field("", description="Sentinel Hub OAuth client id (from the deployment's dashboard).")
    sentinelhub_client_secret: SecretStr = Field(SecretStr(""), description="Sentinel Hub OAuth client secret; never logged or shown.")
    sentinelhub_max_px: int = Field(2500, ge=16, le=2500, description="Largest tile side asked of the Process API, pixels; larger AOIs are split and mosaicked.")
    sentinelhub_threads: int = Field(2, ge=1, le=16, description="Process API tiles downloaded at once.")
    stac_url: str = Field("https://earth-search.aws.element84.com/v1", description="Root URL of the STAC API searched by the `stac` provider.")
    stac_collection: str = Field("sentinel-2-l2a", description="STAC collection holding Sentinel-2 L2A items.")
    stac_asset_schemes: tuple[Literal["http", "https"], ...] = Field(("https",), description="URL schemes STAC asset URLs may use.")
    partner_schemes: tuple[Literal["http", "https"], ...] = Field(
        ("https",), description="URL schemes a partner's OGC API (ingest --from-ogcapi) may use; add http only on a trusted network."
    )
    partner_max_pages: int = Field(10_000, gt=0, description="Most pages one ingest --from-ogcapi reads before it fails (a loop guard).")
    stac_asset_hosts: tuple[str, ...] = Field(
        ("sentinel-cogs.s3.us-west-2.amazonaws.com",),
        description="Hosts STAC asset URLs may point to (host, host:port or *.domain); any other URL is refused.",
    )

    # change detection, continued (see config/defaults.toml for how the defaults were tuned)
    swir_index: Literal["auto", "nbr", "ndmi"] = Field("auto", description="SWIR index of the change test: nbr (NIR, B12), ndmi (NIR, B11), or auto: nbr when every scene has B12, else ndmi; nbr_drop is its drop.")
    analysis_confidence: Literal["all", "high"] = Field("all", description="Clearings that matching and hotspots use: all (low and high confidence) or high (confirmed only); every clearing is flagged either way.")
    cloud_mask_bands: tuple[str, ...] = Field(("CLM", "FMASK"), description="Band names (case-insensitive) read as a 0/1 cloud/shadow mask (0 clear) in local files that have no SCL band.")
    season_observations: int = Field(5, ge=1, le=100, description="Valid baseline observations nearest in day of year whose median is a date's seasonal reference.")
    baseline_low_quantile: float = Field(0.1, ge=0, le=0.5, description="Quantile of a pixel's baseline NDVI near the date's season that marks its own low range (leaf-off, harvests).")
    low_range_margin: float = Field(0.0, ge=-1, lt=1, description="A drop must also reach this far below the baseline's low quantile for the season, NDVI units.")
    low_window_days: float = Field(20.0, ge=0, le=183, description="Baseline observations within this many days of a date's day of year (and at least season_observations) make its low range.")
    bare_ndvi_max: float = Field(0.33, ge=-1, le=1, description="A pixel whose low baseline NDVI quantile is at or below this was bare in the baseline (fields): its drops must also fall below that whole-baseline low range.")
    grow_share: float = Field(0.8, gt=0, le=1, description="Hysteresis: pixels that would be flagged with drops of this share of ndvi_drop / nbr_drop join a flagged object they touch (8-connected); 1 turns growth off.")
    recovery_share: float = Field(0.5, ge=0, le=1, description="An observation whose NDVI or SWIR-index drop is below this share of ndvi_drop / nbr_drop ends an unconfirmed candidate; one in between neither confirms nor ends it.")
    nir_rise_max: float = Field(0.1, ge=0, description="Monitoring observations brighter in NIR than the baseline median by more than this share are skipped as haze or thin cloud.")
    withdraw_observations: int = Field(3, ge=0, le=50, description="A confirmed alert is withdrawn when this many informative observations in a row are green again in both indices, the first within transient_days of its first drop (leaf-off, wintering rubber, crop cycles, floods); 0 turns it off.")
    transient_days: float = Field(90.0, ge=0, le=366, description="Days after an alert's first drop within which greening again withdraws it (see withdraw_observations); later regrowth does not.")
    unconfirmed_nir_rise_max: float = Field(0.0, ge=0, description="An unconfirmed alert whose first drop was brighter in NIR than the season's baseline by more than this share is not published (thin cloud and haze brighten NIR; canopy loss rarely does); at or above nir_rise_max it is off.")
    cloud_dilation_px: int = Field(1, ge=0, le=10, description="Pixels by which SCL cloud, cirrus and shadow masks are grown.")
    forest_cover_path: str = Field("", description="Optional tree-cover raster (percent, e.g. Hansen treecover2000); empty: forest is baseline NDVI >= forest_ndvi_min.")
    forest_cover_min: float = Field(30.0, ge=0, le=100, description="Tree cover, percent, from which a pixel of forest_cover_path counts as forest.")
    observation_gap_min_days: int = Field(30, ge=1, description="Areas without a valid observation for this many days up to the end of monitoring become observation gaps.")
    scheduler: str = Field("", description="Dask scheduler address (tcp://host:port) for detection; empty runs on local threads.")
    detect_threads: int = Field(0, ge=0, description="Local threads for detection windows; 0 uses one per core.")
    window_memory_mb: int = Field(256, ge=16, description="Most memory one detection window's input stack may take, MB; windows shrink to fit.")
    quicklooks: bool = Field(True, description="Write before/after true-colour and NDVI PNG chips of every clearing a detection run finds or updates.")

    # boundary and seizure ingest: limits on what one file may hold, and where the region is
    ingest_max_file_mb: float = Field(500.0, gt=0, description="Largest input file (or unpacked archive) an ingest reads, MB.")
    ingest_max_vertices: int = Field(50_000, ge=4, description="Most vertices one boundary feature may have; a larger feature is rejected.")
    ingest_max_json_depth: int = Field(64, ge=8, le=10_000, description="Deepest nesting of arrays and objects a GeoJSON (or XML element nesting a KML) file may have.")
    ingest_max_field_chars: int = Field(10_000, ge=16, description="Longest text value of one field an ingest accepts, characters.")
    region_bbox: tuple[float, float, float, float] = Field(
        (92.0, 5.0, 112.0, 30.0),
        description="Lon/lat box W,S,E,N of the region; features and seizures wholly outside it are rejected (wrong CRS or swapped lat/lon).",
    )
    boundary_coverage: dict[str, list[str]] = Field(
        {}, description="Countries where a boundary source (by its source name) is complete; overrides the mapping's [coverage] (JSON in the environment)."
    )
    species_file: str = Field("", description="Species list (TOML) that seizure species are checked against; empty uses the bundled config/species.toml.")

    # watch-area digests (`ecowatch notify`): e-mail over SMTP, webhooks, links back to the app
    public_url: str = Field("http://127.0.0.1:8765", description="The app's address as recipients reach it: digests link reports and the unsubscribe page under it.")
    smtp_host: str = Field("", description="SMTP server for digests; empty sends no e-mail.")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port (587 submission with STARTTLS, 465 TLS, 25 plain).")
    smtp_security: Literal["starttls", "tls", "none"] = Field("starttls", description="starttls (upgrade the connection), tls (TLS from the start) or none (local relays only).")
    smtp_username: str = Field("", description="SMTP login; empty: no authentication.")
    smtp_password: SecretStr = Field(SecretStr(""), description="SMTP password; never logged or shown.")
    smtp_from: str = Field("ecowatch@localhost", description="From address of digests.")
    smtp_timeout_s: float = Field(30.0, gt=0, description="Timeout of one SMTP conversation, seconds.")
    webhook_schemes: tuple[Literal["http", "https"], ...] = Field(("https",), description="URL schemes a webhook URL may use.")
    webhook_hosts: tuple[str, ...] = Field((), description="Hosts webhook URLs may point to (host, host:port or *.domain), as for imagery URLs; empty: no webhooks.")
    webhook_timeout_s: float = Field(15.0, gt=0, description="Timeout of one webhook delivery, seconds.")
    digest_max_clearings: int = Field(200, ge=1, le=10_000, description="Most clearings listed in one digest (the rest are counted).")
    notify_max_attempts: int = Field(5, ge=1, le=100, description="Delivery attempts of one digest (one per `ecowatch notify` run) before it is marked failed.")

    @field_validator("invalid_scl_classes")
    @classmethod
    def _scl_codes(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        bad = [v for v in value if not 0 <= v <= 11]
        if bad:
            raise ValueError(f"SCL codes are 0..11, got {bad}")
        return tuple(sorted(set(value)))

    @field_validator("trusted_hosts")
    @classmethod
    def _hosts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [h for h in value if not h or any(c in h for c in "/@ ?#")]
        if bad:
            raise ValueError(f"expected host names (host or host:port), got {bad}")
        return tuple(h.lower() for h in value)

    @field_validator("region_bbox")
    @classmethod
    def _bbox(cls, value: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        w, s, e, n = value
        if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
            raise ValueError("expected W,S,E,N in degrees with W < E and S < N")
        return value

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
