"""A page's footer comments as a Markdown section appended to its body (``export.include_comments``)."""

from __future__ import annotations

from tenant_rag.export.models import Comment
from tenant_rag.export.storage_markdown import ConversionContext, storage_to_markdown

HEADING = "## Comments"


def comments_markdown(comments: list[Comment], context: ConversionContext) -> str:
    """``## Comments`` then, per comment (oldest first), its author and date and its body; "" without comments."""
    parts = []
    for comment in comments:
        body = storage_to_markdown(comment.storage, context).markdown.strip()
        if not body:
            continue
        when = f" on {comment.created.date().isoformat()}" if comment.created else ""
        parts.append(f"**{comment.author or 'Unknown user'}**{when}:\n\n{body}")
    return "\n\n".join([HEADING, *parts]) if parts else ""
