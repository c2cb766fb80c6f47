"""Parent/child chunking: headings, fences, tables, ids, sizes, overlap, and linear behaviour on large input."""

from __future__ import annotations

import hashlib
import itertools
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_text_splitters import RecursiveCharacterTextSplitter

from tenant_rag.chunking import (
    ChildChunk,
    MarkdownBlockSplitter,
    ParentChunk,
    build_embed_text,
    chunk_page,
)
from tenant_rag.config import RAGConfig
from tenant_rag.documents import ExportedPage
from tenant_rag.markdown_structure import markdown_blocks, split_sections

WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "install",
    "configure",
    "server",
    "client",
    "database",
    "index",
    "query",
    "vector",
    "token",
    "cache",
]


def page(body: str, *, title: str = "Guide", page_id: str = "100") -> ExportedPage:
    return ExportedPage(page_id=page_id, space_key="ENG", title=title, rel_path="ENG/guide.md", body=body)


def prose(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)) + "."


def generated_body(size: int, seed: int) -> str:
    """Markdown of about ``size`` characters: headings, paragraphs, fenced code with '#' lines, tables."""
    rng = random.Random(seed)
    parts: list[str] = []
    total = 0
    index = 0
    while total < size:
        index += 1
        kind = index % 6
        if kind == 0:
            part = f"{'#' * rng.randint(1, 3)} Section {index}\n\n"
        elif kind == 2:
            lines = "\n".join(f"value_{n} = {n}  # set {n}" for n in range(rng.randint(3, 25)))
            part = f"```python\n# not a heading {index}\n{lines}\n```\n\n"
        elif kind == 4:
            rows = "".join(f"| {rng.choice(WORDS)} | {n} |\n" for n in range(rng.randint(2, 15)))
            part = f"| name | value |\n|---|---|\n{rows}\n"
        else:
            part = prose(rng, rng.randint(20, 180)) + "\n\n"
        parts.append(part)
        total += len(part)
    return "".join(parts)


def assert_well_formed(parents: list[ParentChunk], children: list[ChildChunk], rag: RAGConfig) -> None:
    by_id = {parent.parent_id: parent for parent in parents}
    assert len(by_id) == len(parents)
    assert [parent.ordinal for parent in parents] == list(range(len(parents)))
    assert all(len(parent.text) <= rag.parent_chunk_size for parent in parents)
    assert all(0 < len(child.text) <= rag.chunk_size for child in children)
    assert len({child.chunk_id for child in children}) == len(children)
    for parent in parents:
        own = [child for child in children if child.parent_id == parent.parent_id]
        assert own, f"parent {parent.parent_id} has no children"
        assert [child.ordinal for child in own] == list(range(len(own)))
        assert all(child.text in parent.text for child in own)
    assert all(child.parent_id in by_id for child in children)


def test_sections_follow_atx_headings_and_their_nesting() -> None:
    body = "Intro.\n\n# Guide\nStart.\n## Install\nSteps.\n### Linux\napt.\n## Usage\nRun it.\n# Appendix\nMore.\n"
    sections = split_sections(body)
    assert [s.heading_path for s in sections] == [
        (),
        ("Guide",),
        ("Guide", "Install"),
        ("Guide", "Install", "Linux"),
        ("Guide", "Usage"),
        ("Appendix",),
    ]
    assert sections[3].text == "### Linux\napt."


def test_heading_syntax_details() -> None:
    body = "#hashtag is text\n    # indented code\n####### seven\n## Closed ##\ntext\n   ### Three spaces #\nmore\n"
    sections = split_sections(body)
    assert [s.heading_path for s in sections] == [(), ("Closed",), ("Closed", "Three spaces")]
    assert sections[0].text.startswith("#hashtag")


def test_hash_lines_inside_fences_are_code_not_headings() -> None:
    body = (
        "# Setup\n\n```bash\n# install the package\npip install tool\n## still code\n```\n\n"
        "~~~~\n# tilde fence\n~~~\n# still inside: a shorter fence does not close\n~~~~\n\n"
        "````md\n```\n# nested backticks\n```\n````\nafter\n\n## Next\nend\n"
    )
    sections = split_sections(body)
    assert [s.heading_path for s in sections] == [("Setup",), ("Setup", "Next")]
    _, children = chunk_page(page(body), RAGConfig())
    assert [c.heading_path for c in children] == [("Setup",), ("Setup", "Next")]
    assert "# still inside: a shorter fence does not close" in children[0].text


def test_heading_without_text_joins_the_following_section() -> None:
    sections = split_sections("# Guide\n\n## Install\nSteps here.\n")
    assert len(sections) == 1
    assert sections[0].heading_path == ("Guide", "Install")
    assert sections[0].text == "# Guide\n\n## Install\nSteps here."


def test_markdown_blocks_concatenate_back_to_the_text() -> None:
    body = "para one\nline\n\n```\ncode\n\nmore code\n```\n| a | b |\n|---|---|\n\n| c |\ntext\n"
    blocks = markdown_blocks(body)
    assert "".join(text for _, text in blocks) == body
    assert [kind for kind, _ in blocks] == ["text", "fence", "table", "table", "text"]
    assert blocks[1][1] == "```\ncode\n\nmore code\n```\n"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab #|`~\n ")), max_size=400))
def test_blocks_and_sections_never_lose_text(body: str) -> None:
    assert "".join(text for _, text in markdown_blocks(body)) == body
    kept = "".join(section.text for section in split_sections(body))
    assert re.sub(r"\s", "", kept) == re.sub(r"\s", "", body)


def test_code_block_that_fits_stays_in_one_child() -> None:
    rng = random.Random(7)
    code = "```python\n" + "\n\n".join(f"def f{n}():\n    # step {n}\n    return {n}" for n in range(12)) + "\n```"
    assert 300 < len(code) < 600
    body = f"# API\n\n{prose(rng, 90)}\n\n{code}\n\n{prose(rng, 90)}\n"
    rag = RAGConfig(chunk_size=700, chunk_overlap=50, parent_chunk_size=5000)
    _, children = chunk_page(page(body), rag)
    assert len(children) >= 2
    assert sum(code in child.text for child in children) == 1
    assert all(child.text.count("```") in (0, 2) for child in children)


def test_table_that_fits_stays_whole_and_a_long_one_splits_between_rows() -> None:
    rng = random.Random(3)
    table = "| key | meaning |\n|---|---|\n" + "".join(f"| k{n} | {prose(rng, 4)} |\n" for n in range(15))
    assert len(table) < 800
    body = f"# Ref\n\n{prose(rng, 100)}\n\n{table}\n{prose(rng, 100)}\n"
    rag = RAGConfig(chunk_size=900, chunk_overlap=0, parent_chunk_size=10_000)
    _, children = chunk_page(page(body), rag)
    assert sum(table.strip() in child.text for child in children) == 1

    long_table = "| key | meaning |\n|---|---|\n" + "".join(f"| k{n} | {prose(rng, 6)} |\n" for n in range(80))
    _, children = chunk_page(page(f"# Ref\n\n{long_table}"), rag)
    table_children = [child for child in children if "| k" in child.text]
    assert len(table_children) >= 3
    for child in table_children:
        rows = [line for line in child.text.splitlines() if not line.startswith("#")]
        assert all(row.startswith("|") and row.endswith("|") for row in rows if row), child.text


def test_children_respect_sizes_and_overlap_from_config() -> None:
    text = prose(random.Random(11), 600)  # one long paragraph: split at sentence/word level
    rag = RAGConfig(chunk_size=200, chunk_overlap=60, parent_chunk_size=100_000)
    parents, children = chunk_page(page(text), rag)
    assert len(parents) == 1
    assert len(children) > 10
    assert_well_formed(parents, children, rag)
    overlaps = 0
    for before, after in itertools.pairwise(children):
        shared = max((n for n in range(1, 61) if before.text.endswith(after.text[:n])), default=0)
        assert shared <= 60
        overlaps += shared > 0
    assert overlaps >= len(children) // 2

    no_overlap = RAGConfig(chunk_size=200, chunk_overlap=0, parent_chunk_size=100_000)
    _, plain = chunk_page(page(text), no_overlap)
    assert len(plain) < len(children)
    assert sum(len(child.text) for child in plain) <= len(text)


def test_parents_pack_sections_up_to_the_parent_size() -> None:
    rng = random.Random(5)
    body = "".join(f"## Part {n}\n\n{prose(rng, 60)}\n\n" for n in range(30))
    rag = RAGConfig(chunk_size=300, chunk_overlap=30, parent_chunk_size=1500)
    parents, children = chunk_page(page(body), rag)
    assert len(parents) > 3
    assert_well_formed(parents, children, rag)
    assert all(parent.text.startswith("## Part") for parent in parents)
    # every section lands in exactly one parent, in page order
    order = [int(m) for parent in parents for m in re.findall(r"## Part (\d+)", parent.text)]
    assert order == list(range(30))


def test_oversized_section_is_split_into_several_parents() -> None:
    body = "## Huge\n\n" + "\n\n".join(prose(random.Random(n), 50) for n in range(120))
    rag = RAGConfig(chunk_size=500, chunk_overlap=50, parent_chunk_size=4000)
    parents, children = chunk_page(page(body), rag)
    assert len(parents) >= len(body) // 4000
    assert_well_formed(parents, children, rag)
    assert {child.heading_path for child in children} == {("Huge",)}


def test_ids_are_deterministic_and_positional() -> None:
    body = generated_body(20_000, seed=1)
    rag = RAGConfig(chunk_size=500, chunk_overlap=50, parent_chunk_size=3000)
    first = chunk_page(page(body), rag)
    second = chunk_page(page(body), rag)
    assert first == second
    parents, children = first
    assert parents[1].parent_id == "100#p1"
    assert children[0].chunk_id == "100#p0.c0"
    other_parents, other_children = chunk_page(page(body, page_id="200"), rag)
    assert not {p.parent_id for p in parents} & {p.parent_id for p in other_parents}
    assert [c.text_hash for c in children] == [c.text_hash for c in other_children]


def test_embed_text_carries_title_and_heading_path_and_hash() -> None:
    body = "# Guide\n\n## Install\n\nRun the installer.\n"
    _, children = chunk_page(page(body, title="Guide"), RAGConfig())
    (child,) = children
    assert child.heading_path == ("Guide", "Install")
    assert child.embed_text == f"Guide\nInstall\n\n{child.text}"
    assert child.text_hash == hashlib.sha256(child.embed_text.encode()).hexdigest()
    assert build_embed_text("Other", ("A", "B"), "x") == "Other\nA > B\n\nx"
    assert build_embed_text("", (), "x") == "x"


def test_text_change_changes_only_the_affected_child_hash() -> None:
    rng = random.Random(9)
    sections = [f"## S{n}\n\n{prose(rng, 40)}\n\n" for n in range(6)]
    rag = RAGConfig(chunk_size=400, chunk_overlap=0, parent_chunk_size=50_000)
    _, before = chunk_page(page("".join(sections)), rag)
    sections[3] = "## S3\n\nCompletely rewritten section.\n\n"
    _, after = chunk_page(page("".join(sections)), rag)
    changed = {c.text_hash for c in after} - {c.text_hash for c in before}
    assert len(changed) == 1


def test_empty_and_title_only_pages() -> None:
    assert chunk_page(page("", title=""), RAGConfig()) == ([], [])
    assert chunk_page(page("  \n\n", title=""), RAGConfig()) == ([], [])
    parents, children = chunk_page(page("\n", title="Release notes"), RAGConfig())
    assert [p.text for p in parents] == ["Release notes"]
    assert [c.text for c in children] == ["Release notes"]
    assert children[0].embed_text.startswith("Release notes")


def test_two_megabyte_page_is_chunked_with_bounded_pieces() -> None:
    rag = RAGConfig()
    body = generated_body(2_000_000, seed=2)
    parents, children = chunk_page(page(body), rag)
    assert len(parents) >= len(body) // rag.parent_chunk_size
    assert len(children) >= len(body) // rag.chunk_size
    assert_well_formed(parents, children, rag)


def test_twenty_megabytes_of_pages() -> None:
    rag = RAGConfig()
    total_chars = 0
    total_children = 0
    for n in range(10):
        body = generated_body(2_000_000, seed=100 + n)
        parents, children = chunk_page(page(body, page_id=f"p{n}"), rag)
        assert all(len(child.text) <= rag.chunk_size for child in children)
        assert all(len(parent.text) <= rag.parent_chunk_size for parent in parents)
        total_chars += len(body)
        total_children += len(children)
    assert total_chars >= 20_000_000
    assert total_children >= total_chars // rag.chunk_size


def test_doubling_the_input_roughly_doubles_the_chunks() -> None:
    rag = RAGConfig(chunk_size=500, chunk_overlap=50, parent_chunk_size=5000)
    single = generated_body(300_000, seed=4)
    _, children_one = chunk_page(page(single), rag)
    parents_two, children_two = chunk_page(page(single + "\n\n" + single), rag)
    ratio = len(children_two) / len(children_one)
    assert 1.9 <= ratio <= 2.1
    assert_well_formed(parents_two, children_two, rag)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("word " * 400_000, id="one-line-of-words"),
        pytest.param("x" * 2_000_000, id="no-separators"),
        pytest.param("# h\n" * 200_000 + "text", id="only-headings"),
        pytest.param("```\n" + "# a\n" * 300_000, id="unclosed-fence"),
        pytest.param("# " + " " * 1_000_000 + "x\n" + "y" * 5000, id="huge-whitespace-run"),
    ],
)
def test_pathological_inputs_stay_bounded(body: str) -> None:
    rag = RAGConfig()
    parents, children = chunk_page(page(body), rag)
    assert children
    assert_well_formed(parents, children, rag)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(alphabet="ab \n", max_size=70), max_size=30),
    st.sampled_from(["", " ", "\n\n"]),
    st.integers(min_value=5, max_value=60),
    st.data(),
)
def test_merge_matches_langchain(splits: list[str], separator: str, size: int, data: st.DataObject) -> None:
    overlap = data.draw(st.integers(min_value=0, max_value=size - 1))
    reference = RecursiveCharacterTextSplitter(chunk_size=size, chunk_overlap=overlap)
    ours = MarkdownBlockSplitter(chunk_size=size, chunk_overlap=overlap)
    assert ours._merge_splits(splits, separator) == reference._merge_splits(splits, separator)
