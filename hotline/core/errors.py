"""Domain errors of the application, each with a stable id; the web layer maps them to HTTP in
one place (``hotline/web/errors.py``).

``DomainError``
    ``NotFound``    the thing named does not exist (agent, extension)       → 404
    ``Conflict``    not possible in the current state (not logged in, ...)  → 409
    ``Forbidden``   the caller's role does not allow it                     → 403
    ``Invalid``     the request is well-formed but makes no sense            → 422

``ConfigError``: a configuration file (or an import file) that cannot be used.
``DatabaseNotReady``: a database a read-only command cannot use (no schema, behind...).
"""

from __future__ import annotations


class DomainError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class NotFound(DomainError):
    pass


class Conflict(DomainError):
    pass


class Forbidden(DomainError):
    pass


class Invalid(DomainError):
    pass


class ConfigError(Exception):
    """The configuration (or a file given to a command) cannot be used; ``problems`` name each
    offending field. Not a domain error: the CLI prints it and exits with status 2."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))

    def __str__(self) -> str:
        lines = [f"invalid configuration {self.source}:"]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)


class DatabaseNotReady(Exception):
    """A command that does not migrate met a database it cannot use: unreachable, or its schema
    missing, behind or unknown to this version. The message says what to do; the CLI prints it
    and exits with status 1."""
