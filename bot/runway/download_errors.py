"""Errors of :mod:`bot.runway.downloads` (bounded, origin-checked output downloads).

Like every :class:`~bot.runway.errors.RunwayError`, their messages never contain the
API key nor a URL's query string (signed links carry tokens there).
"""

from __future__ import annotations

from .errors import RunwayError


class DownloadTooSlowError(RunwayError):
    """The download's throughput stayed below the minimum over the sliding window.

    Transient: the CDN may be faster later. It is not one of the kinds the client's
    retry policy repeats on the spot, so a slow host cannot hold a worker for several
    attempts in a row; the caller reschedules instead.
    """

    transient = True


class DownloadDeadlineError(DownloadTooSlowError):
    """The whole download (redirects, headers and body) did not finish within its deadline."""


class UnsafeURLError(RunwayError):
    """The link (or a redirect) points somewhere a download must never go.

    A scheme other than https (http only to loopback in simulator mode), credentials in
    the link, a private / loopback / link-local / unspecified address (literal, or among
    the host name's DNS answers), an unreadable redirect, or too many redirects.
    Not transient: the same link is refused again.
    """
