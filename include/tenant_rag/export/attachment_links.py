"""What the storage converter may know about attached files during one run, built from what the run already has.

Pages are found by (space, title) in the run's listings (and, for spaces not in the run, in the manifest); their
files in the spaces' attachment listings. A file links to its exported text document when the run will have one
(see :func:`attachments.expects_document`; a draw.io diagram's labels live there), else to its download URL. No
request is made here: a file of a page whose attachments were not listed gets the site's download URL.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable

from tenant_rag.config import AttachmentsConfig
from tenant_rag.export.attachments import document_paths, expects_document
from tenant_rag.export.manifest import ExportManifest
from tenant_rag.export.models import AttachmentInfo
from tenant_rag.export.planning import SpacePlan
from tenant_rag.export.storage_context import AttachmentRef


class AttachmentLinks:
    """The run's attached files, looked up from the page being converted (see :meth:`for_page`)."""

    def __init__(
        self,
        plans: list[SpacePlan],
        manifest: ExportManifest,
        config: AttachmentsConfig,
        download_url: Callable[[str, str], str],
    ) -> None:
        self._download_url = download_url  # (page id, file name) -> URL
        self._page_ids: dict[tuple[str, str], str] = {
            (key, entry.title): entry.page_id for key, pages in manifest.spaces.items() for entry in pages.values()
        }
        self._files: dict[str, dict[str, AttachmentInfo]] = {}  # page id -> file name -> file, for listed spaces
        self._documents: dict[str, str] = {}  # attachment id -> its document's path under exports/
        for plan in plans:
            key = plan.space.key
            self._page_ids.update({(key, page.title): page_id for page_id, page in plan.listing.items()})
            if plan.attachments is None:
                continue
            self._files.update({page_id: {} for page_id in plan.listing})
            previous = manifest.attachments.get(key, {})
            paths = document_paths(key, plan.attachments)
            for info in plan.attachments:
                self._files.setdefault(info.page_id, {})[info.file_name] = info
                if info.page_id in plan.scope and expects_document(info, config, previous.get(info.attachment_id)):
                    self._documents[info.attachment_id] = paths[info.attachment_id]

    def _ref(self, info: AttachmentInfo, here: str) -> AttachmentRef:
        path = self._documents.get(info.attachment_id)
        return AttachmentRef(info.file_name, info.download_url, posixpath.relpath(path, here or ".") if path else None)

    def _owner(self, page_id: str, title: str | None, space: str) -> str | None:
        return page_id if title is None else self._page_ids.get((space, title))

    def attachment(
        self, page_id: str, path: str, file_name: str, title: str | None, space: str
    ) -> AttachmentRef | None:
        """The file ``file_name`` of page ``title`` in ``space`` (None: of ``page_id`` itself), seen from the page
        exported at ``path``; None when the page is unknown or its listed files do not include it."""
        owner = self._owner(page_id, title, space)
        if owner is None:
            return None
        files = self._files.get(owner)
        if files is None:
            return AttachmentRef(file_name, self._download_url(owner, file_name))
        info = files.get(file_name)
        return self._ref(info, posixpath.dirname(path)) if info is not None else None

    def attachments_of(self, page_id: str, path: str, title: str | None, space: str) -> list[AttachmentRef] | None:
        """The files of page ``title`` in ``space`` (None: ``page_id``) by name; None when they were not listed."""
        owner = self._owner(page_id, title, space)
        files = self._files.get(owner) if owner is not None else None
        if owner is None or files is None:
            return None
        here = posixpath.dirname(path)
        return [self._ref(files[name], here) for name in sorted(files, key=str.lower)]
