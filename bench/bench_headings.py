"""Headings only outside code: how the heading detection reads the shared corpora, as they are and with every code
fence removed (code that lost its fence, as pasted or converted pages have it).

    python -m bench.bench_headings

For every Markdown page of ``../shared/data/corpora`` (front matter removed, as the pipeline reads it) it compares
fence-only detection (what the chunker did before) with the current one (``markdown_structure``, which also knows
unfenced code):

- as they are: how many headings the current detection no longer takes for headings (real headings lost);
- fences removed: of the ``#`` lines that were code comments inside a fence, how many still become headings, and
  how many of the real headings stay; and the share of the pages' non-blank lines filed under a wrong section
  heading (the heading path each line had with its fences).
"""

from __future__ import annotations

import json

from bench.common import CORPORA_DIR, print_machine, write_result
from tenant_rag.documents import PageFormatError, split_front_matter
from tenant_rag.markdown_structure import _FenceTracker, _heading, _headings

Heading = tuple[int, str] | None


def fence_only(lines: list[str]) -> list[Heading]:
    fence = _FenceTracker()
    return [None if fence.feed(line) else _heading(line) for line in lines]


def line_paths(lines: list[str], headings: list[Heading]) -> list[tuple[str, ...]]:
    """The heading path each line is filed under."""
    stack: list[tuple[int, str]] = []
    paths = []
    for heading in headings:
        if heading is not None:
            while stack and stack[-1][0] >= heading[0]:
                stack.pop()
            stack.append(heading)
        paths.append(tuple(title for _, title in stack if title))
    return paths


def page_bodies() -> list[tuple[str, str]]:
    bodies = []
    for manifest in sorted(CORPORA_DIR.glob("*/manifest.jsonl")):
        for line in manifest.read_text().splitlines():
            path = manifest.parent / json.loads(line)["path"]
            if path.suffix != ".md" or not path.is_file():
                continue
            text = path.read_text(errors="replace")
            try:
                body = split_front_matter(text)[1]
            except PageFormatError:
                body = text
            bodies.append((f"{manifest.parent.name}/{path.relative_to(manifest.parent)}", body))
    return bodies


def unfenced(lines: list[str]) -> tuple[list[str], list[int], list[bool]]:
    """The lines without their fence lines, each kept line's index in ``lines``, and whether it was fenced code."""
    fence = _FenceTracker()
    kept, origin, was_code = [], [], []
    for index, line in enumerate(lines):
        inside_before = fence.inside
        in_fence = fence.feed(line)
        is_fence_line = in_fence and (not inside_before or not fence.inside)
        if is_fence_line:
            continue
        kept.append(line)
        origin.append(index)
        was_code.append(in_fence)
    return kept, origin, was_code


def measure() -> dict[str, int]:
    figures = dict.fromkeys(
        ("pages", "headings", "lost_as_is", "code_hash_lines", "old_code_headings", "new_code_headings",
         "real_kept_old", "real_kept_new", "lines", "wrong_path_old", "wrong_path_new", "pages_changed_new"),
        0,
    )  # fmt: skip
    for _, body in page_bodies():
        lines = body.splitlines(keepends=True)
        truth = fence_only(lines)
        figures["pages"] += 1
        figures["headings"] += sum(h is not None for h in truth)
        figures["lost_as_is"] += sum(a is not None and b is None for a, b in zip(truth, _headings(lines), strict=True))
        true_paths = line_paths(lines, truth)
        kept, origin, was_code = unfenced(lines)
        old, new = fence_only(kept), _headings(kept)
        old_paths, new_paths = line_paths(kept, old), line_paths(kept, new)
        changed = False
        for i, line in enumerate(kept):
            if was_code[i] and _heading(line) is not None:
                figures["code_hash_lines"] += 1
                figures["old_code_headings"] += old[i] is not None
                figures["new_code_headings"] += new[i] is not None
            if truth[origin[i]] is not None:
                figures["real_kept_old"] += old[i] is not None
                figures["real_kept_new"] += new[i] is not None
            if line.strip():
                figures["lines"] += 1
                figures["wrong_path_old"] += old_paths[i] != true_paths[origin[i]]
                figures["wrong_path_new"] += new_paths[i] != true_paths[origin[i]]
                changed = changed or new_paths[i] != true_paths[origin[i]]
        figures["pages_changed_new"] += changed
    return figures


def main() -> None:
    print_machine()
    f = measure()
    rows = [
        ["corpora as they are: real headings lost", f["headings"], 0, f["lost_as_is"]],
        ["fences removed: code `#` lines read as headings", f["code_hash_lines"], f["old_code_headings"],
         f["new_code_headings"]],
        ["fences removed: real headings kept", f["headings"], f["real_kept_old"], f["real_kept_new"]],
        ["fences removed: lines under a wrong heading", f["lines"], f["wrong_path_old"], f["wrong_path_new"]],
    ]  # fmt: skip
    write_result(
        "headings",
        "Headings only outside code: fence-only detection vs. fence- and code-aware detection",
        figures=f,
        headers=["measure", "of", "fence-only (before)", "code-aware (now)"],
        rows=rows,
        notes=[
            f"{f['pages']} Markdown pages of ../shared/data/corpora, front matter removed as the pipeline does",
            "fences removed: every fence line dropped, the code kept (what a lost fence looks like); the truth is the "
            "fence-aware reading of the original page",
            f"pages with any line under a wrong heading after fence removal (code-aware): {f['pages_changed_new']}",
        ],
    )


if __name__ == "__main__":
    main()
