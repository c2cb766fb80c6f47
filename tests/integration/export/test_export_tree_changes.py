"""The export tree mirrors Confluence: deletions, moves, renames, collisions, hostile titles, scope, crashes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tenant_rag.config import CustomerConfig
from tenant_rag.documents import iter_page_files, read_page
from tenant_rag.export import export_customer
from tenant_rag_devtools.confluence_server import FakeConfluence
from tests.integration.export.conftest import CLOUD_CREDENTIALS, FAST, fetched_page_ids, tree


def _export(config: CustomerConfig, out: Path, **kwargs: object) -> dict:
    return export_customer(config, out, credentials=CLOUD_CREDENTIALS, retry_policy=FAST, **kwargs)  # type: ignore[arg-type]


def _files(out: Path) -> list[str]:
    return sorted(p.relative_to(out / "exports").as_posix() for p in iter_page_files(out / "exports"))


def test_deleted_pages_and_empty_folders_go(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    fake.add_space("ENG", "Engineering")
    home = fake.add_page("ENG", "Home", "<p>h</p>")
    guides = fake.add_page("ENG", "Guides", "<p>g</p>", parent_id=home)
    leaf = fake.add_page("ENG", "Leaf", "<p>l</p>", parent_id=guides)
    config = config_for(served, ["ENG"])
    _export(config, tmp_path)
    fake.delete_page(leaf)
    stats = _export(config, tmp_path)
    assert stats["pages_deleted"] == 1
    assert _files(tmp_path) == ["ENG/Home.md", "ENG/Home/Guides.md"]
    assert not (tmp_path / "exports/ENG/Home/Guides").exists()  # its folder is empty, so it is pruned


def test_deleting_a_parent_moves_its_children_up(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    fake.add_space("ENG", "Engineering")
    home = fake.add_page("ENG", "Home", "<p>h</p>")
    guides = fake.add_page("ENG", "Guides", "<p>g</p>", parent_id=home)
    leaf = fake.add_page("ENG", "Leaf", "<p>leaf body</p>", parent_id=guides)
    config = config_for(served, ["ENG"])
    _export(config, tmp_path)
    fake.delete_page(guides)
    fake.request_log.clear()
    stats = _export(config, tmp_path)
    assert (stats["pages_deleted"], stats["pages_moved"], stats["pages_fetched"]) == (1, 1, 0)
    assert _files(tmp_path) == ["ENG/Home.md", "ENG/Home/Leaf.md"]
    moved = read_page(tmp_path / "exports/ENG/Home/Leaf.md", tmp_path / "exports")
    assert moved.page_id == leaf and moved.breadcrumbs == ("Home",) and "leaf body" in moved.body
    assert fetched_page_ids(fake) == []  # moved without downloading the body again


def test_ancestor_rename_moves_descendants_and_fixes_links(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    fake.add_space("ENG", "Engineering")
    home = fake.add_page("ENG", "Home", '<p>see <ac:link><ri:page ri:content-title="Deep" /></ac:link></p>')
    guides = fake.add_page("ENG", "Guides", "<p>g</p>", parent_id=home)
    deep = fake.add_page("ENG", "Deep", "<p>d</p>", parent_id=guides)
    config = config_for(served, ["ENG"])
    _export(config, tmp_path)
    fake.update_page(guides, title="How-to guides")
    fake.request_log.clear()
    stats = _export(config, tmp_path)
    assert _files(tmp_path) == ["ENG/Home.md", "ENG/Home/How-to guides.md", "ENG/Home/How-to guides/Deep.md"]
    assert stats["pages_moved"] == 2  # the renamed page and its child
    assert sorted(fetched_page_ids(fake)) == sorted([home, guides])  # renamed page + the page linking below it
    assert read_page(tmp_path / "exports/ENG/Home/How-to guides/Deep.md", tmp_path / "exports").breadcrumbs == (
        "Home",
        "How-to guides",
    )
    assert "[Deep](Home/How-to%20guides/Deep.md)" in (tmp_path / "exports/ENG/Home.md").read_text()
    assert deep in {read_page(p, tmp_path / "exports").page_id for p in iter_page_files(tmp_path / "exports")}


def test_sibling_title_swap_keeps_every_body_with_its_page(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    fake.add_space("ENG", "Engineering")
    first = fake.add_page("ENG", "First", "<p>body of page one</p>")
    second = fake.add_page("ENG", "Second", "<p>body of page two</p>")
    kid = fake.add_page("ENG", "Kid", "<p>kid body</p>", parent_id=second)
    config = config_for(served, ["ENG"])
    _export(config, tmp_path)
    fake.update_page(first, title="tmp")
    fake.update_page(second, title="First")
    fake.update_page(first, title="Second")
    _export(config, tmp_path)
    by_path = {
        p.relative_to(tmp_path / "exports").as_posix(): read_page(p, tmp_path / "exports")
        for p in iter_page_files(tmp_path / "exports")
    }
    assert by_path["ENG/Second.md"].page_id == first and "page one" in by_path["ENG/Second.md"].body
    assert by_path["ENG/First.md"].page_id == second and "page two" in by_path["ENG/First.md"].body
    assert by_path["ENG/First/Kid.md"].page_id == kid and by_path["ENG/First/Kid.md"].breadcrumbs == ("First",)
    assert len(by_path) == 3


def test_colliding_and_hostile_titles_stay_inside_and_apart(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    fake.add_space("ENG", "Engineering")
    titles = ["A/B", "A:B", "../../../etc/passwd", "..", ".hidden", "CON", "x" * 400, "Ünïcødé 日本", "a_b"]
    ids = [fake.add_page("ENG", title, f"<p>{index}</p>") for index, title in enumerate(titles)]
    _export(config_for(served, ["ENG"]), tmp_path)
    files = _files(tmp_path)
    assert len(files) == len(titles)
    for path in (tmp_path / "exports").rglob("*"):
        assert path.resolve().is_relative_to((tmp_path / "exports/ENG").resolve())
    assert "ENG/A_B.md" in files and f"ENG/A_B ({ids[1]}).md" in files and f"ENG/a_b ({ids[8]}).md" in files
    assert "ENG/Ünïcødé 日本.md" in files and "ENG/_CON.md" in files
    assert not (tmp_path / "etc").exists() and not any(part.startswith(".") for f in files for part in f.split("/"))


def test_label_and_ancestor_scope(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    fake.add_space("ENG", "Engineering")
    home = fake.add_page("ENG", "Home", "<p>h</p>", labels=["public"])
    team = fake.add_page("ENG", "Team", "<p>t</p>", parent_id=home, labels=["public"])
    fake.add_page("ENG", "Secret", "<p>s</p>", parent_id=team, labels=["public", "internal"])
    fake.add_page("ENG", "Elsewhere", "<p>e</p>", labels=["public"])
    labelled = _export(
        config_for(served, ["ENG"], include_labels=["public"], exclude_labels=["internal"]), tmp_path / "labels"
    )
    assert _files(tmp_path / "labels") == ["ENG/Elsewhere.md", "ENG/Home.md", "ENG/Home/Team.md"]
    assert labelled["pages_listed"] == 3
    _export(config_for(served, ["ENG"], ancestor_id=team), tmp_path / "subtree")
    assert _files(tmp_path / "subtree") == ["ENG/Home/Team.md", "ENG/Home/Team/Secret.md"]
    _export(config_for(served, ["ENG"], cql='label = "internal"'), tmp_path / "cql")
    assert _files(tmp_path / "cql") == ["ENG/Home/Team/Secret.md"]
    # a label removed from scope later: the page leaves the export
    fake.update_page(team, labels=["internal"])
    _export(config_for(served, ["ENG"], include_labels=["public"], exclude_labels=["internal"]), tmp_path / "labels")
    assert _files(tmp_path / "labels") == ["ENG/Elsewhere.md", "ENG/Home.md"]


class _Crash(Exception):
    pass


def test_a_crashed_export_leaves_whole_files_and_the_rerun_converges(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    fake.add_space("ENG", "Engineering")
    parent = None
    for number in range(40):
        parent = fake.add_page("ENG", f"P{number}", f"<p>{number}</p>", parent_id=parent if number % 4 else None)
    config = config_for(served, ["ENG"])

    def crash(done: int, total: int) -> None:
        if done == 17:
            raise _Crash("killed mid-export")

    with pytest.raises(_Crash):
        _export(config, tmp_path / "crashed", progress=crash, workers=2)
    partial = tree(tmp_path / "crashed")
    assert 0 < len(partial) < 40
    for text in partial.values():  # atomic writes: every file present is complete
        assert text.startswith("---\n") and text.rstrip().endswith(tuple("0123456789"))
    _export(config, tmp_path / "crashed")
    _export(config, tmp_path / "clean")
    assert tree(tmp_path / "crashed") == tree(tmp_path / "clean")
