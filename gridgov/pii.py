"""Personal data: validation and masking of PRC resident ID numbers and phone numbers.

Every API response and page shows the masked form; the raw value leaves the database only through
an explicit, logged action (a later issue) or an admin export.
"""

import datetime as dt
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# GB 11643-1999: weights 2^(17-i) mod 11, check character table indexed by the weighted sum mod 11.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$")
_MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
_PHONE_RE = re.compile(r"^(0\d{2,3}-?)?\d{7,8}$")


def id_check_char(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def normalize_id_number(value: str) -> str:
    return (value or "").strip().upper().replace(" ", "")


def validate_id_number(value: str) -> None:
    """18-character resident ID: digits, a real birth date, and the ISO 7064 MOD 11-2 check."""
    value = normalize_id_number(value)
    if not _ID_RE.match(value):
        raise ValidationError(_("身份证号应为 18 位（前 17 位数字，末位数字或 X）"), code="id_format")
    try:
        birth = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise ValidationError(_("身份证号中的出生日期无效"), code="id_birth_date") from None
    if birth.year < 1880 or birth > dt.date.today():
        raise ValidationError(_("身份证号中的出生日期无效"), code="id_birth_date")
    if id_check_char(value[:17]) != value[17]:
        raise ValidationError(_("身份证号校验位错误"), code="id_checksum")


def id_birth_date(value: str) -> dt.date:
    return dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))


def id_gender(value: str) -> str:
    """'M' or 'F' from the sequence digit (odd = male)."""
    return "M" if int(value[16]) % 2 else "F"


def mask_id_number(value: str | None) -> str:
    """`330127199001011234` → `3301**********1234`: region prefix and last four only."""
    if not value:
        return ""
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def normalize_phone(value: str) -> str:
    return re.sub(r"[\s()（）]", "", value or "")


def validate_phone(value: str) -> None:
    value = normalize_phone(value)
    if not (_MOBILE_RE.match(value) or _PHONE_RE.match(value)):
        raise ValidationError(_("电话号码格式不正确（手机 11 位，或固话如 0571-12345678）"), code="phone_format")


def mask_phone(value: str | None) -> str:
    """`13812345678` → `138****5678`; landlines keep area code and last four."""
    if not value:
        return ""
    if len(value) <= 7:
        return value[:1] + "*" * (len(value) - 1)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]
