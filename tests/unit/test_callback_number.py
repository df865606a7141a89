"""The call-back number a ticket keeps: as agents type it on the page (spaces, dashes,
brackets) it is stored as digits; anything else is refused with a validation error (422),
never stored and never a 5xx."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hotline.screenpop.schemas import CallTicketIn
from hotline.tickets.schemas import TicketCreateIn


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("13912345678", "13912345678"),
        ("139-1234-5678", "13912345678"),
        (" ", None),  # a lone space is not a number
        ("(0531) 8888 6666", None),  # must start with a digit or +
        ("0531-88886666", "053188886666"),
        ("+86 139 1234 5678", "+8613912345678"),
        ("", ""),
        ("\uff11\uff13\uff19 1234 5678", "13912345678"),  # full-width, from an input method
    ],
)
def test_the_page_form_keeps_digits(typed: str, kept: str | None) -> None:
    if kept is None:
        with pytest.raises(ValidationError):
            CallTicketIn(callback_number=typed)
    else:
        assert CallTicketIn(callback_number=typed).callback_number == kept


@pytest.mark.parametrize("bad", ["abc", "139123456789012345678901234567890123", "1;DROP", "139\n"])
def test_hostile_numbers_are_refused(bad: str) -> None:
    with pytest.raises(ValidationError):
        CallTicketIn(callback_number=bad)
    with pytest.raises(ValidationError):
        TicketCreateIn(callback_number=bad)
