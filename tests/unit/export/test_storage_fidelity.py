"""Storage format -> Markdown on real-world macro shapes: several ``details`` bodies, JQL ``jira`` macros, the
``markdown`` macro, code CDATA whitespace, tasks opening with a list, user mentions, the macros that show attached
files, and images attached to another page."""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt

from tenant_rag.export.storage_context import AttachmentRef
from tenant_rag.export.storage_markdown import ConversionContext, storage_to_markdown

SITE = "https://acme.atlassian.net/wiki"
# files the export knows: this page (None) holds a PDF, a draw.io diagram and a video; "Design" holds a PNG
FILES: dict[tuple[str | None, str], list[AttachmentRef]] = {
    (None, "ENG"): [
        AttachmentRef("spec.pdf", f"{SITE}/download/attachments/10/spec.pdf", "../_attachments/10/spec.pdf.md"),
        AttachmentRef("payments", f"{SITE}/download/attachments/10/payments", "../_attachments/10/payments.md"),
        AttachmentRef("demo.mp4", f"{SITE}/download/attachments/10/demo.mp4"),
    ],
    ("Design", "ENG"): [AttachmentRef("flow chart.png", f"{SITE}/download/attachments/20/flow%20chart.png")],
}


def _attachment(file_name: str, title: str | None, space: str) -> AttachmentRef | None:
    return next((f for f in FILES.get((title, space), []) if f.file_name == file_name), None)


CONTEXT = ConversionContext(
    space_key="ENG",
    site_url=SITE,
    resolve_page=lambda space, title: "../Design.md" if (space, title) == ("ENG", "Design") else None,
    attachment_url=lambda name: f"{SITE}/download/attachments/10/{name}",
    attachment=_attachment,
    attachments_of=lambda title, space: FILES.get((title, space)),
)


def md(storage: str, context: ConversionContext | None = CONTEXT) -> str:
    return storage_to_markdown(storage, context).markdown.strip()


def test_details_macro_keeps_every_rich_text_body() -> None:
    out = md(
        '<ac:structured-macro ac:name="details" ac:schema-version="1" ac:macro-id="7c1e">'
        '<ac:parameter ac:name="id">release</ac:parameter>'
        "<ac:rich-text-body><table><tbody><tr><th><p>Owner</p></th><td><p>Payments team</p></td></tr>"
        "</tbody></table></ac:rich-text-body>"
        "<ac:rich-text-body><p>Release train: <strong>R42</strong></p></ac:rich-text-body>"
        "<ac:rich-text-body><ul><li>Freeze on Monday</li></ul></ac:rich-text-body></ac:structured-macro>"
    )
    assert "| Owner | Payments team |" in out
    assert out.endswith("Release train: **R42**\n\n- Freeze on Monday")


def test_jira_macro_with_jql_renders_the_query_as_a_reference() -> None:
    out = md(
        '<p>Open work: <ac:structured-macro ac:name="jira" ac:schema-version="1" ac:macro-id="d2f0">'
        '<ac:parameter ac:name="server">System JIRA</ac:parameter>'
        '<ac:parameter ac:name="columns">key,summary,status</ac:parameter>'
        '<ac:parameter ac:name="maximumIssues">20</ac:parameter>'
        '<ac:parameter ac:name="jql">project = PAY AND status = "In Progress" ORDER BY priority</ac:parameter>'
        '<ac:parameter ac:name="serverId">144880e9-a353-312f-9412-ed028e8166fa</ac:parameter>'
        "</ac:structured-macro></p>"
    )
    assert out == 'Open work: Jira issues: `project = PAY AND status = "In Progress" ORDER BY priority`'
    legacy = md(
        '<ac:structured-macro ac:name="jira"><ac:parameter ac:name="jqlQuery">assignee = currentUser()'
        "</ac:parameter></ac:structured-macro>"
    )
    assert legacy == "Jira issues: `assignee = currentUser()`"
    single = '<p><ac:structured-macro ac:name="jira"><ac:parameter ac:name="key">PAY-7</ac:parameter>'
    assert md(single + "</ac:structured-macro></p>") == "PAY-7"


def test_markdown_macro_body_stays_markdown() -> None:
    out = md(
        "<p>Before</p>"
        '<ac:structured-macro ac:name="markdown" ac:schema-version="1" ac:macro-id="9a0b"><ac:plain-text-body>'
        "<![CDATA[\n    ## Local setup\n\n    1. Install **Python 3.12**\n    2. Run `make dev`\n\n"
        "    | Port | Service |\n    |---|---|\n    | 8080 | api |\n  ]]></ac:plain-text-body></ac:structured-macro>"
    )
    assert out == (
        "Before\n\n## Local setup\n\n1. Install **Python 3.12**\n2. Run `make dev`\n\n"
        "| Port | Service |\n|---|---|\n| 8080 | api |"
    )
    tokens = MarkdownIt("commonmark").enable("table").parse(out)
    assert [t.type for t in tokens if t.type in ("heading_open", "ordered_list_open", "table_open", "fence")] == [
        "heading_open",
        "ordered_list_open",
        "table_open",
    ]


def test_code_macro_drops_the_cdata_surrounding_whitespace() -> None:
    out = md(
        '<ac:structured-macro ac:name="code" ac:schema-version="1"><ac:parameter ac:name="language">python'
        "</ac:parameter><ac:plain-text-body><![CDATA[\n        def total(items):\n            "
        "return sum(items)  \n   \n    ]]></ac:plain-text-body></ac:structured-macro>"
    )
    assert out == "```python\ndef total(items):\n    return sum(items)  \n```"


def test_task_whose_body_starts_with_a_list_is_a_task_holding_the_list() -> None:
    out = md(
        "<ac:task-list><ac:task><ac:task-id>3</ac:task-id><ac:task-status>incomplete</ac:task-status>"
        "<ac:task-body><ul><li>Rotate the keys</li><li>Update the vault</li></ul></ac:task-body></ac:task>"
        "<ac:task><ac:task-id>4</ac:task-id><ac:task-status>complete</ac:task-status>"
        "<ac:task-body><ol><li>Announce</li></ol></ac:task-body></ac:task></ac:task-list>"
    )
    assert out == "- [ ]\n  - Rotate the keys\n  - Update the vault\n- [x]\n  1. Announce"
    tokens = MarkdownIt("commonmark").parse(out)
    assert [t.content for t in tokens if t.type == "inline"] == [
        "[ ]",
        "Rotate the keys",
        "Update the vault",
        "[x]",
        "Announce",
    ]
    assert sum(t.type == "bullet_list_open" for t in tokens) == 2  # the tasks' list and the first body's list


def test_user_mentions_resolved_and_unresolvable() -> None:
    names = {"557058:0a1b2c3d": "Priya Raman"}
    storage = (
        '<p>Owner: <ac:link><ri:user ri:account-id="557058:0a1b2c3d" /></ac:link>, backup: '
        '<ac:link><ri:user ri:account-id="557058:deadbeef" /></ac:link></p>'
    )
    asked: list[str] = []

    def user_name(user_id: str) -> str | None:
        asked.append(user_id)
        return names.get(user_id)

    out = md(storage, ConversionContext(user_name=user_name))
    assert out == "Owner: @Priya Raman, backup: @557058:deadbeef"
    assert asked == ["557058:0a1b2c3d", "557058:deadbeef"]


@pytest.mark.parametrize(
    ("macro", "kind"),
    [("view-file", "File"), ("viewpdf", "File"), ("viewdoc", "File"), ("viewppt", "File"), ("viewxls", "File")],
)
def test_file_viewer_macros_link_the_file(macro: str, kind: str) -> None:
    storage = (
        f'<ac:structured-macro ac:name="{macro}" ac:schema-version="1"><ac:parameter ac:name="name">'
        '<ri:attachment ri:filename="spec.pdf" /></ac:parameter><ac:parameter ac:name="height">250</ac:parameter>'
        "</ac:structured-macro>"
    )
    assert md(storage) == f"{kind}: [spec.pdf](../_attachments/10/spec.pdf.md)"  # its exported document
    assert md(storage, None) == f"{kind}: [spec.pdf](spec.pdf)"  # no export context: relative, like images


def test_file_macro_on_another_page_and_legacy_text_name() -> None:
    other = md(
        '<ac:structured-macro ac:name="view-file"><ac:parameter ac:name="name"><ri:attachment '
        'ri:filename="flow chart.png"><ri:page ri:content-title="Design" /></ri:attachment></ac:parameter>'
        "</ac:structured-macro>"
    )
    assert other == f"File: [flow chart.png]({SITE}/download/attachments/20/flow%20chart.png)"
    unknown = md(
        '<ac:structured-macro ac:name="viewxls"><ac:parameter ac:name="name">budget.xlsx</ac:parameter>'
        '<ac:parameter ac:name="page">Finance</ac:parameter><ac:parameter ac:name="space">FIN</ac:parameter>'
        "</ac:structured-macro>"
    )
    assert unknown == f"File: [budget.xlsx]({SITE}/display/FIN/Finance)"  # unknown file: its page


def test_multimedia_macro() -> None:
    out = md(
        '<ac:structured-macro ac:name="multimedia" ac:schema-version="1"><ac:parameter ac:name="autostart">false'
        '</ac:parameter><ac:parameter ac:name="name"><ri:attachment ri:filename="demo.mp4" /></ac:parameter>'
        "</ac:structured-macro>"
    )
    assert out == f"Media: [demo.mp4]({SITE}/download/attachments/10/demo.mp4)"  # no document: the download


def test_drawio_macro_links_the_document_holding_its_labels() -> None:
    out = md(
        '<ac:structured-macro ac:name="drawio" ac:schema-version="1" ac:macro-id="e5c1">'
        '<ac:parameter ac:name="diagramName">payments</ac:parameter><ac:parameter ac:name="simpleViewer">false'
        '</ac:parameter><ac:parameter ac:name="width" /><ac:parameter ac:name="zoom">1</ac:parameter>'
        '<ac:parameter ac:name="diagramDisplayName">Payments flow</ac:parameter>'
        '<ac:parameter ac:name="revision">3</ac:parameter></ac:structured-macro>'
    )
    assert out == "Diagram: [Payments flow](../_attachments/10/payments.md)"
    sketch = md(
        '<ac:structured-macro ac:name="drawio-sketch"><ac:parameter ac:name="diagramName">whiteboard'
        "</ac:parameter></ac:structured-macro>"
    )
    assert sketch == f"Diagram: [whiteboard]({SITE}/download/attachments/10/whiteboard)"


def test_gliffy_macro() -> None:
    out = md(
        '<ac:structured-macro ac:name="gliffy" ac:schema-version="1"><ac:parameter ac:name="name">network'
        '</ac:parameter><ac:parameter ac:name="pagePin">2</ac:parameter></ac:structured-macro>'
    )
    assert out == f"Diagram: [network]({SITE}/download/attachments/10/network)"


def test_attachments_macro_lists_the_page_files() -> None:
    out = md(
        '<ac:structured-macro ac:name="attachments" ac:schema-version="1"><ac:parameter ac:name="upload">false'
        "</ac:parameter></ac:structured-macro>"
    )
    assert out == (
        "Attachments of this page:\n\n- [spec.pdf](../_attachments/10/spec.pdf.md)\n"
        "- [payments](../_attachments/10/payments.md)\n"
        f"- [demo.mp4]({SITE}/download/attachments/10/demo.mp4)"
    )
    pdfs = '<ac:structured-macro ac:name="attachments"><ac:parameter ac:name="patterns">.*\\.pdf, .*\\.docx'
    assert md(pdfs + "</ac:parameter></ac:structured-macro>") == (
        "Attachments of this page:\n\n- [spec.pdf](../_attachments/10/spec.pdf.md)"
    )
    assert md('<ac:structured-macro ac:name="attachments" />', None) == "Attachments of this page"


def test_image_attached_to_another_page_links_that_page_attachment() -> None:
    storage = (
        '<p><ac:image ac:height="250"><ri:attachment ri:filename="flow chart.png"><ri:page '
        'ri:content-title="Design" /></ri:attachment></ac:image></p>'
    )
    assert md(storage) == f"![flow chart.png]({SITE}/download/attachments/20/flow%20chart.png)"
    # a file the export does not know on another page: a link to that page, never a broken relative link
    unknown = (
        '<p><ac:image><ri:attachment ri:filename="old.png"><ri:page ri:space-key="OPS" '
        'ri:content-title="Runbook" /></ri:attachment></ac:image></p>'
    )
    assert md(unknown) == f"[old.png]({SITE}/display/OPS/Runbook)"
    assert md(unknown, ConversionContext(attachment_url=lambda name: f"https://x/10/{name}")) == "old.png"
    link = '<p><ac:link><ri:attachment ri:filename="flow chart.png"><ri:page ri:content-title="Design" />'
    assert md(link + "</ri:attachment></ac:link></p>") == (
        f"[flow chart.png]({SITE}/download/attachments/20/flow%20chart.png)"
    )
