"""The text of an attached file, as Markdown-ish plain text: PDF, DOCX, PPTX, XLSX, CSV, TXT/MD and draw.io.

Each format has one small, well-kept, pure-Python reader (pypdf, python-docx, python-pptx, openpyxl; the stdlib for
CSV and text; lxml for draw.io XML, whose diagrams may be stored deflated and base64-encoded). A file the reader
cannot parse raises ``AttachmentUnreadableError``; a file without any text raises its subclass
``AttachmentEmptyError``. Nothing here touches the network or the disk.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable
from urllib.parse import unquote

from tenant_rag.errors import TenantRagError

MAX_UNPACKED_BYTES = 256 * 1024 * 1024  # what one file may expand to: zip members, a deflated diagram
ZIPPED_KINDS = frozenset({"docx", "pptx", "xlsx"})
MAX_TEXT_CHARS = 2_000_000  # a document this long is cut: a giant spreadsheet must not swamp the index
_MEDIA_TYPES = {
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "text/csv": "csv",
    "text/plain": "txt",
    "text/markdown": "md",
    "application/vnd.jgraph.mxfile": "drawio",
    "application/drawio": "drawio",
}
_EXTENSIONS = {
    "pdf": "pdf",
    "docx": "docx",
    "pptx": "pptx",
    "xlsx": "xlsx",
    "csv": "csv",
    "txt": "txt",
    "text": "txt",
    "log": "txt",
    "md": "md",
    "markdown": "md",
    "drawio": "drawio",
}
_TAGS = re.compile(r"<[^>]+>")


class AttachmentUnreadableError(TenantRagError):
    """The file is corrupt, encrypted or not what its type says: no text could be read from it."""


class AttachmentEmptyError(AttachmentUnreadableError):
    """The file was read but holds no text (a scanned PDF, an empty sheet)."""


def kind_of(file_name: str, media_type: str | None) -> str | None:
    """The type key (``pdf``, ``docx``, ... as in ``export.attachments.types``) of a file, or None if unsupported."""
    name = file_name.lower()
    if name.endswith(".drawio.xml"):
        return "drawio"
    extension = name.rsplit(".", 1)[-1] if "." in name else ""
    if extension in _EXTENSIONS:
        return _EXTENSIONS[extension]
    return _MEDIA_TYPES.get((media_type or "").split(";", 1)[0].strip().lower())


def extract_text(data: bytes, kind: str) -> str:
    """The text of a file of type ``kind`` (see :func:`kind_of`); raises ``AttachmentUnreadableError``."""
    reader = _READERS.get(kind)
    if reader is None:
        raise AttachmentUnreadableError(f"no text reader for type {kind!r}; known: {sorted(_READERS)}")
    try:
        if kind in ZIPPED_KINDS:
            _refuse_zip_bomb(data)
        text = reader(data)
    except AttachmentUnreadableError:
        raise
    except Exception as exc:  # the readers raise many types on bad input (zip, XML, struct, key errors...)
        raise AttachmentUnreadableError(f"cannot read the {kind} file: {type(exc).__name__}: {exc}") from exc
    text = "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n")).strip()
    if not text:
        raise AttachmentEmptyError(f"the {kind} file holds no text")
    return text[:MAX_TEXT_CHARS]


def _refuse_zip_bomb(data: bytes) -> None:
    """An Office file is a zip: refuse one whose members would expand past ``MAX_UNPACKED_BYTES`` (zipfile reads a
    member no further than its declared size, so the declared sizes bound what the readers can inflate)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        total = sum(member.file_size for member in archive.infolist())
    if total > MAX_UNPACKED_BYTES:
        raise AttachmentUnreadableError(f"the file expands to {total:,} bytes, more than {MAX_UNPACKED_BYTES:,}")


def _pdf(data: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted and not reader.decrypt(""):
        raise AttachmentUnreadableError("the PDF is encrypted")
    return "\n\n".join(page.extract_text() or "" for page in reader.pages)


def _row(cells: Iterable[object]) -> str:
    values = ["" if cell is None else " ".join(str(cell).split()) for cell in cells]
    while values and not values[-1]:
        values.pop()
    return " | ".join(values)


def _docx(data: bytes) -> str:
    import docx
    from docx.table import Table

    document = docx.Document(io.BytesIO(data))
    out: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            out.extend(filter(None, (_row(cell.text for cell in row.cells) for row in block.rows)))
            out.append("")
            continue
        text = block.text.strip()
        style = (block.style.name if block.style is not None else "") or ""
        if text and style.startswith("Heading") and style[-1:].isdigit():
            out.append("#" * min(6, int(style[-1])) + " " + text)
        elif text:
            out.append(text)
        out.append("")
    return "\n".join(out)


def _pptx(data: bytes) -> str:
    from pptx import Presentation

    out: list[str] = []
    for number, slide in enumerate(Presentation(io.BytesIO(data)).slides, start=1):
        out.append(f"## Slide {number}")
        for shape in slide.shapes:
            if shape.has_text_frame and shape.text_frame.text.strip():
                out.append(shape.text_frame.text.strip())
            if getattr(shape, "has_table", False) and shape.has_table:
                out.extend(_row(cell.text for cell in row.cells) for row in shape.table.rows)
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            notes = slide.notes_slide.notes_text_frame.text.strip()
            if notes:
                out.append(f"Notes: {notes}")
        out.append("")
    return "\n".join(out)


def _xlsx(data: bytes) -> str:
    import openpyxl

    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    out: list[str] = []
    size = 0
    try:
        for sheet in workbook.worksheets:
            out.append(f"## {sheet.title}")
            for row in sheet.iter_rows(values_only=True):
                line = _row(row)
                if line.strip(" |"):
                    out.append(line)
                    size += len(line)
                if size > MAX_TEXT_CHARS:
                    return "\n".join(out)
            out.append("")
    finally:
        workbook.close()
    return "\n".join(out)


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig",):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("cp1252", errors="replace")


def _csv(data: bytes) -> str:
    text = _decode(data)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    return "\n".join(line for line in map(_row, csv.reader(io.StringIO(text), dialect)) if line.strip(" |"))


def _text(data: bytes) -> str:
    if b"\x00" in data[:4096] and data[:2] not in (b"\xff\xfe", b"\xfe\xff"):
        raise AttachmentUnreadableError("the file is binary, not text")
    return _decode(data)


def _diagram_xml(diagram: object) -> list[object]:
    """The ``mxGraphModel`` elements of one ``<diagram>``: inline, or deflated + base64 (+ URL-encoded) text."""
    from lxml import etree

    models = list(diagram.iterfind("mxGraphModel"))  # type: ignore[attr-defined]
    text = (diagram.text or "").strip()  # type: ignore[attr-defined]
    if models or not text:
        return models
    try:
        raw = base64.b64decode(text, validate=False)
        inflater = zlib.decompressobj(-15)
        inflated_bytes = inflater.decompress(raw, MAX_UNPACKED_BYTES)
        if inflater.unconsumed_tail:
            raise AttachmentUnreadableError(f"a draw.io diagram expands past {MAX_UNPACKED_BYTES:,} bytes")
        inflated = inflated_bytes.decode("utf-8")
    except (binascii.Error, zlib.error, UnicodeDecodeError) as exc:
        raise AttachmentUnreadableError(f"a draw.io diagram is not deflate+base64 data: {exc}") from exc
    return [etree.fromstring(unquote(inflated).encode("utf-8"), _xml_parser())]


def _xml_parser() -> object:
    from lxml import etree

    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True)


def _drawio(data: bytes) -> str:
    from lxml import etree

    root = etree.fromstring(data, _xml_parser())
    diagrams = [root] if root.tag == "mxGraphModel" else list(root.iter("diagram"))
    out: list[str] = []
    for diagram in diagrams:
        if diagram.get("name"):
            out.append(f"## {diagram.get('name')}")
        models = [diagram] if diagram.tag == "mxGraphModel" else _diagram_xml(diagram)
        for model in models:
            for cell in model.iter("mxCell", "UserObject", "object"):  # type: ignore[union-attr]
                label = cell.get("label") if cell.tag != "mxCell" else cell.get("value")
                text = " ".join(_TAGS.sub(" ", unquote_html(label or "")).split())
                if text:
                    out.append(text)
        out.append("")
    return "\n".join(out)


def unquote_html(text: str) -> str:
    """Labels are often HTML (``<b>x</b>&nbsp;y``): line breaks kept as spaces, entities decoded."""
    import html

    return html.unescape(re.sub(r"<br\s*/?>|</div>|</p>", " ", text, flags=re.IGNORECASE))


_READERS: dict[str, Callable[[bytes], str]] = {
    "pdf": _pdf,
    "docx": _docx,
    "pptx": _pptx,
    "xlsx": _xlsx,
    "csv": _csv,
    "txt": _text,
    "md": _text,
    "drawio": _drawio,
}
