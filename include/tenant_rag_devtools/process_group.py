"""Stopping the Airflow services started in one process group (``make ui`` and the test stacks)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterable


def group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` still exists (a task process the services forked included)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_group(pgid: int, processes: Iterable[subprocess.Popen[bytes]], grace: float) -> None:
    """SIGTERM the whole group, then SIGKILL what is left after ``grace`` seconds; reap the group's leaders."""
    processes = list(processes)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and (any(p.poll() is None for p in processes) or group_alive(pgid)):
            time.sleep(0.2)
        if all(p.poll() is not None for p in processes) and not group_alive(pgid):
            break
    for proc in processes:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
