"""Where a ``source: directory`` customer's Markdown tree is, refusing folders that belong to another customer."""

from __future__ import annotations

import os
from pathlib import Path

from tenant_rag.config import CONFIG_FILE
from tenant_rag.errors import ConfigError


def directory_source(customer_dir: Path, path: str) -> Path:
    """The real folder ``export.path`` names (relative paths are from the customer's folder).

    Refused with a ``ConfigError`` naming the customer, file and field: a folder that does not exist, and one inside
    the customers folder but outside this customer's own (another customer's exports, keys or state, or the
    customers folder itself), however it is spelled (``..``, symlinks).
    """
    customer_dir = Path(customer_dir)
    config_path = customer_dir / CONFIG_FILE
    given = Path(path)
    folder = Path(os.path.realpath(given if given.is_absolute() else customer_dir / given))
    own = Path(os.path.realpath(customer_dir))
    customers = own.parent
    if not folder.is_dir():
        raise ConfigError(customer_dir.name, config_path, [("export.path", f"{path!r} is not a folder")])
    if folder.is_relative_to(customers) and not folder.is_relative_to(own):
        raise ConfigError(
            customer_dir.name,
            config_path,
            [("export.path", f"{path!r} is inside the customers folder but not this customer's own folder")],
        )
    return folder
