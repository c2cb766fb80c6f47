"""Errors of the Confluence export. Each names the customer, space, page or URL it is about."""

from __future__ import annotations

from tenant_rag.errors import PermanentError, TenantRagError
from tenant_rag.urls import public_url


class ExportError(PermanentError):
    """The export of a customer cannot run (bad export config, unusable base URL...)."""


class SpaceNotFoundError(ExportError, LookupError):
    """A configured space key does not exist on the Confluence site (or the credentials cannot see it)."""

    def __init__(self, customer_id: str, space_key: str, base_url: str) -> None:
        self.customer_id = customer_id
        self.space_key = space_key
        self.base_url = base_url
        super().__init__(
            f"customer {customer_id!r}: space {space_key!r} does not exist on {public_url(base_url)} "
            "(or the Confluence credentials cannot see it); check export.space_keys in config.yaml"
        )


class ConfluenceHTTPError(TenantRagError):
    """A request that failed for good (after retries, or with a status no retry can fix)."""

    def __init__(self, message: str, *, url: str, status: int | None = None) -> None:
        self.url = url
        self.status = status
        super().__init__(message)


class ConfluenceAuthError(ConfluenceHTTPError, PermanentError):
    """401/403: the credentials are wrong or lack permission; retrying cannot help."""


class RetryBudgetExhaustedError(ConfluenceHTTPError):
    """The run's total retry budget is spent: the site is too unhealthy to keep retrying."""


class DownloadTooLargeError(ConfluenceHTTPError):
    """A download (an attachment) is larger than the configured limit; it is not read to the end."""


class ConfluenceForbiddenError(ConfluenceAuthError):
    """403: the credentials are valid but may not read this resource (for one page: a restricted page)."""


class PageUnreadableError(TenantRagError):
    """One page of a listing cannot be read; the export records it and goes on (see ``exporter`` for the policy)."""

    def __init__(self, page_id: str, *, status: int | None, reason: str, message: str) -> None:
        self.page_id = page_id
        self.status = status
        self.reason = reason
        super().__init__(f"page {page_id}: {message}")


class PageForbiddenError(PageUnreadableError):
    """403 on a listed page: the indexing account can no longer see it."""


class PageNotFoundError(PageUnreadableError):
    """404 on a listed page: deleted since the listing, or (when the listing still shows it) hidden."""


class PageBodyMissingError(PageUnreadableError):
    """The page answered without ``body.storage`` (not expanded): writing it would store an empty page."""
