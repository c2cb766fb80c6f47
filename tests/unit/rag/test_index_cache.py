"""The index cache mirror is written page by page: valid JSON of the documented shape, whatever the page ids."""

from __future__ import annotations

import json
from pathlib import Path

from tenant_rag.index_cache import CACHE_NOTE, cache_path, read_index_cache, write_index_cache
from tenant_rag.store.reader import IndexedPage


def _page(page_id: str, rel_path: str, chunks: int) -> IndexedPage:
    return IndexedPage(page_id, "ENG", rel_path, 3, f"hash-{page_id}", "meta", chunks)


def test_streamed_cache_is_the_documented_json(tmp_path: Path) -> None:
    pages = [_page("1", 'ENG/a "quoted" title.md', 2), _page("p\u00e9-2", "ENG/\u00fcber\nline.md", 0)]
    path = write_index_cache(tmp_path, iter(pages), generation=4, model_id="wordllama-l2-256", dimensions=256)
    assert path == cache_path(tmp_path)
    cache = json.loads(path.read_text(encoding="utf-8"))
    assert set(cache) == {"note", "written_at", "generation", "model", "dimensions", "pages"}
    assert (cache["note"], cache["generation"], cache["model"], cache["dimensions"]) == (
        CACHE_NOTE,
        4,
        "wordllama-l2-256",
        256,
    )
    assert cache["pages"] == {
        "1": {"version": 3, "content_hash": "hash-1", "chunks": 2, "space_key": "ENG", "rel_path": pages[0].rel_path},
        "p\u00e9-2": {
            "version": 3,
            "content_hash": "hash-p\u00e9-2",
            "chunks": 0,
            "space_key": "ENG",
            "rel_path": pages[1].rel_path,
        },
    }
    assert read_index_cache(tmp_path) == cache


def test_an_empty_store_writes_an_empty_page_map_over_the_old_cache(tmp_path: Path) -> None:
    write_index_cache(tmp_path, [_page("old", "ENG/old.md", 1)], generation=1, model_id="m", dimensions=8)
    write_index_cache(tmp_path, (), generation=None, model_id=None, dimensions=None)
    cache = read_index_cache(tmp_path)
    assert cache is not None
    assert cache["pages"] == {} and cache["generation"] is None and cache["model"] is None
    assert [p.name for p in cache_path(tmp_path).parent.iterdir()] == ["index_cache.json"]  # no temp file left
