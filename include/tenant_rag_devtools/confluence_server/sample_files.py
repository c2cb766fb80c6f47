"""Small attachment files made on the fly (never copied from elsewhere): PDF, DOCX, PPTX, XLSX, CSV and draw.io.

The local server and the tests attach these to pages; each carries the given text where a reader should find it.
"""

from __future__ import annotations

import base64
import io
import zlib
from collections.abc import Sequence
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

MEDIA_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
    "txt": "text/plain",
    "md": "text/markdown",
    "drawio": "application/vnd.jgraph.mxfile",
    "png": "image/png",
}


def pdf_bytes(lines: Sequence[str]) -> bytes:
    """A one-page PDF (Helvetica, one text line per entry), written by hand with a correct cross-reference table."""

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    commands = ["BT", "/F1 12 Tf", "72 720 Td", "14 TL"]
    commands += [f"({escape(line)}) Tj T*" for line in lines]
    stream = "\n".join([*commands, "ET"]).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def docx_bytes(heading: str, paragraphs: Sequence[str], table: Sequence[Sequence[str]] = ()) -> bytes:
    import docx

    document = docx.Document()
    document.add_heading(heading, level=1)
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for row, values in zip(grid.rows, table, strict=True):
            for cell, value in zip(row.cells, values, strict=True):
                cell.text = value
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def pptx_bytes(slides: Sequence[tuple[str, str]], notes: str | None = None) -> bytes:
    """One title-and-content slide per (title, body); ``notes`` go on the first slide's speaker notes."""
    from pptx import Presentation

    presentation = Presentation()
    for index, (title, body) in enumerate(slides):
        slide = presentation.slides.add_slide(presentation.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
        if notes and index == 0:
            slide.notes_slide.notes_text_frame.text = notes
    buffer = io.BytesIO()
    presentation.save(buffer)
    return buffer.getvalue()


def xlsx_bytes(sheets: dict[str, Sequence[Sequence[object]]]) -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def drawio_bytes(labels: Sequence[str], *, name: str = "Page-1", compressed: bool = True) -> bytes:
    """A draw.io file with one diagram whose cells carry ``labels``; ``compressed`` stores the diagram the way
    draw.io does by default (URL-encoded, raw-deflated, base64)."""
    cells = ['<mxCell id="0"/>', '<mxCell id="1" parent="0"/>']
    for index, label in enumerate(labels, start=2):
        cells.append(
            f'<mxCell id="{index}" value={quoteattr(label)} style="rounded=1;html=1;" vertex="1" parent="1">'
            f'<mxGeometry x="{index * 40}" y="40" width="120" height="60" as="geometry"/></mxCell>'
        )
    model = f"<mxGraphModel><root>{''.join(cells)}</root></mxGraphModel>"
    if compressed:
        deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
        packed = deflate.compress(quote(model, safe="").encode()) + deflate.flush()
        content = base64.b64encode(packed).decode()
    else:
        content = model
    return (
        f'<mxfile host="app.diagrams.net" type="device"><diagram id="d1" name={quoteattr(name)}>'
        f"{content}</diagram></mxfile>"
    ).encode()


def png_bytes() -> bytes:
    """A 1x1 PNG: an attachment type the export does not read."""
    return base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
