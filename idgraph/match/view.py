"""The derived, comparison-ready view of a record that blocking and comparisons read."""

from __future__ import annotations

from idgraph.models import Record
from idgraph.normalize.fields import email_local_part, name_key
from idgraph.normalize.nicknames import canonical_first_name
from idgraph.normalize.record import full_name_key


def match_fields(record: Record) -> dict[str, str]:
    """Match keys of one record: names folded and nickname-canonicalised, email local part."""
    fields = record.fields
    view: dict[str, str] = {}
    first = fields.get("first_name")
    last = fields.get("last_name")
    if first:
        view["first_name"] = canonical_first_name(name_key(first))
    if last:
        view["last_name"] = name_key(last)
    if first or last:
        view["full_name"] = full_name_key(fields)
    email = fields.get("email")
    if email:
        # gmail addresses lose their dots when normalized; compare every local part without them
        view["email_local"] = email_local_part(email).replace(".", "")
    for name in ("birth_date", "phone", "country"):
        if fields.get(name):
            view[name] = fields[name]
    if fields.get("postcode"):
        view["postcode"] = fields["postcode"].replace(" ", "")
    for name in ("city", "street"):
        if fields.get(name):
            view[name] = name_key(fields[name])
    return view
