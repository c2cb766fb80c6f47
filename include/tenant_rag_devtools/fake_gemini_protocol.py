"""The Gemini embedding API as the local stand-in speaks it: the methods' path, the checks on a request, the error
body, and the stand-in's vectors.

Vectors are deterministic feature-hashed bags of words, scaled so they are *not* unit length (as the real service
returns them for reduced dimensions): equal texts give equal vectors, texts sharing words give similar ones.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

DEFAULT_DIMENSIONS = 3072
EMBED_PATH = re.compile(
    r"^/(?P<version>v1beta|v1)/models/(?P<model>[A-Za-z0-9._-]+):(?P<method>batchEmbedContents|embedContent)$"
)
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_WORD = re.compile(r"\w+")


def fake_vector(text: str, dimensions: int, scale: float = 3.0) -> list[float]:
    """Deterministic signed feature hashing of the lower-cased words of ``text``; never the zero vector."""
    values = [0.0] * dimensions
    for word in _WORD.findall(text.lower()) or [""]:
        digest = int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "big")
        values[digest % dimensions] += scale if digest >> 63 else -scale
    if not any(values):
        values[0] = scale
    return values


def check_item(item: Any, model: str) -> str | None:
    """What is wrong with one embedding request for ``model``, or None."""
    if not isinstance(item, dict):
        return "must be an object"
    if "model" in item and item["model"] != f"models/{model}":
        return f"model {item['model']!r} does not match the URL's models/{model}"
    parts = (item.get("content") or {}).get("parts")
    if not isinstance(parts, list) or not parts or not all(isinstance(p, dict) and "text" in p for p in parts):
        return "content.parts must be a non-empty list of text parts"
    dims = item.get("outputDimensionality")
    if dims is not None and not (isinstance(dims, int) and 1 <= dims <= DEFAULT_DIMENSIONS):
        return f"outputDimensionality must be between 1 and {DEFAULT_DIMENSIONS}"
    return None


def describe(items: Any) -> tuple[list[str], list[str | None], list[int | None]]:
    """The texts, task types and output dimensions of the requests ``items`` (malformed ones skipped)."""
    texts: list[str] = []
    task_types: list[str | None] = []
    dims: list[int | None] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        parts = (item.get("content") or {}).get("parts") or []
        texts.append("".join(str(p.get("text", "")) for p in parts if isinstance(p, dict)))
        task_types.append(item.get("taskType"))
        dims.append(item.get("outputDimensionality"))
    return texts, task_types, dims


def api_error(status: int, message: str) -> tuple[int, dict[str, Any]]:
    """An error answer as Google APIs shape it."""
    return status, {"error": {"code": status, "message": message, "status": STATUS_NAMES.get(status, "UNKNOWN")}}
