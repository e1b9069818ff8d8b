"""Long commands draw a progress bar on a terminal, and none with --quiet or into a pipe."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.jobs.detect_scenes import (
    AOI,
    dates,
    forest_stack,
    paint,
    pixel_box,
    prepare_store,
    write_stack,
)

# tqdm's bar: "detect plot: 100%|██████████| 16/16 [00:01<00:00, ...]"
BAR = re.compile(r"detect plot: +\d+%\|.*\| *(\d+)/(\d+) \[")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("progress")
    shape = (256, 256)
    days = dates(4, 4)
    stack = forest_stack(len(days), shape)
    paint(stack, slice(5, None), pixel_box(slice(40, 80), slice(40, 90), shape), [900, 1200, 1500, 2400, 3000, 2400], 5)
    write_stack(stack, days, tmp / "scenes")
    return prepare_store(tmp, tmp / "scenes", shape, days)


def _detect_args(store: Path, *extra: str) -> list[str]:
    days = dates(4, 4)
    return [
        sys.executable, "-m", "cli.main", *extra, "detect", "--aoi", AOI,
        "--baseline", f"{days[0]}/{days[3]}", "--monitor", f"{days[4]}/{days[-1]}", "--store", str(store),
    ]


def _env(store: Path) -> dict[str, str]:
    # windows of 64 px: 16 windows over the 256 px plot, so the bar has steps to show
    return {**os.environ, "ECOWATCH_DATA_DIR": str(store.parent), "ECOWATCH_WINDOW_PX": "64", "COLUMNS": "120"}


def run_in_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run ``args`` with stdout and stderr on a pseudo-terminal; (exit status, what it printed)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the terminal's other end closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=300), b"".join(chunks).decode("utf-8", "replace")


def test_detect_on_a_terminal_draws_a_bar_to_the_last_window(store: Path) -> None:
    status, out = run_in_terminal(_detect_args(store), _env(store))
    assert status == 0, out
    bars = BAR.findall(out)
    assert bars, out
    done, total = bars[-1]
    assert int(total) >= 4 and done == total, out
    assert "detect --aoi plot:" in out  # the summary still prints, after the bar


def test_quiet_on_a_terminal_draws_no_bar(store: Path) -> None:
    status, out = run_in_terminal(_detect_args(store, "--quiet"), _env(store))
    assert status == 0, out
    assert not BAR.search(out) and "%|" not in out, out
    assert "INFO" not in out
    assert "detect --aoi plot:" in out


def test_into_a_pipe_no_bar_but_log_lines(store: Path) -> None:
    proc = subprocess.run(_detect_args(store), env=_env(store), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "%|" not in proc.stderr and "\r" not in proc.stderr
    assert re.search(r"detect: \d+ of \d+ windows", proc.stderr), proc.stderr
    assert "detect --aoi plot:" in proc.stdout


def test_runs_show_each_duration(store: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "cli.main", "runs", "--store", str(store)], env=_env(store),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if "completed" in line]
    assert len(lines) >= 2  # the AOI and the imagery ingest of the fixture
    assert all(re.search(r"completed +\d+\.\d s  ", line) for line in lines), proc.stdout
