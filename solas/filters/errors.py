"""The one error type of the filter vetter and builder."""
from __future__ import annotations


class FilterError(ValueError):
    """A filter was refused: ``problem`` says why, ``field`` names the part of the filter
    (``selected``, ``tables``, ``conditions``, or an argument of the builder) and
    ``position`` is the 0-based character offset in that part (``None`` when the problem
    is not at one place).  ``str(error)`` is a message fit to show to the user."""

    def __init__(self, problem: str, *, field: str | None = None,
                 position: int | None = None) -> None:
        self.problem = problem
        self.field = field
        self.position = position
        if field is not None and position is not None:
            message = f"{field}, character {position + 1}: {problem}"
        elif field is not None:
            message = f"{field}: {problem}"
        else:
            message = problem
        super().__init__(message)
