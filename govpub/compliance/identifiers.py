"""Check digits of the identifiers the gate recognises.

Pure functions, no I/O: the maskers use them to mask only numbers that really are
identity or card numbers, and to leave organisations' codes alone.

* 公民身份号码 — GB 11643-1999: 6-digit area code, 8-digit birth date, 3-digit
  sequence, ISO 7064 MOD 11-2 check character (``0``–``9`` or ``X``). The 15-digit
  numbers issued before 1999 have a 6-digit birth date (19YYMMDD) and no check digit.
* 统一社会信用代码 — GB 32100-2015 (:mod:`schemas.codes`, which validates ``credit_code``).
* Bank card numbers (PAN) — ISO/IEC 7812-1, Luhn check digit.
"""

from datetime import date

from schemas.codes import CREDIT_CODE_ALPHABET, credit_code_check_char, is_credit_code

__all__ = [
    "CREDIT_CODE_ALPHABET",
    "credit_code_check_char",
    "id_check_char",
    "is_credit_code",
    "is_id15",
    "is_id18",
    "luhn_check_digit",
    "luhn_ok",
]

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_check_char(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits of an identity number."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("need exactly 17 ASCII digits")
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def _valid_birth_date(year: int, month: int, day: int) -> bool:
    if not 1900 <= year <= 2099:
        return False
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def is_id18(value: str) -> bool:
    """True for an 18-character identity number with a real birth date and a valid check character.

    The first digit is not restricted to the mainland's 1–8: since 2023 the foreigners'
    permanent-residence identity card uses the same format and starts with 9.
    """
    if len(value) != 18 or not value.isascii():
        return False
    body, check = value[:17], value[17].upper()
    if not body.isdigit() or value[0] == "0":
        return False
    if not _valid_birth_date(int(body[6:10]), int(body[10:12]), int(body[12:14])):
        return False
    return id_check_char(body) == check


def is_id15(value: str) -> bool:
    """True for a 15-digit identity number (pre-1999 format) with a real birth date."""
    if len(value) != 15 or not value.isascii() or not value.isdigit() or value[0] == "0":
        return False
    return _valid_birth_date(1900 + int(value[6:8]), int(value[8:10]), int(value[10:12]))


def luhn_ok(digits: str) -> bool:
    """True when ``digits`` (ASCII digits only) passes the Luhn check."""
    if not digits or not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        n = int(char)
        if position % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def luhn_check_digit(payload: str) -> str:
    """The digit that makes ``payload + digit`` pass the Luhn check."""
    for digit in "0123456789":
        if luhn_ok(payload + digit):
            return digit
    raise ValueError("need ASCII digits")  # pragma: no cover - one digit always fits
