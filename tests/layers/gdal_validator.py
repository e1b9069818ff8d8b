"""GDAL's own GeoPackage validator, run with the system python3 (Debian's python3-gdal).

The project's venv has no ``osgeo`` bindings (pyogrio and rasterio bundle GDAL without them), so
the validator runs in a child process of ``/usr/bin/python3``. Without it the test is skipped,
except on CI (``CI=true``), where it fails: ``scripts/system-deps.sh`` installs it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SYSTEM_PYTHON = Path("/usr/bin/python3")
MODULE = "osgeo_utils.samples.validate_gpkg"


def require_validator() -> None:
    """Skip (fail on CI) when the system python has no GDAL validator."""
    found = SYSTEM_PYTHON.exists() and subprocess.run(
        [str(SYSTEM_PYTHON), "-c", f"import {MODULE}"], capture_output=True, check=False
    ).returncode == 0
    if not found:
        message = f"GDAL's GeoPackage validator needs {SYSTEM_PYTHON} with python3-gdal (bash scripts/system-deps.sh)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def validate(path: Path) -> str:
    """Run the validator on ``path``; returns its output, and fails the test with it when the file is invalid."""
    require_validator()
    # the validator reads the header from the file itself: fold any WAL in first
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROJ_", "GDAL_"))}
    result = subprocess.run([str(SYSTEM_PYTHON), "-m", MODULE, str(path)], capture_output=True, text=True, env=env, check=False)
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0, f"validate_gpkg {path.name}: {output}"
    return output
