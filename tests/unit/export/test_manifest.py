"""The export manifest: atomic round trip, and recovery from the export tree when it is lost or corrupt."""

from __future__ import annotations

import json
from pathlib import Path

from tenant_rag.documents import render_page
from tenant_rag.export.manifest import CONVERTER_VERSION, ExportManifest, ManifestEntry


def test_round_trip_is_atomic_and_sorted(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "export_manifest.json"
    manifest = ExportManifest(path)
    manifest.space("ENG")["2"] = ManifestEntry(
        "2", 3, "ENG/B.md", "2026-01-01T00:00:00.000Z", "B", "1", ["A"], ["x"], [["ENG", "A"]]
    )
    manifest.space("ENG")["1"] = ManifestEntry("1", 1, "ENG/A.md", title="A")
    manifest.save()
    assert [p.name for p in path.parent.iterdir()] == ["export_manifest.json"]  # no temp file left behind
    raw = json.loads(path.read_text())
    assert raw["format"] == 1 and raw["converter_version"] == CONVERTER_VERSION
    assert list(raw["spaces"]["ENG"]) == ["1", "2"]
    loaded = ExportManifest.load(path, tmp_path / "exports")
    assert loaded.spaces == manifest.spaces


def _write_page(root: Path, rel: str, meta: dict[str, object]) -> None:
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_page(meta, "body\n"), encoding="utf-8")


def test_lost_or_corrupt_manifest_is_rebuilt_from_front_matter(tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    _write_page(
        exports,
        "ENG/Home.md",
        {
            "page_id": "1",
            "title": "Home",
            "space_key": "ENG",
            "version": 4,
            "last_modified": "2026-02-01T10:00:00.000Z",
            "breadcrumbs": [],
            "labels": ["a"],
        },
    )
    _write_page(
        exports,
        "ENG/Home/Child.md",
        {"page_id": "2", "title": "Child", "space_key": "ENG", "version": 1, "breadcrumbs": ["Home"], "parent_id": "1"},
    )
    (exports / "ENG" / "plain.md").write_text("# no front matter\n", encoding="utf-8")
    path = tmp_path / "cache" / "export_manifest.json"
    for content in (None, "{not json", json.dumps({"format": 99, "spaces": {}})):
        if content is not None:
            path.parent.mkdir(exist_ok=True)
            path.write_text(content, encoding="utf-8")
        manifest = ExportManifest.load(path, exports)
        assert set(manifest.space("ENG")) == {"1", "2"}
        child = manifest.space("ENG")["2"]
        assert (child.version, child.path, child.parent_id, child.breadcrumbs) == (
            1,
            "ENG/Home/Child.md",
            "1",
            ["Home"],
        )
        assert manifest.space("ENG")["1"].labels == ["a"]


def test_empty_when_nothing_exists(tmp_path: Path) -> None:
    manifest = ExportManifest.load(tmp_path / "cache" / "m.json", tmp_path / "exports")
    assert manifest.spaces == {}
