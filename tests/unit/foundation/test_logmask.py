"""The access-log masking: secret query values become *** in log records, everything else is kept."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from tenant_rag.logmask import (
    SecretQueryFilter,
    install_access_log_masking,
    mask_query_string,
    mask_scope_query,
    mask_url_text,
)

SECRET = "trk_acme_9f8e7d6c5b4a"


@pytest.mark.parametrize("name", ["key", "KEY", "Key", "api_key", "API_KEY", "token", "access_token", "Password"])
def test_every_secret_name_is_masked_whatever_its_case(name: str) -> None:
    assert mask_query_string(f"a=1&{name}={SECRET}&b=2") == f"a=1&{name}=***&b=2"


def test_percent_encoded_names_and_repeated_parameters_are_masked() -> None:
    masked = mask_query_string(f"k%65y={SECRET}&key={SECRET}&api%5Fkey={SECRET}")
    assert SECRET not in masked and masked.count("***") == 3


def test_other_parameters_are_kept_byte_for_byte() -> None:
    query = "space_keys=ENG&keys=1&monkey=2&key_id=3&q=a%20b&flag"
    assert mask_query_string(query) == query
    assert mask_query_string("") == ""


def test_urls_inside_text_are_masked() -> None:
    line = f'127.0.0.1:5000 - "GET /v1/customers/acme/status/page?key={SECRET}&x=1 HTTP/1.1" 400'
    assert mask_url_text(line) == '127.0.0.1:5000 - "GET /v1/customers/acme/status/page?key=***&x=1 HTTP/1.1" 400'
    assert mask_url_text("no query here") == "no query here"


@pytest.fixture
def access_logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    logger = logging.getLogger("tenant_rag.test.access")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)
    logger.filters.clear()


def test_filter_rewrites_uvicorns_access_record(access_logger: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = access_logger
    install_access_log_masking([logger.name])
    install_access_log_masking([logger.name])  # idempotent
    assert sum(isinstance(f, SecretQueryFilter) for f in logger.filters) == 1
    # uvicorn's access format and arguments: client, method, path with query, HTTP version, status
    logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/page?Token={SECRET}&a=1", "1.1", 400)
    logger.info("opened %(url)s", {"url": f"http://h/p?password={SECRET}"})
    logger.info(f"raw message /p?access_token={SECRET}")
    text = stream.getvalue()
    assert SECRET not in text
    assert '"GET /page?Token=***&a=1 HTTP/1.1" 400' in text
    assert "opened http://h/p?password=***" in text and "raw message /p?access_token=***" in text


def test_filter_keeps_records_and_non_string_arguments() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s %d", ("/p?key=s", 7), None)
    assert SecretQueryFilter().filter(record) is True
    assert record.getMessage() == "/p?key=*** 7"


def test_scope_query_is_masked_in_place() -> None:
    scope = {"type": "http", "query_string": f"key={SECRET}&a=1".encode()}
    mask_scope_query(scope)
    assert scope["query_string"] == b"key=***&a=1"
    clean = {"type": "http", "query_string": b"a=1"}
    mask_scope_query(clean)
    assert clean["query_string"] == b"a=1"
