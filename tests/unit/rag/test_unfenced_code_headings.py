"""Headings only outside code: ``#`` lines of code that lost its fence are code comments, real headings stay.

The snippets are written for this test in the shape of the shared corpora's pages (README contact sections, meeting
notes, how-to pages with shell and Python steps) and of pages whose code lost its fences in a conversion.
"""

from __future__ import annotations

import pytest

from tenant_rag.markdown_structure import split_sections


def _paths(body: str) -> list[tuple[str, ...]]:
    return [section.heading_path for section in split_sections(body)]


UNFENCED_PYTHON = """# Getting started

Install the client, then:

from example import Client

# Create a client
client = Client(host="db.internal")
# Read one row
row = client.get(42)

## Next steps

Read the reference.
"""

UNFENCED_SHELL = """## Build

Run these commands:

$ git clone https://example.org/repo.git
# Enter the folder
cd repo
# Build everything
make build --jobs=4

## Test

    go test ./...
  # Run one package only
    go test ./pkg/store
"""

UNFENCED_FIRST_COMMENT = """## Configure the collector

Add this file:

# collector.yaml
receivers:
  otlp:
    # Listen on every interface
    endpoint: 0.0.0.0:4317

## Run it

Start the binary.
"""


@pytest.mark.parametrize(
    ("body", "expected", "comments"),
    [
        (
            UNFENCED_PYTHON,
            [("Getting started",), ("Getting started", "Next steps")],
            ["# Create a client", "# Read one row"],
        ),
        (UNFENCED_SHELL, [("Build",), ("Test",)], ["# Enter the folder", "# Build everything"]),
        (UNFENCED_FIRST_COMMENT, [("Configure the collector",), ("Run it",)], ["# collector.yaml", "# Listen on"]),
    ],
)
def test_comments_in_unfenced_code_are_not_headings(
    body: str, expected: list[tuple[str, ...]], comments: list[str]
) -> None:
    assert _paths(body) == expected
    first = split_sections(body)[0].text
    assert all(comment in first for comment in comments)
    assert "# Run one package only" in split_sections(UNFENCED_SHELL)[1].text


REAL_README = """# SIG Example

The SIG owns the example subsystem.

## Contact
- Slack: [#sig-example](https://slack.example.org/messages/sig-example)
- Mailing list: [sig-example](https://groups.example.org/sig-example)

### subproject-one
- Owners: [OWNERS](https://example.org/OWNERS)
- Slack: [#subproject-one](https://slack.example.org/messages/subproject-one)

## Meetings
Weekly on Tuesdays (see the calendar).
"""

REAL_NOTES = """## 2023/08/30

* Attendees: alice, bob
    * follow-up on flaky jobs
    * maybe moving some into the existing panel

  ## Q: do we still run the old tests?

  * [issue 17714](https://example.org/issues/17714)
"""

REAL_HOWTO = """## Install

```shell
# this comment is fenced
pip install example
```

## Configure
Set `EXAMPLE_HOME=/opt/example` before the first run.

Continuing:

### server-api
The server API is stable.
"""


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            REAL_README,
            [
                ("SIG Example",),
                ("SIG Example", "Contact"),
                ("SIG Example", "Contact", "subproject-one"),
                ("SIG Example", "Meetings"),
            ],
        ),
        (REAL_NOTES, [("2023/08/30",), ("Q: do we still run the old tests?",)]),
        (REAL_HOWTO, [("Install",), ("Configure",), ("Configure", "server-api")]),
    ],
)
def test_real_headings_stay_next_to_links_lists_and_fences(body: str, expected: list[tuple[str, ...]]) -> None:
    assert _paths(body) == expected


def test_a_heading_right_after_a_code_line_is_code_but_not_after_prose() -> None:
    assert _paths("## A\n\nx = compute(1)\n## not a heading\n\nmore") == [("A",)]
    assert _paths("## A\n\nThe value is computed once.\n## B\n\nmore") == [("A",), ("B",)]
    assert _paths("## A\n\nresult = run()\n\n## B\n\nprose again") == [("A",), ("B",)]
