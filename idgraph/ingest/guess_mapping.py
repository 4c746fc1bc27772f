"""A starting mapping for a CSV, guessed from its header and a sample of its values.

`idgraph mapping init FILE.csv` prints it for a person to review: the guess is a draft, never
used unseen. Each choice carries the reason it was made, rendered as a YAML comment.

What is recognised:

- golden fields and identifiers by header name, in the common spellings of English, Italian,
  German, French, Spanish, Portuguese and Dutch exports (`e-mail`, `telefono`, `cognome`,
  `nachname`, `dob`, `geburtsdatum`, `plz`, ...);
- emails, phone numbers and timestamps by their values too, whatever the header says;
- the record id by content: a column filled and unique in every sampled row (or, when the rows
  are transactions, the id-like column that repeats: a loyalty card, a customer number);
- transactions: a time column plus an amount or a repeating id make every row an event
  (`Order Completed` when there is an amount, with `total` and `store` as the built-in
  computed traits read them);
- the phone region and the date order from the values (a country column, `+39` prefixes,
  `23/11/1958` can only be day first);
- every other column as a trait typed number, boolean, date or string from its values.
"""

from __future__ import annotations

import csv
import io
import re
import textwrap
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import phonenumbers
import yaml

from idgraph.errors import FieldError, InputError
from idgraph.ingest.mapping import IDENTIFIER_COLUMNS, SourceMapping, default_source_name
from idgraph.normalize.countries import normalize_country
from idgraph.normalize.fields import normalize_date
from idgraph.store.schema import NODE_TABLES
from idgraph.types import TraitType

__all__ = ["MappingGuess", "guess_mapping"]

#: Rows read to guess from; enough to see repeats and formats, cheap on any file.
DEFAULT_SAMPLE_ROWS = 1000
#: Share of a column's filled values that must look like an email (phone, ...) to say so.
_CONTENT_SHARE = 0.8
_MAX_SAMPLE_BYTES = 8 * 1024 * 1024
#: Longest line of the rendered YAML; longer notes go on lines of their own above their key.
_WIDTH = 100


def _words(text: str) -> frozenset[str]:
    return frozenset(text.lower().split())


#: Header names per target, compared without case, accents, spaces or punctuation.
_NAMES: dict[str, frozenset[str]] = {
    "email": _words(
        "email emailaddress mail emailadresse mailadresse epost courriel adresseemail "
        "adressemail correo correoelectronico posta postaelettronica indirizzoemail "
        "emailadres enderecoemail"
    ),
    "phone": _words(
        "phone phonenumber telephone tel telno telefono telefon telefonnummer mobile "
        "mobilephone mobilenumber cell cellphone cellulare cell cellular handy handynummer "
        "mobil movil celular portable numerotelephone telefoonnummer telefoon numtel "
        "numerotelefono"
    ),
    "first_name": _words(
        "firstname first givenname forename fname nome vorname prenom nombre voornaam primeironome"
    ),
    "last_name": _words(
        "lastname last surname familyname lname cognome nachname familienname nom apellido "
        "apellidos achternaam sobrenome"
    ),
    "full_name": _words(
        "name fullname customername contactname clientname membername completename "
        "nomecompleto nomeecognome nominativo vollername nomcomplet nombrecompleto "
        "volledigenaam nomecliente kundenname nomclient nombrecliente"
    ),
    "birth_date": _words(
        "birthdate dateofbirth dob birthday bday geburtsdatum geburtstag datadinascita "
        "datanascita nascita fechadenacimiento fechanacimiento datedenaissance naissance "
        "geboortedatum datanasc datadenascimento"
    ),
    "street": _words(
        "street address address1 addressline1 streetaddress indirizzo via strasse adresse rue "
        "calle direccion straat endereco morada"
    ),
    "city": _words(
        "city town citta ort stadt wohnort ville ciudad localidad comune plaats cidade locality"
    ),
    "postcode": _words(
        "postcode postalcode zip zipcode cap plz postleitzahl codepostal cp codigopostal postnummer"
    ),
    "country": _words("country countrycode nazione paese land pays pais countryname nation"),
    "customer_id": _words(
        "customerid customernumber customerno custid custno clientid clientnumber clientno "
        "codicecliente idcliente numerocliente kundennummer kundenid kundennr numeroclient "
        "accountid accountnumber memberid membernumber crmid externalid"
    ),
    "user_id": _words("userid login loginid username"),
    "anonymous_id": _words("anonymousid anonid cookieid visitorid"),
    "device_id": _words("deviceid idfa gaid adid advertisingid"),
    "updated_at": _words(
        "updatedat lastmodified modified modifiedat lastupdated updated updatedon changedat "
        "lastchanged geaendertam geandertam aktualisiert letzteanderung aggiornato "
        "datamodifica ultimamodifica fechamodificacion datemodification"
    ),
}
#: Header words of a column whose values name the row's entity (id-like, may repeat).
_ID_WORDS = _words(
    "id key number no nr num code codice numero nummer card carta tessera karte carte "
    "tarjeta cartao"
)
#: Header words of a money amount (a transaction's total).
_AMOUNT = _words(
    "amount total totale importo betrag summe gesamt montant monto valor price revenue "
    "spend spent value grandtotal"
)
_STORE = _words("store storeid shop shopid negozio filiale puntovendita tienda magasin")
_EMAIL = re.compile(r"[^@\s,;]+@[^@\s,;]+\.[a-z]{2,}", re.IGNORECASE)
_PHONE_TEXT = re.compile(r"[+(]?[\d\s().\-/]{6,}")
_TRUE = frozenset({"true", "yes", "y", "t", "1", "si", "sì", "ja", "oui", "vrai"})
_FALSE = frozenset({"false", "no", "n", "f", "0", "nein", "non", "faux"})
_BOOLEAN_VALUES = frozenset({"true", "false", "yes", "no", "y", "n", "t", "f", "1", "0"})
#: A person's whole name: two or more words of letters (apostrophes, dots, dashes inside).
_ONE_NAME = re.compile(r"[^\W\d_][\w'.\-]*")
_WHOLE_NAME = re.compile(r"[^\W\d_][\w'.\-]*(?:,? +[^\W\d_][\w'.\-]*)+")
_DAY_MONTH = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})")
#: Regions tried for phone numbers written without a country code.
_COMMON_REGIONS = ("US", "GB", "DE", "FR", "IT", "ES", "NL", "PT", "BR", "CA", "AU", "IN")
#: Names a trait must not take: built-in customer columns and reserved keys.
_TAKEN = frozenset(NODE_TABLES["Customer"]) | {"id", "key", "label", "type", "properties"}


def _compact(header: str) -> str:
    """`E-Mail Adresse` -> `emailadresse`: lower case, no accents, letters and digits only."""
    text = unicodedata.normalize("NFKD", header.replace("ß", "ss"))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _snake(header: str) -> str:
    """A property name from a header: `Lifetime Value (€)` -> `lifetime_value`."""
    text = unicodedata.normalize("NFKD", header.replace("ß", "ss"))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    name = re.sub(r"[^a-z0-9]+", "_", text).strip("_")[:63] or "column"
    return name if re.match(r"[a-z]", name) else f"c_{name}"[:63]


@dataclass
class _Column:
    """One column's header and its filled sample values, with what those values look like."""

    name: str
    values: list[str]
    rows: int

    @cached_property
    def compact(self) -> str:
        return _compact(self.name)

    @cached_property
    def distinct(self) -> int:
        return len(set(self.values))

    def share(self, test: Any) -> float:
        return sum(1 for v in self.values if test(v)) / len(self.values) if self.values else 0.0

    @cached_property
    def emails(self) -> float:
        return self.share(_EMAIL.fullmatch)

    @cached_property
    def phone_like(self) -> float:
        return self.share(_looks_like_phone)

    @cached_property
    def formatted_phones(self) -> float:
        """Share written as phones only are: with `+`, `00`, spaces, dots, dashes or brackets."""
        return self.share(lambda v: _looks_like_phone(v) and not v.isdigit())

    @cached_property
    def timestamps(self) -> float:
        return self.share(_is_timestamp)

    @cached_property
    def dates(self) -> float:
        return self.share(lambda v: _is_date(v) and not _is_timestamp(v))

    @cached_property
    def numbers(self) -> float:
        return self.share(_is_number)

    @cached_property
    def booleans(self) -> float:
        return self.share(lambda v: v.lower() in _BOOLEAN_VALUES)

    @cached_property
    def id_like(self) -> bool:
        """Filled in every sampled row with short tokens holding a digit: an id of something."""
        return (
            bool(self.values)
            and len(self.values) == self.rows
            and all(
                len(v) <= 64 and " " not in v and any(c.isdigit() for c in v) for v in self.values
            )
            and self.emails < _CONTENT_SHARE
            and self.dates + self.timestamps < _CONTENT_SHARE
            and not any("." in v for v in self.values)
        )

    @property
    def unique(self) -> bool:
        return self.distinct == len(self.values) == self.rows


def _looks_like_phone(value: str) -> bool:
    if not _PHONE_TEXT.fullmatch(value) or _is_date(value):
        return False
    digits = sum(c.isdigit() for c in value)
    return 7 <= digits <= 15


def _is_timestamp(value: str) -> bool:
    if not re.search(r"\d[T ]\d{1,2}:\d{2}", value):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_date(value: str) -> bool:
    for order in ("DMY", "MDY"):
        try:
            if normalize_date(value, order=order, today=date.max):
                return True
        except FieldError:
            continue
    return False


def _is_number(value: str) -> bool:
    if re.fullmatch(r"0\d+", value):  # leading zeros: a code, not a quantity
        return False
    try:
        float(value)
    except ValueError:
        return False
    return value.lower() not in {"nan", "inf", "-inf", "infinity", "+inf"}


@dataclass
class MappingGuess:
    """A guessed mapping and why each of its choices was made.

    Attributes:
        path: the CSV the guess was made from.
        mapping: the guessed mapping, already validated.
        rows: data rows sampled.
        notes: the reason of each choice, keyed like the YAML: `id`, `columns.email`,
            `traits.loyalty_tier`, `event`, `default_region`, ...
    """

    path: Path
    mapping: SourceMapping
    rows: int
    notes: dict[str, str] = field(default_factory=dict)

    def to_yaml(self) -> str:
        """The mapping as YAML, each choice followed by a comment saying why it was made."""
        return _render(self)


def guess_mapping(
    path: Path | str, *, sample_rows: int = DEFAULT_SAMPLE_ROWS, delimiter: str | None = None
) -> MappingGuess:
    """Guess a source mapping for a CSV from its header and its first rows.

    Args:
        path: the CSV file (UTF-8, header on line 1).
        sample_rows: how many data rows to look at.
        delimiter: the cell delimiter; default: sniffed among `,` `;` tab and `|`.

    Returns:
        The guess; `guess.to_yaml()` is what `idgraph mapping init` prints.

    Raises:
        InputError: the file cannot be read, is not UTF-8 text, or has no header.

    Examples:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> table = folder / "shop.csv"
        >>> _ = table.write_text("Kundennummer,E-Mail,Nachname\\nK1,a@b.de,Roth\\nK2,c@d.de,Ott\\n")
        >>> guess = guess_mapping(table)
        >>> guess.mapping.id, guess.mapping.columns["customer_id"], guess.mapping.columns["email"]
        ('Kundennummer', 'Kundennummer', 'E-Mail')
    """
    path = Path(path)
    header, rows, sep = _sample(path, sample_rows, delimiter)
    columns = [
        _Column(name, [row[i].strip() for row in rows if row[i].strip()], len(rows))
        for i, name in enumerate(header)
    ]
    return _Guesser(path, columns, len(rows), sep).guess()


def _sample(
    path: Path, sample_rows: int, delimiter: str | None
) -> tuple[list[str], list[list[str]], str]:
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_SAMPLE_BYTES)
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}", path=path) from exc
    if b"\x00" in data:
        raise InputError("binary file, not a CSV table", path=path)
    text = data.decode("utf-8-sig", errors="replace")
    if len(data) == _MAX_SAMPLE_BYTES:
        text = text.rsplit("\n", 1)[0]
    if not text.strip():
        raise InputError("the file is empty; expected a header row", path=path, line=1)
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(text[:65536], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [cell.strip() for cell in next(reader)]
    if not any(header):
        raise InputError("line 1 is blank; expected the header row", path=path, line=1)
    rows: list[list[str]] = []
    for row in reader:
        if len(rows) >= sample_rows:
            break
        if len(row) == len(header):
            rows.append(row)
    return header, rows, delimiter


class _Guesser:
    """Decides the mapping column by column, noting the reason of each decision."""

    def __init__(self, path: Path, columns: list[_Column], rows: int, delimiter: str) -> None:
        self.path = path
        named = {c.name: c for c in reversed(columns) if c.name}  # the first of a repeated name
        self.columns = [c for c in columns if named.get(c.name) is c]
        self.rows = rows
        self.delimiter = delimiter
        self.notes: dict[str, str] = {}
        self.used: set[str] = set()
        self.fields: dict[str, str] = {}

    def guess(self) -> MappingGuess:
        source = default_source_name(self.path)
        self.notes["source"] = "from the file name"
        for target in ("email", "phone", *_NAMES):
            if target not in self.fields and target != "customer_id":
                self._field(target)
        event = self._event()
        record_id = self._record_id(event)
        if event is not None and "updated_at" not in self.fields:
            self.fields["updated_at"] = event["timestamp"]
            self.notes["columns.updated_at"] = (
                "the event time dates each row, so the newest row's values win"
            )
        elif "updated_at" not in self.fields:
            times = [c for c in self._free() if c.values and c.timestamps >= _CONTENT_SHARE]
            if len(times) == 1:
                self._take(
                    "updated_at",
                    times[0],
                    "the only column of times dates each row, so the newest row's values win; "
                    "make it a trait instead if it says something else",
                )
        traits: dict[str, dict[str, str]] = {}
        properties: dict[str, dict[str, str]] = {}
        for column in self.columns:
            if column.name in self.used:
                continue
            kind, why = _trait_type(column)
            if event is not None:
                name = self._property_name(column, properties)
                properties[name] = {"column": column.name, "type": kind}
                self.notes[f"event.properties.{name}"] = why
            else:
                name = self._trait_name(column, traits, source)
                traits[name] = {"column": column.name, "type": kind}
                self.notes[f"traits.{name}"] = why
        data: dict[str, Any] = {"source": source, "id": record_id, "columns": self.fields}
        if traits:
            data["traits"] = traits
        if event is not None:
            data["event"] = {**event, "properties": properties} if properties else event
        region = self._region()
        if region:
            data["default_region"] = region
        order = self._date_order()
        if order:
            data["date_order"] = order
        if self.delimiter != ",":
            data["delimiter"] = self.delimiter
            self.notes["delimiter"] = "sniffed from the header and the first rows"
        return MappingGuess(self.path, SourceMapping.model_validate(data), self.rows, self.notes)

    def _free(self) -> list[_Column]:
        return [c for c in self.columns if c.name not in self.used]

    def _take(self, target: str, column: _Column, why: str) -> None:
        self.fields[target] = column.name
        self.used.add(column.name)
        self.notes[f"columns.{target}"] = why

    def _field(self, target: str) -> None:
        named = [c for c in self._free() if c.compact in _NAMES[target]]
        if target == "email":
            by_content = [c for c in self._free() if c.emails >= _CONTENT_SHARE]
            for column in named + by_content:
                if column.emails >= 0.5 or not column.values:
                    share = f"{round(column.emails * len(column.values))}/{len(column.values)}"
                    how = "header and values" if column in named else "values"
                    self._take(target, column, f"by {how}: {share} values are email addresses")
                    return
            return
        if target == "phone":
            by_content = [
                c
                for c in self._free()
                if c.phone_like >= _CONTENT_SHARE
                and (c.formatted_phones >= 0.2 or self._valid_phones(c) >= _CONTENT_SHARE)
            ]
            for column in named + by_content:
                if column.phone_like >= 0.5 or not column.values:
                    how = "header and values" if column in named else "values"
                    self._take(target, column, f"by {how}: written as phone numbers")
                    return
            return
        if target == "updated_at":
            for column in named:
                if column.timestamps + column.dates >= _CONTENT_SHARE or not column.values:
                    self._take(target, column, "header names a change time; values are times")
                    return
            return
        if target == "full_name":
            if "first_name" in self.fields and "last_name" in self.fields:
                return
            for column in named:
                if column.values and column.share(_WHOLE_NAME.fullmatch) >= 0.5:
                    self._take(
                        target,
                        column,
                        f"header {column.name!r}; values are names of two or more words, "
                        "split into first and last name",
                    )
                    return
                if "last_name" in self.fields and column.share(_ONE_NAME.fullmatch) >= 0.5:
                    self._take(
                        "first_name",
                        column,
                        f"header {column.name!r} beside a last name column; values are "
                        "single names",
                    )
                    return
            return
        if target == "birth_date":
            for column in named:
                if column.dates >= 0.5 or not column.values:
                    self._take(target, column, f"header {column.name!r}; values are dates")
                    return
            return
        if named:
            self._take(target, named[0], f"header {named[0].name!r}")

    def _valid_phones(self, column: _Column) -> float:
        """The largest share of the values that are valid numbers read in one region."""
        if not column.values:
            return 0.0
        best = max(sum(_valid_in(v, r) for v in column.values) for r in _COMMON_REGIONS)
        return best / len(column.values)

    def _event(self) -> dict[str, str] | None:
        """Rows are events when a time column comes with an amount or a repeating entity id."""
        times = [
            c
            for c in self._free()
            if c.values and c.timestamps + c.dates >= _CONTENT_SHARE and c.dates < _CONTENT_SHARE
        ] or [c for c in self._free() if c.values and c.dates >= _CONTENT_SHARE]
        amounts = [c for c in self._free() if c.compact in _AMOUNT and c.numbers >= 0.9]
        repeating = [c for c in self._free() if c.id_like and not c.unique]
        if not times or not (amounts or repeating):
            return None
        when = times[0]
        event = {
            "name": "Order Completed" if amounts else _title(self.path),
            "timestamp": when.name,
        }
        self.used.add(when.name)
        unique = [c for c in self._free() if c.id_like and c.unique]
        if unique and repeating:
            event["id"] = unique[0].name
            self.used.add(unique[0].name)
        why = f"column {when.name!r} holds times"
        why += f" and {amounts[0].name!r} an amount" if amounts else ""
        why += f", and {repeating[0].name!r} repeats across rows" if repeating else ""
        self.notes["event"] = f"each row is an event: {why}"
        if amounts:
            self.notes["event.name"] = (
                "Segment's name for a purchase, which the built-in computed traits count"
            )
        if "id" in event:
            self.notes["event.id"] = "unique in every sampled row: the row's own id"
        else:
            self.notes["event.id"] = "no unique id column: each event is keyed by its row's hash"
        return event

    def _record_id(self, event: dict[str, str] | None) -> str:
        """The column whose value keys the record; it may also feed an identifier."""
        ids = {self.fields[t] for t in IDENTIFIER_COLUMNS if t in self.fields}
        candidates = [
            c for c in self.columns if c.id_like and (c.name not in self.used or c.name in ids)
        ]
        repeating = [c for c in candidates if not c.unique]
        unique = [c for c in candidates if c.unique]
        if event is not None and repeating:
            chosen = _prefer_named(repeating)
            why = (
                f"an id that repeats across rows: rows with the same {chosen.name} fold into one "
                "record, each row an event of it"
            )
        elif unique:
            chosen = _prefer_named(unique)
            why = "filled and unique in every sampled row"
        elif email := self.fields.get("email"):
            self.notes["id"] = "no id column: the email is the record id (check it is filled)"
            return email
        else:
            chosen = (self._free() or self.columns)[0]
            why = "no column looks like a unique id; the first column is a placeholder: check"
        self.notes["id"] = why
        self.used.add(chosen.name)
        customer = [c for c in self.columns if c.compact in _NAMES["customer_id"]]
        if chosen.compact in _NAMES["customer_id"]:
            self.fields["customer_id"] = chosen.name
            self.notes["columns.customer_id"] = (
                "the id is a customer number other sources may carry too: it links them"
            )
        elif customer and customer[0].name not in self.used:
            self._take("customer_id", customer[0], f"header {customer[0].name!r}")
        return chosen.name

    def _property_name(self, column: _Column, taken: dict[str, Any]) -> str:
        if column.compact in _AMOUNT and "total" not in taken and column.numbers >= 0.9:
            return "total"
        if column.compact in _STORE and "store" not in taken:
            return "store"
        return _unique_name(_snake(column.name), taken)

    def _trait_name(self, column: _Column, taken: dict[str, Any], source: str) -> str:
        name = _snake(column.name)
        if name in _TAKEN:
            name = f"{source}_{name}"[:63]
        return _unique_name(name, taken)

    def _region(self) -> str | None:
        """The region of national phone numbers: a country column's commonest value, else the
        region under which most of the phone numbers without a country code are valid."""
        country = self.fields.get("country")
        if country is not None:
            codes: Counter[str] = Counter()
            column = next(c for c in self.columns if c.name == country)
            for value in column.values:
                try:
                    code = normalize_country(value)
                except FieldError:
                    continue
                if code and code in phonenumbers.SUPPORTED_REGIONS:
                    codes[code] += 1
            if codes:
                code, n = codes.most_common(1)[0]
                self.notes["default_region"] = (
                    f"the commonest country in column {country!r} ({n} of "
                    f"{len(column.values)}): phones without a country code are read as {code}"
                )
                return code
        phone = self.fields.get("phone")
        if phone is None:
            return None
        values = next(c for c in self.columns if c.name == phone).values
        national = [v for v in values if not v.lstrip("( ").startswith(("+", "00"))]
        if not national:
            return None
        # The countries the column's international numbers belong to break ties first: a
        # British file's "07911 123456" is a valid German number too.
        abroad = Counter(c for v in values if v not in national and (c := _country_code(v)))
        mains = [phonenumbers.region_code_for_country_code(code) for code in abroad]
        candidates = [*_COMMON_REGIONS, *(r for r in mains if r not in _COMMON_REGIONS)]
        best, score = None, (0, 0)
        for region in candidates:
            calling = phonenumbers.country_code_for_region(region)
            rank = (sum(_valid_in(v, region) for v in national), abroad[calling])
            if rank[0] and rank > score:
                best, score = region, rank
        if best is not None:
            self.notes["default_region"] = (
                f"{score[0]} of {len(national)} phone numbers without a country code are valid "
                f"numbers of {best}"
                + (f", the country of {score[1]} written with a country code" if score[1] else "")
            )
        return best

    def _date_order(self) -> str | None:
        day_first = month_first = 0
        example = ""
        for column in self.columns:
            if column.dates < 0.5:
                continue
            for value in column.values:
                found = _DAY_MONTH.fullmatch(value)
                if not found:
                    continue
                first, second = int(found[1]), int(found[2])
                if first > 12 >= second:
                    day_first += 1
                    example = example or f"{value!r} in column {column.name!r}"
                elif second > 12 >= first:
                    month_first += 1
                    example = example or f"{value!r} in column {column.name!r}"
        if day_first and not month_first:
            self.notes["date_order"] = f"{example} can only be day first"
            return "DMY"
        if month_first and not day_first:
            self.notes["date_order"] = f"{example} can only be month first"
            return "MDY"
        return None


def _country_code(value: str) -> int | None:
    """The country calling code of a valid number written with it (+44, 0044)."""
    text = "+" + value[2:] if value.startswith("00") else value
    try:
        number = phonenumbers.parse(text)
    except phonenumbers.NumberParseException:
        return None
    return number.country_code if phonenumbers.is_valid_number(number) else None


def _valid_in(value: str, region: str) -> bool:
    try:
        return bool(phonenumbers.is_valid_number(phonenumbers.parse(value, region)))
    except phonenumbers.NumberParseException:
        return False


def _prefer_named(columns: list[_Column]) -> _Column:
    """The column whose header reads most like an id, and of those the one with most values:
    a customer's card number rather than the store's code."""

    def rank(column: _Column) -> tuple[bool, bool, int]:
        words = set(_snake(column.name).split("_"))
        customer = column.compact in _NAMES["customer_id"]
        return (customer, bool(words & _ID_WORDS) or column.compact.endswith("id"), column.distinct)

    return max(columns, key=rank)


def _unique_name(name: str, taken: Iterable[str]) -> str:
    used = set(taken)
    candidate, n = name, 2
    while candidate in used:
        candidate = f"{name[:60]}_{n}"
        n += 1
    return candidate


def _title(path: Path) -> str:
    return default_source_name(path).replace("_", " ").title() + " Row"


def _trait_type(column: _Column) -> tuple[TraitType, str]:
    if not column.values:
        return "string", "empty in the sample: a string until values say otherwise"
    values = {v.lower() for v in column.values}
    if column.booleans == 1.0 and values <= _BOOLEAN_VALUES and len(values) <= 2:
        shown = "/".join(sorted(values))
        return "boolean", f"values {shown}"
    if column.numbers == 1.0:
        if all(v.isdigit() for v in column.values) and (
            set(_snake(column.name).split("_")) & _ID_WORDS
            or (len({len(v) for v in column.values}) == 1 and len(column.values[0]) >= 5)
        ):
            return "string", "digits, but a code (named like one, or all of one length)"
        return "number", "every value is a number"
    if column.dates + column.timestamps == 1.0:
        if column.timestamps:
            return "date", "values are times; a date trait keeps their day"
        return "date", "every value is a date"
    shown = f"{column.distinct} distinct value{'s' * (column.distinct != 1)}"
    return "string", f"text, {shown} in {len(column.values)}"


def _scalar(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True)
    return text.strip().removesuffix("...").strip()


def _typed(spec: dict[str, str]) -> str:
    return f"{{column: {_scalar(spec['column'])}, type: {spec['type']}}}"


def _render(guess: MappingGuess) -> str:
    m, notes = guess.mapping, guess.notes
    lines = [
        f"# Source mapping guessed by `idgraph mapping init` from {guess.path.name}",
        f"# ({guess.rows} data rows sampled). Review every line: each comment says why it was",
        "# chosen. Keys are explained in docs/mapping.md.",
    ]

    def put(indent: str, key: str, value: str, note: str | None) -> None:
        line = f"{indent}{key}: {value}"
        if note and len(line) + len(note) + 4 > _WIDTH:
            lines.extend(f"{indent}# {part}" for part in textwrap.wrap(note, _WIDTH - 10))
        elif note:
            line += f"  # {note}"
        lines.append(line)

    put("", "source", _scalar(m.source), notes.get("source"))
    put("", "id", _scalar(m.id), notes.get("id"))
    if m.columns:
        lines.append("columns:")
        for target, column in m.columns.items():
            put("  ", target, _scalar(column), notes.get(f"columns.{target}"))
    else:
        lines.append("columns: {}  # no golden field or identifier recognised: map them by hand")
    if m.traits:
        lines.append("traits:")
        for name, spec in m.traits.items():
            put("  ", name, _typed(spec.model_dump()), notes.get(f"traits.{name}"))
    if m.event is not None:
        lines.extend(f"# {part}" for part in textwrap.wrap(notes["event"], _WIDTH - 2))
        lines.append("event:")
        put("  ", "name", _scalar(m.event.name), notes.get("event.name"))
        put("  ", "timestamp", _scalar(m.event.timestamp), None)
        if m.event.id is not None:
            put("  ", "id", _scalar(m.event.id), notes.get("event.id"))
        else:
            lines.append(f"  # {notes['event.id']}")
        if m.event.properties:
            lines.append("  properties:")
            for name, spec in m.event.properties.items():
                put("    ", name, _typed(spec.model_dump()), notes.get(f"event.properties.{name}"))
    for key in ("default_region", "date_order", "delimiter"):
        value = getattr(m, key)
        if key == "delimiter" and value == ",":
            continue
        if value is not None:
            put("", key, _scalar(value), notes.get(key))
    return "\n".join(lines) + "\n"
