"""Stage 2 of the pipeline: one `SourceRecord` (raw strings) -> one `Record` (canonical values).

Pure and per record, so it runs the same in a loop, a process pool or a Spark partition.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import phonenumbers
from pydantic import BaseModel, ConfigDict, field_validator

from idgraph.errors import FieldError
from idgraph.models import Record, SourceRecord, record_key
from idgraph.normalize.countries import normalize_country
from idgraph.normalize.erased import ERASED_REASON, erased_identifier
from idgraph.normalize.fields import (
    DateOrder,
    clean_name,
    name_key,
    normalize_date,
    normalize_email,
    normalize_phone,
    normalize_postcode,
    normalize_text,
)
from idgraph.normalize.junk import DEFAULT_JUNK, JunkConfig
from idgraph.normalize.nicknames import canonical_first_name
from idgraph.types import FIELD_NAMES, IdentifierKind

__all__ = ["NormalizeOptions", "full_name_key", "to_record"]


class NormalizeOptions(BaseModel):
    """How raw values are read: the settings that differ between sources or markets.

    Attributes:
        default_region: ISO 3166 alpha-2 region for phone numbers written without ``+``.
        date_order: How ``NN/NN/YYYY`` dates are read: day first (``DMY``) or month first.
        junk: Placeholder values dropped instead of kept as identifiers or fields.
        erased: One-way hashes of identifiers erased at a person's request
            (`idgraph forget`); a record carrying one is refused, never stored.
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

#: Identifier kinds whose raw value is normalized like the field of the same name.
_NORMALIZED_KINDS = frozenset({"email", "phone"})


def _normalize_value(name: str, raw: str, opts: NormalizeOptions) -> str | None:
    """Normalized value of field (or identifier kind) `name`; None when blank or junk.

    A raw placeholder that its normalizer refuses ("n/a" as a phone) is dropped, not rejected.
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


def to_record(src: SourceRecord, opts: NormalizeOptions) -> Record:
    """Normalize every field and identifier of one source record.

    Blank and junk values are dropped (the record itself is kept); email and phone also become
    identifiers. Other identifiers (user, anonymous, device and customer ids) are only trimmed:
    their case is significant.

    Args:
        src: What the reader saw on one input line.
        opts: Region, date order and junk lists for this source.

    Returns:
        The normalized record, keyed by `record_key(source, source_id, kind)`.

    Raises:
        FieldError: naming the source field (``birth_date``, ``phone``, ...) whose value is
            unusable, or which is not a golden field at all.

    Examples:
        >>> src = SourceRecord(
        ...     path="crm.csv", line=2, source="crm", source_id="1001", kind="row", ts=0,
        ...     fields={"email": "Ann+x@Shop.com", "phone": "n/a", "first_name": "ANN"},
        ... )
        >>> rec = to_record(src, NormalizeOptions())
        >>> rec.key, rec.fields, sorted(rec.identifiers)
        ('crm:1001', {'email': 'ann@shop.com', 'first_name': 'Ann'}, [('email', 'ann@shop.com')])
    """
    fields: dict[str, str] = {}
    identifiers: set[tuple[IdentifierKind, str]] = set()
    for name, raw in src.fields.items():
        value = _normalize_value(name, raw, opts)
        if value is None:
            continue
        fields[name] = value
        if name == "email":
            identifiers.add(("email", value))
        elif name == "phone":
            identifiers.add(("phone", value))
    for kind, raw in src.raw_identifiers:
        if kind in _NORMALIZED_KINDS:
            value = _normalize_value(kind, raw, opts)
        else:
            text = raw.strip()
            value = None if not text or opts.junk.is_junk(kind, text) else text
        if value is not None:
            identifiers.add((kind, value))
    if opts.erased:
        erased = erased_identifier(set(identifiers), opts.erased)
        if erased is not None:
            raise FieldError(erased, ERASED_REASON)
    return Record(
        key=record_key(src.source, src.source_id, src.kind),
        source=src.source,
        source_id=src.source_id,
        kind=src.kind,
        updated_ts=src.ts,
        fields=fields,
        identifiers=identifiers,
        traits=dict(src.traits),
    )


def full_name_key(fields: Mapping[str, str]) -> str:
    """Match key of a whole name: nickname-resolved first name, then last name, as one key.

    Examples:
        >>> full_name_key({"first_name": "Bob", "last_name": "O'Neil"})
        'robert oneil'
        >>> full_name_key({"last_name": "Rossi"})
        'rossi'
    """
    first = canonical_first_name(name_key(fields.get("first_name", "")))
    return name_key(f"{first} {fields.get('last_name', '')}")
