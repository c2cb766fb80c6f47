"""Small Markdown writing helpers: escaping text, code spans and fences, links, quotes, indentation, tables."""

from __future__ import annotations

import re
import textwrap

BREAK = "\ue000"  # stands for <br/> inside inline text until the paragraph is assembled
_SPACES = re.compile(r"[ \t\r\n\f\v\xa0]+")
_ENTITY_LIKE = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
_TAG_LIKE = re.compile(r"<(?=[A-Za-z/!?])")
_ORDERED_MARKER = re.compile(r"^(\d{1,9})([.)])(\s|$)")
_BULLET_MARKER = re.compile(r"^([-+])(\s|$)")
_THEMATIC = re.compile(r"^([-=_])(\s*\1){2,}\s*$")
_BLOCK_START = re.compile(r"^(?:[-+*][ \t]|\d{1,9}[.)][ \t]|#|>|\||`{3}|~{3})")
_URL_UNSAFE = {" ": "%20", "(": "%28", ")": "%29", "<": "%3C", ">": "%3E", "\n": "", "\r": "", "\t": "%09"}


def collapse_spaces(text: str) -> str:
    """HTML whitespace rules: every run of whitespace (and no-break space) becomes one space."""
    return _SPACES.sub(" ", text)


def escape_text(text: str) -> str:
    """Escape characters that would start Markdown inline syntax in ordinary text."""
    out: list[str] = []
    for index, ch in enumerate(text):
        if ch in "\\`*[]~":
            out.append("\\" + ch)
        elif ch == "_":
            before = text[index - 1] if index else " "
            after = text[index + 1] if index + 1 < len(text) else " "
            out.append("_" if before.isalnum() and after.isalnum() else "\\_")
        else:
            out.append(ch)
    escaped = "".join(out)
    escaped = _ENTITY_LIKE.sub(r"\\&", escaped)
    return _TAG_LIKE.sub(r"\\<", escaped)


def escape_line_start(line: str) -> str:
    """Escape a line that would otherwise read as a heading, quote, list item or thematic break."""
    if not line:
        return line
    if _THEMATIC.match(line):
        return "\\" + line
    if line[0] in "#>|":
        return "\\" + line
    if _BULLET_MARKER.match(line):
        return "\\" + line
    ordered = _ORDERED_MARKER.match(line)
    if ordered:
        return f"{ordered.group(1)}\\{line[len(ordered.group(1)) :]}"
    return line


def starts_block(markdown: str) -> bool:
    """Whether Markdown opens with block syntax (a list item, heading, quote, table or fence), not paragraph text."""
    return bool(_BLOCK_START.match(markdown))


def code_text(text: str) -> str:
    """A code body as typed, without the whitespace around it: blank first and last lines and the indentation every
    line shares (storage bodies often carry the XML's own indentation) are dropped."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return textwrap.dedent("\n".join(lines))


def code_span(text: str) -> str:
    """Inline code with a backtick fence longer than any run inside; padded when it starts/ends with one."""
    text = collapse_spaces(text)
    if not text:
        return ""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    if text.startswith("`") or text.endswith("`") or (text.startswith(" ") and text.endswith(" ") and text.strip()):
        text = f" {text} "
    return f"{fence}{text}{fence}"


def code_block(code: str, language: str = "") -> str:
    """A fenced code block whose fence is longer than any backtick run at the start of a line of ``code``."""
    code = code.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    longest = max((len(run) for run in re.findall(r"^\s*(`{3,})", code, flags=re.MULTILINE)), default=0)
    fence = "`" * max(3, longest + 1)
    info = re.sub(r"[\s`]+", "", language.lower())
    return f"{fence}{info}\n{code}\n{fence}"


def link_url(url: str) -> str:
    """A link destination that survives Markdown: spaces, parentheses and angle brackets percent-encoded."""
    return "".join(_URL_UNSAFE.get(ch, ch) for ch in url.strip())


def indent(text: str, prefix: str, first: str | None = None) -> str:
    """Prefix every non-empty line (the first line with ``first`` when given)."""
    lines = text.split("\n")
    out = []
    for number, line in enumerate(lines):
        lead = first if number == 0 and first is not None else prefix
        out.append(lead + line if line else lead.rstrip())
    return "\n".join(out)


def quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.split("\n"))


def table(header: list[str] | None, rows: list[list[str]], aligns: list[str]) -> str:
    """A GFM pipe table; ``header`` None gives an empty header row (GFM requires one)."""
    width = max([len(header or [])] + [len(row) for row in rows] + [len(aligns), 1])

    def line(cells: list[str]) -> str:
        cells = cells + [""] * (width - len(cells))
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    delimiter = {"left": ":---", "center": ":---:", "right": "---:"}
    rule = "| " + " | ".join(delimiter.get(a, "---") for a in aligns + [""] * (width - len(aligns))) + " |"
    body = [line(row) for row in rows]
    return "\n".join([line(header or []), rule, *body])
