"""One exception class per way a Runway call can fail.

Messages never contain the API key. ``transient`` tells the caller whether trying
again later can help.
"""

from __future__ import annotations

from .models import ValidationIssue


class RunwayError(Exception):
    """Base class of every Runway client error."""

    transient: bool = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class RunwayValidationError(RunwayError):
    """400: Runway refused the request body or could not fetch an asset."""

    def __init__(
        self, message: str, *, issues: list[ValidationIssue] | None = None, status: int = 400
    ) -> None:
        super().__init__(message, status=status)
        self.issues = issues or []

    def describe(self) -> str:
        """The message and each issue as ``path: message``."""
        parts = [self.message]
        for issue in self.issues:
            path = ".".join(str(p) for p in issue.path)
            parts.append(f"{path}: {issue.message}" if path else issue.message)
        return "; ".join(p for p in parts if p)


class AuthenticationError(RunwayError):
    """401/403: the API key is missing, wrong or not allowed. The operator must act."""


class BalanceExhaustedError(AuthenticationError):
    """The account's balance is used up (the gateway's 403 ``insufficient_user_quota``)."""


class NotFoundError(RunwayError):
    """404: the task (or resource) does not exist."""


class TaskNotVisibleYet(NotFoundError):
    """CometAPI answered ``task_not_exist``: a just-created task may not be visible yet."""

    transient = True


class CancelUnsupportedError(RunwayError):
    """The provider cannot cancel tasks (the gateway does not route DELETE): the task runs on."""


class RateLimitedError(RunwayError):
    """429: too many requests or the daily quota is reached."""

    transient = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, status=429)
        self.retry_after = retry_after


class DailyLimitError(RateLimitedError):
    """429 on create: the account's daily generation limit is reached (resets at midnight
    UTC). Retrying within minutes cannot help."""

    transient = False


class ServerError(RunwayError):
    """5xx: Runway is unavailable or shedding load.

    ``shed`` is True when the body is the provider's own load-shedding answer (Runway's JSON
    error, or the gateway's "no channel" error): the request was refused before any work.
    An HTML or unknown body may come from anything in between, after the request went on.
    """

    transient = True

    def __init__(self, message: str, *, status: int | None = None, shed: bool = False) -> None:
        super().__init__(message, status=status)
        self.shed = shed


class RunwayTimeoutError(RunwayError):
    """The request did not complete in time (it may or may not have reached Runway)."""

    transient = True


class RunwayConnectionError(RunwayError):
    """The connection could not be made or broke.

    ``request_sent`` is False when the request surely never reached the server.
    """

    transient = True

    def __init__(self, message: str, *, request_sent: bool = True) -> None:
        super().__init__(message)
        self.request_sent = request_sent


class BadResponseError(RunwayError):
    """The answer could not be understood (malformed JSON, unexpected shape)."""

    transient = True


class MissingTaskIdError(BadResponseError):
    """A create was accepted (2xx) but the answer names no task: it may run and bill unseen."""


class OutputExpiredError(RunwayError):
    """The output URL answered 403/404/410: it expired. Fetch the task again for a fresh one."""


class OutputTooLargeError(RunwayError):
    """The output file is bigger than the caller allowed."""

    def __init__(self, message: str, *, size: int | None = None, limit: int) -> None:
        super().__init__(message)
        self.size = size
        self.limit = limit
