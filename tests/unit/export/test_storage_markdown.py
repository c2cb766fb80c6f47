"""Storage format -> Markdown: one or more cases for every construct the export issue lists."""

from __future__ import annotations

import pytest

from tenant_rag.export.storage_markdown import ConversionContext, storage_to_markdown


def md(storage: str, context: ConversionContext | None = None) -> str:
    return storage_to_markdown(storage, context).markdown.strip()


def test_headings_paragraphs_and_emphasis() -> None:
    out = md(
        "<h1>Release&nbsp;process</h1><p>The <strong>release</strong> is <em>cut</em> on <b>Tue</b>, "
        "<s>not</s> <del>Fri</del>, see <code>make release</code>.</p><h3>Step #</h3>"
    )
    assert out == (
        "# Release process\n\nThe **release** is *cut* on **Tue**, ~~not~~ ~~Fri~~, see `make release`.\n\n### Step \\#"
    )


def test_emphasis_keeps_surrounding_spaces_outside_the_markers() -> None:
    assert md("<p>a<strong> bold </strong>b<em></em>c</p>") == "a **bold** bc"


def test_whitespace_collapses_and_br_becomes_a_hard_break() -> None:
    assert md("<p>one\n   two<br/>three<br />   four</p>") == "one two\\\nthree\\\nfour"


def test_nested_lists_and_ordered_start() -> None:
    out = md(
        '<ol start="3"><li><p>Merge</p></li><li><p>Build</p><ul><li>linux</li><li>darwin<ul><li>arm64</li>'
        "</ul></li></ul></li></ol><ul><li>top</li></ul>"
    )
    assert out == "3. Merge\n4. Build\n   - linux\n   - darwin\n     - arm64\n\n- top"


def test_list_item_with_several_paragraphs_is_indented() -> None:
    assert md("<ul><li><p>first</p><p>second</p></li></ul>") == "- first\n\n  second"


def test_table_with_header_alignment_and_pipes() -> None:
    out = md(
        '<table><tbody><tr><th><p>Platform</p></th><th style="text-align: center;"><p>Owner</p></th></tr>'
        "<tr><td><p>linux | amd64</p></td><td><p>ops</p></td></tr></tbody></table>"
    )
    assert out == "| Platform | Owner |\n| --- | :---: |\n| linux \\| amd64 | ops |"


def test_table_without_header_row_gets_an_empty_one() -> None:
    out = md("<table><tr><td>a</td><td>b</td></tr></table>")
    assert out.splitlines() == ["|  |  |", "| --- | --- |", "| a | b |"]


def test_table_colspan_and_rowspan_fall_back_to_a_full_grid() -> None:
    out = md(
        "<table><tbody><tr><th>A</th><th>B</th><th>C</th></tr>"
        '<tr><td rowspan="2">r</td><td colspan="2">wide</td></tr>'
        "<tr><td>x</td><td>y</td></tr></tbody></table>"
    )
    assert out.splitlines() == ["| A | B | C |", "| --- | --- | --- |", "| r | wide |  |", "| r | x | y |"]


def test_table_cell_with_blocks_is_joined_with_br() -> None:
    out = md("<table><tr><th>h</th></tr><tr><td><p>one</p><ul><li>two</li><li>three</li></ul></td></tr></table>")
    assert out.splitlines()[-1] == "| one<br>- two<br>- three |"


def test_code_macro_keeps_language_title_and_cdata() -> None:
    out = md(
        '<ac:structured-macro ac:name="code"><ac:parameter ac:name="language">Python</ac:parameter>'
        '<ac:parameter ac:name="title">Example</ac:parameter>'
        "<ac:plain-text-body><![CDATA[if a < b && c:\n    print('<tag>')]]></ac:plain-text-body></ac:structured-macro>"
    )
    assert out == "*Example*\n\n```python\nif a < b && c:\n    print('<tag>')\n```"


def test_code_containing_a_fence_gets_a_longer_fence() -> None:
    out = md(
        '<ac:structured-macro ac:name="code"><ac:plain-text-body><![CDATA[```\ninner\n```]]>'
        "</ac:plain-text-body></ac:structured-macro>"
    )
    assert out == "````\n```\ninner\n```\n````"


def test_noformat_and_pre_are_plain_fences() -> None:
    assert (
        md(
            '<ac:structured-macro ac:name="noformat"><ac:plain-text-body><![CDATA[a  *b*]]>'
            "</ac:plain-text-body></ac:structured-macro>"
        )
        == "```\na  *b*\n```"
    )
    assert md("<pre>x   y</pre>") == "```\nx   y\n```"


@pytest.mark.parametrize(
    ("macro", "alert"), [("info", "NOTE"), ("tip", "TIP"), ("note", "IMPORTANT"), ("warning", "WARNING")]
)
def test_admonition_macros_become_alert_blockquotes(macro: str, alert: str) -> None:
    out = md(
        f'<ac:structured-macro ac:name="{macro}"><ac:parameter ac:name="title">Heads up</ac:parameter>'
        "<ac:rich-text-body><p>First.</p><ul><li>item</li></ul></ac:rich-text-body></ac:structured-macro>"
    )
    assert out == f"> [!{alert}]\n> **Heads up**\n>\n> First.\n>\n> - item"


def test_panel_is_a_titled_blockquote() -> None:
    out = md(
        '<ac:structured-macro ac:name="panel"><ac:parameter ac:name="title">Panel</ac:parameter>'
        "<ac:rich-text-body><p>inside</p></ac:rich-text-body></ac:structured-macro>"
    )
    assert out == "> **Panel**\n>\n> inside"


def test_expand_is_a_titled_section() -> None:
    out = md(
        '<ac:structured-macro ac:name="expand"><ac:parameter ac:name="title">Checklist &amp; notes'
        "</ac:parameter><ac:rich-text-body><p>hidden text</p></ac:rich-text-body></ac:structured-macro>"
    )
    assert out == "**Checklist & notes**\n\nhidden text"


def test_task_lists_with_states_and_nesting() -> None:
    out = md(
        "<ac:task-list><ac:task><ac:task-id>1</ac:task-id><ac:task-status>complete</ac:task-status>"
        "<ac:task-body><span>Tag</span> it</ac:task-body></ac:task><ac:task><ac:task-status>incomplete"
        "</ac:task-status><ac:task-body>Announce<ac:task-list><ac:task><ac:task-status>complete</ac:task-status>"
        "<ac:task-body>email</ac:task-body></ac:task></ac:task-list></ac:task-body></ac:task></ac:task-list>"
    )
    assert out == "- [x] Tag it\n- [ ] Announce\n  - [x] email"


def test_layouts_are_flattened_in_reading_order() -> None:
    out = md(
        '<ac:layout><ac:layout-section ac:type="two_equal"><ac:layout-cell><h2>Left</h2><p>One</p>'
        "</ac:layout-cell><ac:layout-cell><p>Two</p></ac:layout-cell></ac:layout-section>"
        "<ac:layout-section><ac:layout-cell><p>Three</p></ac:layout-cell></ac:layout-section></ac:layout>"
    )
    assert out == "## Left\n\nOne\n\nTwo\n\nThree"


def test_page_links_resolve_to_relative_files_and_are_recorded() -> None:
    targets = {("ENG", "On-call rota"): "../Ops/On call.md", ("OPS", "Runbook"): "../../OPS/Runbook.md"}
    context = ConversionContext(space_key="ENG", resolve_page=lambda s, t: targets.get((s, t)))
    result = storage_to_markdown(
        '<p><ac:link><ri:page ri:content-title="On-call rota" /><ac:plain-text-link-body><![CDATA[the rota]]>'
        '</ac:plain-text-link-body></ac:link> and <ac:link ac:anchor="steps"><ri:page ri:space-key="OPS" '
        'ri:content-title="Runbook" /></ac:link></p>',
        context,
    )
    assert result.markdown.strip() == "[the rota](../Ops/On%20call.md) and [Runbook](../../OPS/Runbook.md#steps)"
    assert result.page_links == {("ENG", "On-call rota"), ("OPS", "Runbook")}


def test_unresolved_page_links_point_at_the_site_or_stay_text() -> None:
    storage = '<p><ac:link><ri:page ri:space-key="HR" ri:content-title="Leave policy" /></ac:link></p>'
    assert md(storage, ConversionContext(site_url="https://acme.atlassian.net/wiki")) == (
        "[Leave policy](https://acme.atlassian.net/wiki/display/HR/Leave+policy)"
    )
    assert md(storage) == "Leave policy"


def test_rich_link_body_and_anchor_only_links() -> None:
    assert md('<p><ac:link ac:anchor="top"><ac:link-body><em>up</em></ac:link-body></ac:link></p>') == "[*up*](#top)"


def test_attachments_and_images_are_links_with_the_file_name() -> None:
    context = ConversionContext(attachment_url=lambda name: f"https://site/download/attachments/42/{name}")
    out = md(
        '<p><ac:image ac:alt="Pipeline"><ri:attachment ri:filename="pipeline.png" /></ac:image></p>'
        '<p><ac:image><ri:url ri:value="https://img.example/logo.svg" /></ac:image></p>'
        '<p><ac:link><ri:attachment ri:filename="notes.pdf" /></ac:link></p>',
        context,
    )
    assert out == (
        "![Pipeline](https://site/download/attachments/42/pipeline.png)\n\n"
        "![logo.svg](https://img.example/logo.svg)\n\n[notes.pdf](https://site/download/attachments/42/notes.pdf)"
    )
    assert md('<ac:image><ri:attachment ri:filename="a b.png" /></ac:image>') == "![a b.png](a%20b.png)"


def test_user_mentions_use_the_display_name_or_the_id() -> None:
    storage = (
        '<p>by <ac:link><ri:user ri:account-id="5b10a2" /></ac:link> and <ac:link><ri:user ri:userkey="k9" />'
        "</ac:link></p>"
    )
    assert md(storage, ConversionContext(user_name={"5b10a2": "Ada Lovelace"}.get)) == "by @Ada Lovelace and @k9"
    assert md(storage) == "by @5b10a2 and @k9"


def test_emoticons_time_status_and_jira() -> None:
    out = md(
        '<p><ac:emoticon ac:name="tick" ac:emoji-fallback="✅" /> <ac:emoticon ac:name="warning" /> '
        '<ac:emoticon ac:name="made-up" /> on <time datetime="2024-03-05" /> '
        '<ac:structured-macro ac:name="status"><ac:parameter ac:name="colour">Green</ac:parameter>'
        '<ac:parameter ac:name="title">Done</ac:parameter></ac:structured-macro> '
        '<ac:structured-macro ac:name="jira"><ac:parameter ac:name="key">PAY-12</ac:parameter>'
        "</ac:structured-macro></p>"
    )
    assert out == "✅ ⚠️ :made-up: on 2024-03-05 **Done** PAY-12"


def test_unknown_macros_keep_their_text_and_dynamic_ones_vanish() -> None:
    out = md(
        '<ac:structured-macro ac:name="vendor-widget"><ac:parameter ac:name="x">hidden param</ac:parameter>'
        "<ac:rich-text-body><p>Keep this text.</p></ac:rich-text-body></ac:structured-macro>"
        '<ac:structured-macro ac:name="other"><ac:plain-text-body><![CDATA[plain body]]></ac:plain-text-body>'
        '</ac:structured-macro><ac:structured-macro ac:name="toc" /><ac:structured-macro ac:name="children">'
        '<ac:parameter ac:name="depth">2</ac:parameter></ac:structured-macro>'
        '<ac:macro ac:name="legacy"><ac:rich-text-body><p>old format</p></ac:rich-text-body></ac:macro>'
    )
    assert out == "Keep this text.\n\nplain body\n\nold format"


def test_include_macro_links_to_the_included_page() -> None:
    out = md(
        '<ac:structured-macro ac:name="include"><ac:parameter ac:name=""><ac:link><ri:page '
        'ri:content-title="Shared intro" /></ac:link></ac:parameter></ac:structured-macro>',
        ConversionContext(space_key="ENG", resolve_page=lambda s, t: "Shared intro.md"),
    )
    assert out == "Included page: [Shared intro](Shared%20intro.md)"


def test_placeholders_dropped_and_comment_markers_kept() -> None:
    out = md(
        "<p>✉️ <ac:placeholder>Insert your email here</ac:placeholder></p><p><ac:inline-comment-marker "
        'ac:ref="77aa">Reviewed</ac:inline-comment-marker> by the team.</p>'
    )
    assert out == "✉️\n\nReviewed by the team."


def test_adf_extension_uses_its_fallback() -> None:
    out = md(
        '<ac:adf-extension><ac:adf-node type="panel"><ac:adf-content><p>rich</p></ac:adf-content>'
        "</ac:adf-node><ac:adf-fallback><p>fallback text</p></ac:adf-fallback></ac:adf-extension>"
    )
    assert out == "fallback text"


def test_web_links_blockquote_rule_and_definition_lists() -> None:
    out = md(
        '<p><a href="https://example.com/a b">the docs</a> <a href="https://example.com">https://example.com</a>'
        "</p><blockquote><p>Ship small.</p></blockquote><hr/><dl><dt>SLA</dt><dd>4 hours</dd></dl>"
    )
    assert out == (
        "[the docs](https://example.com/a%20b) <https://example.com>\n\n> Ship small.\n\n---\n\n**SLA**\n\n4 hours"
    )


def test_markdown_characters_in_text_are_escaped() -> None:
    out = md(
        "<p>Stars *x*, _lead, snake_case, [b], `t`, &lt;div&gt;, &amp;copy;</p><p># not heading</p>"
        "<p>1. not a list</p><p>- not a bullet</p><p>&gt; not a quote</p><p>---</p>"
    )
    assert out.split("\n\n") == [
        "Stars \\*x\\*, \\_lead, snake_case, \\[b\\], \\`t\\`, \\<div>, \\&copy;",
        "\\# not heading",
        "1\\. not a list",
        "\\- not a bullet",
        "\\> not a quote",
        "\\---",
    ]


def test_inline_code_with_backticks() -> None:
    assert md("<p><code>a `tick` inside</code> and <code>`lead</code></p>") == "``a `tick` inside`` and `` `lead ``"


def test_html_entities_and_malformed_markup_still_convert() -> None:
    assert md("<p>a &rarr; b &hellip; &copy;</p>") == "a → b … ©"
    out = md("<p>line<br>next <b>bold<p>second &bogus; &amp; more")  # not well-formed: the HTML fallback reads it
    assert "line" in out and "next **bold" in out and "second" in out and "more" in out


def test_empty_and_whitespace_bodies() -> None:
    assert storage_to_markdown("").markdown == ""
    assert storage_to_markdown("   <p> </p><p/>").markdown == ""
