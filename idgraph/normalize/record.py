"""What normalizing one raw value means: the options a source sets, and the rule per value.

`NormalizeOptions` carries what differs between sources or markets (phone region, date order,
junk lists, erased identifiers). `_normalize_value` is the definition of one golden field's
value: the field's normalizer from `idgraph.normalize.fields` (or `countries`), then the junk
rule. `idgraph.normalize.columns` applies it to whole columns, and its vectorised fast paths
give the same answers.
"""

from __future__ import annotations

from collections.abc import Callable

import phonenumbers
from pydantic import BaseModel, ConfigDict, field_validator

from idgraph.errors import FieldError
from idgraph.normalize.countries import normalize_country
from idgraph.normalize.fields import (
    DateOrder,
    clean_name,
    normalize_date,
    normalize_email,
    normalize_phone,
    normalize_postcode,
    normalize_text,
)
from idgraph.normalize.junk import DEFAULT_JUNK, JunkConfig
from idgraph.types import FIELD_NAMES

__all__ = ["NormalizeOptions"]


class NormalizeOptions(BaseModel):
    """How raw values are read: the settings that differ between sources or markets.

    Attributes:
        default_region: ISO 3166 alpha-2 region for phone numbers written without ``+``.
        date_order: How ``NN/NN/YYYY`` dates are read: day first (``DMY``) or month first.
        junk: Placeholder values dropped instead of kept as identifiers or fields.
        erased: One-way hashes of identifiers erased at a person's request
            (`idgraph forget`); a record carrying one is refused, never stored.

    Examples:
        >>> options = NormalizeOptions(default_region=" it ", date_order="MDY")
        >>> options.default_region, options.date_order, options.junk.is_junk("phone", "n/a")
        ('IT', 'MDY', True)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    default_region: str = "US"
    date_order: DateOrder = "DMY"
    junk: JunkConfig = DEFAULT_JUNK
    erased: frozenset[str] = frozenset()

    @field_validator("default_region")
    @classmethod
    def _region_known(cls, region: str) -> str:
        code = region.strip().upper()
        if code not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError("expected an ISO 3166 alpha-2 region code such as US, GB, IT or DE")
        return code


_Normalizer = Callable[[str, NormalizeOptions], "str | None"]

_NORMALIZERS: dict[str, _Normalizer] = {
    "email": lambda raw, _: normalize_email(raw),
    "phone": lambda raw, opts: normalize_phone(raw, opts.default_region),
    "first_name": lambda raw, _: clean_name(raw),
    "last_name": lambda raw, _: clean_name(raw),
    "birth_date": lambda raw, opts: normalize_date(raw, order=opts.date_order),
    "street": lambda raw, _: normalize_text(raw),
    "city": lambda raw, _: normalize_text(raw),
    "postcode": lambda raw, _: normalize_postcode(raw),
    "country": lambda raw, _: normalize_country(raw),
}


def _normalize_value(name: str, raw: str, opts: NormalizeOptions) -> str | None:
    """Normalized value of golden field `name`; None when blank or junk.

    Junk is judged on the normalized value, and on the trimmed raw value where the normalizer
    refuses it: a placeholder such as "n/a" as a phone is dropped, not rejected.

    Raises:
        FieldError: naming `name`, when its normalizer refuses the value or `name` is not a
            golden field.
    """
    normalizer = _NORMALIZERS.get(name)
    if normalizer is None:
        raise FieldError(name, f"unknown field (expected one of {', '.join(FIELD_NAMES)})")
    text = raw.strip()
    try:
        value = normalizer(text, opts)
    except FieldError as exc:
        if opts.junk.is_junk(name, text):
            return None
        raise FieldError(name, exc.reason) from exc
    if value is None or opts.junk.is_junk(name, value):
        return None
    return value
