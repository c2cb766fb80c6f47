"""Property tests: the converter never raises, whatever it is given, and plain text survives it."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenant_rag.export.storage_markdown import ConversionContext, storage_to_markdown

TAGS = [
    "p",
    "h1",
    "h3",
    "ul",
    "ol",
    "li",
    "table",
    "tr",
    "td",
    "th",
    "strong",
    "em",
    "code",
    "pre",
    "br",
    "a",
    "blockquote",
    "div",
    "span",
    "ac:structured-macro",
    "ac:rich-text-body",
    "ac:plain-text-body",
    "ac:parameter",
    "ac:link",
    "ri:page",
    "ri:user",
    "ri:attachment",
    "ac:image",
    "ac:task-list",
    "ac:task",
    "ac:task-body",
    "ac:task-status",
    "ac:layout",
    "ac:layout-section",
    "ac:layout-cell",
    "ac:emoticon",
    "time",
    "ac:placeholder",
    "ac:adf-extension",
    "unknown:thing",
    "x",
]
ATTRS = [
    'ac:name="code"',
    'ac:name="info"',
    'ac:name="expand"',
    'ac:name="status"',
    'ac:name="zzz"',
    'ri:content-title="T"',
    'ri:filename="f.png"',
    'colspan="3"',
    'rowspan="0"',
    'colspan="-1"',
    'rowspan="99999"',
    'start="x"',
    'href=""',
    'ri:account-id="u1"',
    'datetime="2024"',
    'ac:emoji-fallback="☃"',
]
PIECES = [
    "<![CDATA[",
    "]]>",
    "&nbsp;",
    "&bogus;",
    "&amp;",
    "&#0;",
    "&#x1F600;",
    "<",
    ">",
    "&",
    '"',
    "\x00",
    "\n",
    "*",
    "_",
    "`",
    "|",
    "#",
    "[",
    "]",
    "<!--",
    "-->",
    "<?pi?>",
    "<!DOCTYPE x>",
]


@st.composite
def fragments(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 40))):
        kind = draw(st.integers(0, 4))
        tag = draw(st.sampled_from(TAGS))
        if kind == 0:
            attrs = " ".join(draw(st.lists(st.sampled_from(ATTRS), max_size=2)))
            parts.append(f"<{tag} {attrs}>" if attrs else f"<{tag}>")
        elif kind == 1:
            parts.append(f"</{tag}>")
        elif kind == 2:
            parts.append(f"<{tag}/>")
        elif kind == 3:
            parts.append(draw(st.sampled_from(PIECES)))
        else:
            parts.append(draw(st.text(max_size=12)))
    return "".join(parts)


CONTEXT = ConversionContext(
    space_key="ENG",
    resolve_page=lambda s, t: f"{s}/{t}.md",
    site_url="https://x",
    user_name=lambda u: None,
    attachment_url=lambda name: f"https://x/{name}",
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fragments())
def test_random_storage_never_raises(storage: str) -> None:
    result = storage_to_markdown(storage, CONTEXT)
    assert isinstance(result.markdown, str)
    assert result.markdown == "" or result.markdown.endswith("\n")


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_arbitrary_text_never_raises(text: str) -> None:
    assert isinstance(storage_to_markdown(text).markdown, str)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_garbled_bytes_never_raise(data: bytes) -> None:
    assert isinstance(storage_to_markdown(data.decode("utf-8", errors="replace")).markdown, str)


NESTABLE = [
    "ul><li",
    "div",
    "blockquote",
    "ac:layout-cell",
    "strong",
    "table><tr><td",
    "ac:task-list><ac:task><ac:task-body",
]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 200), st.sampled_from(NESTABLE))
def test_deeply_nested_content_is_kept(elements: int, tag: str) -> None:
    depth = max(1, elements // (tag.count("<") + 1))  # stay within libxml2's 256 nesting levels
    opening = "".join(f"<{tag}>" for _ in range(depth))
    assert "deep" in storage_to_markdown(f"{opening}deep").markdown


@settings(max_examples=20, deadline=None)
@given(st.integers(100, 3000), st.sampled_from(NESTABLE))
def test_absurd_nesting_never_raises(depth: int, tag: str) -> None:
    # past libxml2's nesting limit (256 levels) content may be cut, but the conversion must not fail
    opening = "".join(f"<{tag}>" for _ in range(depth))
    assert isinstance(storage_to_markdown(f"{opening}deep").markdown, str)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.from_regex(r"[A-Za-z0-9]{1,12}", fullmatch=True), min_size=1, max_size=30))
def test_plain_words_survive_unchanged(words: list[str]) -> None:
    text = " ".join(words)
    assert storage_to_markdown(f"<p>{text}</p>").markdown.strip() == text


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=60))
def test_any_paragraph_text_reads_back_after_unescaping(text: str) -> None:
    from xml.sax.saxutils import escape

    out = storage_to_markdown(f"<p>{escape(text)}</p>").markdown.strip()
    unescaped = re.sub(r"\\(.)", r"\1", out)
    assert unescaped == re.sub(r"[ \t\n\r\f\v\xa0]+", " ", text).strip(" ")  # HTML whitespace rules
