"""A small CQL interpreter: the subset the exporter sends (and simple user filters), evaluated per page.

Supported: ``AND``/``OR``/``NOT``, parentheses; fields ``space``, ``type``, ``id``, ``title``, ``label``,
``ancestor``, ``parent``, ``lastmodified``/``created`` (dates as ``yyyy-MM-dd[ HH:mm]`` or ``yyyy/MM/dd[ HH:mm]``
in the site's time zone); operators ``= != > >= < <= IN NOT IN ~``. Anything else raises ``CqlError`` (HTTP 400,
as Confluence answers invalid CQL).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo

from tenant_rag_devtools.confluence_server.site import Page, Site

Predicate = Callable[[Page], bool]
_OPERATORS = ("!=", ">=", "<=", "=", ">", "<", "~")
_FIELDS = {"space", "type", "id", "title", "label", "ancestor", "parent", "lastmodified", "created", "content"}


class CqlError(ValueError):
    pass


def tokenize(query: str) -> list[str]:
    tokens: list[str] = []
    i = 0
    while i < len(query):
        ch = query[i]
        if ch.isspace():
            i += 1
        elif ch in "(),":
            tokens.append(ch)
            i += 1
        elif ch in {'"', "'"}:
            j, value = i + 1, []
            while j < len(query) and query[j] != ch:
                if query[j] == "\\" and j + 1 < len(query):
                    j += 1
                value.append(query[j])
                j += 1
            if j >= len(query):
                raise CqlError(f"unterminated string at {i}")
            tokens.append('"' + "".join(value))  # a leading quote marks a string literal
            i = j + 1
        elif any(query.startswith(op, i) for op in _OPERATORS):
            op = next(op for op in _OPERATORS if query.startswith(op, i))
            tokens.append(op)
            i += len(op)
        else:
            j = i
            while j < len(query) and not query[j].isspace() and query[j] not in "(),\"'!=<>~":
                j += 1
            tokens.append(query[i:j])
            i = j
    return tokens


def _either(a: Predicate, b: Predicate) -> Predicate:
    return lambda page: a(page) or b(page)


def _both(a: Predicate, b: Predicate) -> Predicate:
    return lambda page: a(page) and b(page)


class _Parser:
    def __init__(self, tokens: list[str], site: Site, zone: tzinfo) -> None:
        self.tokens, self.pos, self.site, self.zone = tokens, 0, site, zone

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise CqlError("unexpected end of query")
        self.pos += 1
        return token

    def expression(self) -> Predicate:
        left = self.conjunction()
        while (self.peek() or "").upper() == "OR":
            self.take()
            left = _either(left, self.conjunction())
        return left

    def conjunction(self) -> Predicate:
        left = self.unary()
        while (self.peek() or "").upper() == "AND":
            self.take()
            left = _both(left, self.unary())
        return left

    def unary(self) -> Predicate:
        token = self.peek()
        if token is not None and token.upper() == "NOT":
            self.take()
            inner = self.unary()
            return lambda p: not inner(p)
        if token == "(":
            self.take()
            inner = self.expression()
            if self.take() != ")":
                raise CqlError("missing ')'")
            return inner
        return self.clause()

    def values(self) -> list[str]:
        if self.take() != "(":
            raise CqlError("expected '(' after IN")
        out = [self.value()]
        while self.peek() == ",":
            self.take()
            out.append(self.value())
        if self.take() != ")":
            raise CqlError("expected ')' after the IN list")
        return out

    def value(self) -> str:
        token = self.take()
        if token in "(),":
            raise CqlError(f"expected a value, got {token!r}")
        return token[1:] if token.startswith('"') else token

    def clause(self) -> Predicate:
        name = self.take().lower()
        if name not in _FIELDS:
            raise CqlError(f"unsupported CQL field {name!r}")
        op = self.take().upper()
        if op == "NOT":
            if self.take().upper() != "IN":
                raise CqlError("expected IN after NOT")
            wanted = self.values()
            return lambda p: not _matches(self.site, p, name, "IN", wanted, self.zone)
        if op == "IN":
            wanted = self.values()
            return lambda p: _matches(self.site, p, name, "IN", wanted, self.zone)
        if op not in _OPERATORS:
            raise CqlError(f"unsupported operator {op!r}")
        value = [self.value()]
        if name in ("lastmodified", "created"):
            _parse_date(value[0], self.zone)  # fail early on a bad date
        return lambda p: _matches(self.site, p, name, op, value, self.zone)


def _parse_date(text: str, zone: tzinfo) -> datetime:
    for fmt in ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=zone).astimezone(UTC)
        except ValueError:
            continue
    raise CqlError(f"invalid date {text!r}: expected yyyy-MM-dd HH:mm")


def _matches(site: Site, page: Page, name: str, op: str, wanted: list[str], zone: tzinfo) -> bool:
    if name in ("lastmodified", "created"):
        moment = page.last_modified if name == "lastmodified" else page.created_at
        bound = _parse_date(wanted[0], zone)
        return {
            "=": moment == bound,
            "!=": moment != bound,
            ">": moment > bound,
            ">=": moment >= bound,
            "<": moment < bound,
            "<=": moment <= bound,
        }.get(op, False)
    if name == "label":
        have = set(page.labels)
    elif name == "ancestor":
        have = {a.page_id for a in site.ancestors(page.page_id)}
    else:
        have = {
            "space": {page.space_key},
            "type": {page.content_type},
            "id": {page.page_id},
            "content": {page.page_id},
            "title": {page.title},
            "parent": {page.parent_id or ""},
        }[name]
    if op == "~":
        return any(w.lower() in h.lower() for w in wanted for h in have)
    hit = bool(have & set(wanted))
    return not hit if op == "!=" else hit if op in ("=", "IN") else False


def compile_cql(query: str, site: Site, zone: tzinfo) -> Predicate:
    parser = _Parser(tokenize(query), site, zone)
    if parser.peek() is None:
        raise CqlError("empty CQL")
    predicate = parser.expression()
    if parser.peek() is not None:
        raise CqlError(f"unexpected {parser.peek()!r}")
    return predicate
