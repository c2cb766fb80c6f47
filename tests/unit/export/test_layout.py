"""File layout: safe names, the page tree as folders, sibling collisions, and no way out of the export folder."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenant_rag.export.errors import ExportError
from tenant_rag.export.layout import MAX_NAME_BYTES, TreeNode, breadcrumbs, inside, plan_paths, safe_name


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Deployment Runbook", "Deployment Runbook"),
        ("../../etc/passwd", "__.._etc_passwd"),
        ('a/b\\c:d*e?f"g<h>i|j', "a_b_c_d_e_f_g_h_i_j"),
        (".env files", "_env files"),
        ("..", "untitled"),
        ("", "untitled"),
        ("   ", "untitled"),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("notes.md", "notes.md_"),
        ("trailing dots...", "trailing dots"),
        ("tab\tand\nnewline", "tab and newline"),
        ("bidi\u202eevil\u200b", "bidievil"),
        ("Über Straße 日本語 🚀", "Über Straße 日本語 🚀"),
    ],
)
def test_safe_name(title: str, expected: str) -> None:
    assert safe_name(title) == expected


def test_safe_name_is_nfc_and_bounded_in_bytes() -> None:
    assert safe_name("Cafe\u0301") == unicodedata.normalize("NFC", "Café")
    long = safe_name("日本" * 200)
    assert len(long.encode("utf-8")) <= MAX_NAME_BYTES
    assert long.startswith("日本")


def test_tree_becomes_folders() -> None:
    nodes = [
        TreeNode("1", "Home", None),
        TreeNode("2", "Runbooks", "1"),
        TreeNode("3", "Deploy", "2"),
        TreeNode("4", "Orphan", "999"),
    ]
    assert plan_paths(nodes) == {
        "1": "Home.md",
        "2": "Home/Runbooks.md",
        "3": "Home/Runbooks/Deploy.md",
        "4": "Orphan.md",
    }


def test_sibling_collisions_are_told_apart_by_page_id_lowest_id_keeps_the_name() -> None:
    nodes = [
        TreeNode("30", "A/B", None),
        TreeNode("10", "A:B", None),
        TreeNode("20", "a_b", None),
        TreeNode("5", "Other", None),
        TreeNode("6", "A_B", "5"),
    ]
    paths = plan_paths(nodes)
    assert paths["10"] == "A_B.md"
    assert paths["20"] == "a_b (20).md"
    assert paths["30"] == "A_B (30).md"
    assert paths["6"] == "Other/A_B.md"  # a different parent: no collision


def test_a_newcomer_does_not_move_the_existing_page() -> None:
    before = plan_paths([TreeNode("100", "Plan", None)])
    after = plan_paths([TreeNode("100", "Plan", None), TreeNode("200", "plan", None)])
    assert before["100"] == after["100"] == "Plan.md"
    assert after["200"] == "plan (200).md"


def test_cycles_and_deep_trees_do_not_break_planning() -> None:
    cycle = plan_paths([TreeNode("1", "A", "2"), TreeNode("2", "B", "1")])
    assert set(cycle) == {"1", "2"}
    deep = [TreeNode(str(i), f"level {i}", str(i - 1) if i else None) for i in range(3000)]
    paths = plan_paths(deep)
    assert paths["2999"].count("/") == 2999


def test_breadcrumbs_are_root_first_and_cycle_safe() -> None:
    titles = {"1": "Home", "2": "Ops", "3": "Deploy"}
    assert breadcrumbs("3", titles, {"3": "2", "2": "1", "1": None}) == ["Home", "Ops"]
    assert breadcrumbs("1", titles, {"1": "2", "2": "1"}) == ["Ops"]


@pytest.mark.parametrize("bad", ["../x.md", "/etc/passwd", "a/../../b.md", "a//b.md", "./a.md", "a/\x00.md"])
def test_inside_refuses_paths_that_leave_the_root(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ExportError):
        inside(tmp_path, bad)


def test_inside_refuses_symlinks_out_of_the_root(tmp_path: Path) -> None:
    root = tmp_path / "exports"
    root.mkdir()
    (root / "ENG").symlink_to(tmp_path)
    with pytest.raises(ExportError):
        inside(root, "ENG/escaped.md")


HOSTILE = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            "..",
            ".",
            "../..",
            "/",
            "\\..\\..",
            "~",
            "CON",
            "aux.md",
            ".md",
            "a/../../../etc",
            "\x00",
            "..\u2215..",
            "ＣＯＮ",
            " . ",
            "/" * 300,
            "é" * 200,
        ]
    ),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(HOSTILE, st.integers(0, 12)), min_size=1, max_size=12))
def test_hostile_titles_never_escape_and_files_can_be_written(
    tmp_path_factory: pytest.TempPathFactory, pages: list[tuple[str, int]]
) -> None:
    root = tmp_path_factory.mktemp("exports")
    nodes = [
        TreeNode(str(index + 1), title, str(parent) if 0 < parent <= len(pages) else None)
        for index, (title, parent) in enumerate(pages)
    ]
    paths = plan_paths(nodes)
    assert len({p.casefold() for p in paths.values()}) == len(paths)  # unique even on case-insensitive disks
    for rel in paths.values():
        for part in rel.split("/"):
            assert part not in ("", ".", "..") and not part.startswith(".")
            assert len(part.encode("utf-8")) <= MAX_NAME_BYTES + 40
        target = inside(root, rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("x", encoding="utf-8")
        assert target.resolve().is_relative_to(root.resolve())
    assert len(list(root.rglob("*.md"))) == len(paths)
