#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, when they are missing:
# headless Chromium for the browser tests, and python3-gdal for GDAL's GeoPackage validator
# (`python3 -m osgeo_utils.samples.validate_gpkg FILE`, run with the system python3), and
# poppler-utils (pdftotext, pdftoppm) for the evidence report's PDF tests.
# Runs as root on CI and on the project's machines; elsewhere it uses sudo when it can.
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
/usr/bin/python3 -c "import osgeo_utils.samples.validate_gpkg" >/dev/null 2>&1 || need+=(python3-gdal)
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
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
