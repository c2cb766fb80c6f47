"""The attachment text readers on files made here: each format's text comes out, bad files raise the module's
errors, types are recognised by extension first and media type second."""

from __future__ import annotations

import base64
import io
import zipfile
import zlib

import pytest

from tenant_rag.export.attachment_text import (
    AttachmentEmptyError,
    AttachmentUnreadableError,
    extract_text,
    kind_of,
)
from tenant_rag_devtools.confluence_server.sample_files import (
    docx_bytes,
    drawio_bytes,
    pdf_bytes,
    png_bytes,
    pptx_bytes,
    xlsx_bytes,
)


def test_pdf_text_keeps_its_lines_and_escaped_characters() -> None:
    assert extract_text(pdf_bytes(["Revenue grew (12%)", "Second line"]), "pdf") == "Revenue grew (12%)\nSecond line"


def test_docx_headings_paragraphs_and_tables() -> None:
    data = docx_bytes("Runbook", ["Restart the service."], [["host", "role"], ["db-1", "primary"]])
    assert extract_text(data, "docx") == "# Runbook\n\nRestart the service.\n\nhost | role\ndb-1 | primary"


def test_pptx_slides_and_speaker_notes() -> None:
    text = extract_text(pptx_bytes([("Roadmap", "Launch"), ("Risks", "Budget")], notes="Say hello"), "pptx")
    assert text == "## Slide 1\nRoadmap\nLaunch\nNotes: Say hello\n\n## Slide 2\nRisks\nBudget"


def test_xlsx_sheets_and_rows() -> None:
    data = xlsx_bytes({"Budget": [["item", "cost"], ["servers", 1200], [None, None]], "Empty": []})
    assert extract_text(data, "xlsx") == "## Budget\nitem | cost\nservers | 1200\n\n## Empty"


def test_csv_with_a_sniffed_delimiter_and_text_encodings() -> None:
    assert extract_text(b"a;b\n1;2\n", "csv") == "a | b\n1 | 2"
    assert extract_text("caf\u00e9 notes".encode("utf-16"), "txt") == "caf\u00e9 notes"
    assert extract_text("caf\u00e9".encode("cp1252"), "md") == "caf\u00e9"


@pytest.mark.parametrize("compressed", [True, False])
def test_drawio_cell_labels_plain_or_deflated(compressed: bool) -> None:
    data = drawio_bytes(["Load balancer", "<b>App</b>&nbsp;server<br>tier"], name="Overview", compressed=compressed)
    assert extract_text(data, "drawio") == "## Overview\nLoad balancer\nApp server tier"


def test_drawio_entities_are_not_resolved() -> None:
    doctype = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    evil = doctype + b'<mxGraphModel><root><mxCell value="&e;"/></root></mxGraphModel>'
    with pytest.raises(AttachmentUnreadableError):  # the label stays an unresolved reference: no text, no file read
        extract_text(evil, "drawio")


def test_a_drawio_diagram_that_is_not_deflate_data_is_unreadable() -> None:
    bad = base64.b64encode(b"not deflate").decode()
    with pytest.raises(AttachmentUnreadableError):
        extract_text(f'<mxfile><diagram name="x">{bad}</diagram></mxfile>'.encode(), "drawio")
    good = base64.b64encode(zlib.compress(b"<mxGraphModel/>")[2:-4]).decode()
    with pytest.raises(AttachmentEmptyError):  # valid, but without labels
        extract_text(f'<mxfile><diagram name="">{good}</diagram></mxfile>'.encode(), "drawio")


@pytest.mark.parametrize("kind", ["pdf", "docx", "pptx", "xlsx"])
def test_corrupt_files_raise_unreadable(kind: str) -> None:
    with pytest.raises(AttachmentUnreadableError):
        extract_text(b"%PDF-1.4 PK\x03\x04 truncated garbage", kind)


def test_binary_text_files_and_empty_files() -> None:
    with pytest.raises(AttachmentUnreadableError):
        extract_text(png_bytes(), "txt")
    with pytest.raises(AttachmentEmptyError):
        extract_text(b"  \n\n", "txt")
    with pytest.raises(AttachmentUnreadableError):
        extract_text(b"x", "exe")


def test_kind_by_extension_then_media_type() -> None:
    assert kind_of("Report.PDF", "application/octet-stream") == "pdf"
    assert kind_of("diagram", "application/vnd.jgraph.mxfile") == "drawio"
    assert kind_of("flow.drawio.xml", "text/xml") == "drawio"
    assert kind_of("notes", "text/plain; charset=utf-8") == "txt"
    assert kind_of("photo.png", "image/png") is None


def test_files_that_would_expand_past_the_limit_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from tenant_rag.export import attachment_text

    monkeypatch.setattr(attachment_text, "MAX_UNPACKED_BYTES", 64 * 1024)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"\0" * (1024 * 1024))  # 1 MiB of zeros: a few kB zipped
    assert len(bomb.getvalue()) < 64 * 1024
    for kind in ("docx", "pptx", "xlsx"):
        with pytest.raises(AttachmentUnreadableError, match="expands to 1,048,576 bytes"):
            extract_text(bomb.getvalue(), kind)
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = base64.b64encode(deflater.compress(b"<mxGraphModel/>" + b" " * (1024 * 1024)) + deflater.flush())
    diagram = b'<mxfile><diagram name="big">' + payload + b"</diagram></mxfile>"
    with pytest.raises(AttachmentUnreadableError, match="expands past"):
        extract_text(diagram, "drawio")
