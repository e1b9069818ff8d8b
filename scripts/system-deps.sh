#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, when they are missing:
# headless Chromium for the browser tests, and python3-gdal for GDAL's GeoPackage validator
# (`python3 -m osgeo_utils.samples.validate_gpkg FILE`, run with the system python3), and
# poppler-utils (pdfinfo, pdftotext, pdftoppm) to check what Chromium prints (the map's print view,
# the evidence reports); and
# PostgreSQL with PostGIS 3 for the PostGIS leg of the store tests (scripts/postgis.sh starts a
# throwaway cluster). The PostGIS package is the one built for the release's PostgreSQL major
# version (`apt-cache search postgis`: postgresql-15-postgis-3 on Debian 12).
# gdal-bin gives `ogrinfo`, whose OAPIF driver is the third-party OGC API - Features client of the API tests.
# Runs as root on CI and on the project's machines; elsewhere it uses sudo when it can.
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
/usr/bin/python3 -c "import osgeo_utils.samples.validate_gpkg" >/dev/null 2>&1 || need+=(python3-gdal)
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
PG_MAJOR=""
if command -v pg_config >/dev/null 2>&1; then PG_MAJOR=$(pg_config --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/'); fi
if [ -z "$PG_MAJOR" ]; then
  # the release's default major version: what the `postgresql` metapackage depends on
  PG_MAJOR=$(apt-cache depends postgresql 2>/dev/null | sed -nE 's/.*Depends: postgresql-([0-9]+)$/\1/p' | head -1)
fi
if [ -n "$PG_MAJOR" ]; then
  [ -x "/usr/lib/postgresql/$PG_MAJOR/bin/postgres" ] || need+=("postgresql-$PG_MAJOR")
  [ -f "/usr/share/postgresql/$PG_MAJOR/extension/postgis.control" ] || need+=("postgresql-$PG_MAJOR-postgis-3" "postgresql-$PG_MAJOR-postgis-3-scripts")
else
  echo "system-deps: cannot tell this release's PostgreSQL version (apt-cache depends postgresql); PostGIS not installed" >&2
fi
command -v ogrinfo >/dev/null 2>&1 || need+=(gdal-bin)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "system-deps: missing ${need[*]}; install them (apt-get install ${need[*]}) or run as root" >&2
    exit 1
  fi
fi
echo "system-deps: installing ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
