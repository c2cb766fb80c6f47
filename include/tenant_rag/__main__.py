"""``python -m tenant_rag``."""

from __future__ import annotations

import sys

from tenant_rag.cli import main

sys.exit(main())
