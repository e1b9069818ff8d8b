"""The command line: help for every command, usage errors exit 2 with one line, failures exit 1."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cli.main import cli


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name, cmd in group.commands.items():
        out.append((*prefix, name))
        if isinstance(cmd, click.Group):
            out += all_commands(cmd, (*prefix, name))
    return out


COMMANDS = all_commands(cli)


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), env=env or {})


def test_top_help_lists_commands():
    result = invoke("--help")
    assert result.exit_code == 0
    for name in ("ingest", "detect", "analyse", "export", "runs", "demo"):
        assert name in result.output


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command):
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    assert "Usage: ecowatch" in result.output or "Usage: cli" in result.output
    doc = cli
    for part in command:
        doc = doc.commands[part]  # type: ignore[attr-defined]
    assert doc.help and len(doc.help) > 20


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["detect", "--aoi", "x", "--baseline", "2023-01-01", "--monitor", "2024-01-01/2024-02-01"], "expected FROM/TO"),
        (["detect", "--aoi", "x", "--baseline", "2023-02-01/2023-01-01", "--monitor", "2024-01-01/2024-02-01"], "ends before it starts"),
        (["ingest", "boundaries", "forests", "f.geojson"], "'forests' is not one of"),
        (["ingest", "imagery", "--provider", "local", "--aoi", "a", "--from", "2024-01-01", "--to", "2024-02-01"], "needs --path"),
        (["ingest", "imagery", "--provider", "local", "--path", ".", "--aoi", "a", "--from", "2024-13-01", "--to", "2024-02-01"], "not a date"),
        (["export", "clearings", "--bbox", "1,2,3"], "bbox needs 4 comma-separated numbers (west,south,east,north), got 3 parts"),
        (["export", "clearings", "--where", "colour=red"], "expected FIELD=VALUE"),
        (["nosuch"], "No such command"),
    ],
)
def test_bad_arguments_exit_2_with_a_reason(args, needle, tmp_path: Path):
    result = invoke(*args, "--store", str(tmp_path / "s.gpkg")) if args[0] != "nosuch" else invoke(*args)
    assert result.exit_code == 2, result.output
    assert needle in result.output


def test_bad_setting_is_a_usage_error():
    result = invoke("runs", env={"ECOWATCH_MMU_HA": "big"})
    assert result.exit_code == 2
    assert "ECOWATCH_MMU_HA" in result.output


def test_failed_run_exits_1_and_names_the_problem(tmp_path: Path):
    store = tmp_path / "s.gpkg"
    result = invoke("ingest", "boundaries", "aoi", str(tmp_path / "missing.geojson"), "--store", str(store))
    assert result.exit_code == 1
    assert "missing.geojson: no such file" in result.output
    result = invoke("detect", "--aoi", "nowhere", "--baseline", "2023-01-01/2023-12-31", "--monitor", "2024-01-01/2024-02-01", "--store", str(store))
    assert result.exit_code == 1
    assert "no AOI named 'nowhere'" in result.output
    result = invoke("runs", "--store", str(store))
    assert result.exit_code == 0
    statuses = [line.split()[1] for line in result.output.splitlines()]
    assert statuses == ["failed", "failed"]
