"""The 统一社会信用代码 check (GB 32100-2015), needed to validate ``credit_code``.

18 characters from a 31-character alphabet (no I, O, S, V, Z); the last is a MOD 31
check character over the first 17. Pure functions, no I/O.
"""

CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_check_char(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters of a credit code."""
    if len(first17) != 17 or any(c not in CREDIT_CODE_ALPHABET for c in first17):
        raise ValueError("need 17 characters of the credit-code alphabet")
    total = sum(
        CREDIT_CODE_ALPHABET.index(c) * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True)
    )
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def is_credit_code(value: str) -> bool:
    """True for an 18-character 统一社会信用代码 with a valid check character."""
    if len(value) != 18 or any(c not in CREDIT_CODE_ALPHABET for c in value):
        return False
    return credit_code_check_char(value[:17]) == value[17]
