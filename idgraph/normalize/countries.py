"""Country names and codes to ISO 3166-1 alpha-2; a table of its own beside `fields`."""

from __future__ import annotations

import phonenumbers

from idgraph.errors import FieldError
from idgraph.normalize.fields import name_key

# Each row: alpha-2, alpha-3, then English and native names and common aliases. Names are
# matched through `name_key`, so accents, case and dots do not matter.
_COUNTRY_ROWS: tuple[tuple[str, ...], ...] = (
    ("AR", "ARG", "argentina"),
    ("AT", "AUT", "austria", "osterreich"),
    ("AU", "AUS", "australia"),
    ("BE", "BEL", "belgium", "belgique", "belgie", "belgien"),
    ("BG", "BGR", "bulgaria"),
    ("BR", "BRA", "brazil", "brasil"),
    ("CA", "CAN", "canada"),
    ("CH", "CHE", "switzerland", "schweiz", "suisse", "svizzera"),
    ("CL", "CHL", "chile"),
    ("CN", "CHN", "china", "peoples republic of china", "prc"),
    ("CO", "COL", "colombia"),
    ("CY", "CYP", "cyprus"),
    ("CZ", "CZE", "czech republic", "czechia", "cesko", "ceska republika"),
    ("DE", "DEU", "germany", "deutschland", "allemagne", "germania", "alemania"),
    ("DK", "DNK", "denmark", "danmark"),
    ("EE", "EST", "estonia", "eesti"),
    ("EG", "EGY", "egypt"),
    ("ES", "ESP", "spain", "espana", "spagna", "espagne", "spanien"),
    ("FI", "FIN", "finland", "suomi"),
    ("FR", "FRA", "france", "francia", "frankreich"),
    (
        "GB",
        "GBR",
        "uk",
        "united kingdom",
        "great britain",
        "britain",
        "england",
        "scotland",
        "wales",
        "northern ireland",
        "regno unito",
        "reino unido",
        "royaume uni",
    ),
    ("GR", "GRC", "greece", "hellas", "ellada"),
    ("HK", "HKG", "hong kong"),
    ("HR", "HRV", "croatia", "hrvatska"),
    ("HU", "HUN", "hungary", "magyarorszag"),
    ("ID", "IDN", "indonesia"),
    ("IE", "IRL", "ireland", "eire", "republic of ireland"),
    ("IL", "ISR", "israel"),
    ("IN", "IND", "india", "bharat"),
    ("IS", "ISL", "iceland", "island"),
    ("IT", "ITA", "italy", "italia", "italie", "italien"),
    ("JP", "JPN", "japan", "nippon"),
    ("KR", "KOR", "south korea", "korea", "republic of korea"),
    ("LT", "LTU", "lithuania", "lietuva"),
    ("LU", "LUX", "luxembourg", "luxemburg"),
    ("LV", "LVA", "latvia", "latvija"),
    ("MA", "MAR", "morocco", "maroc"),
    ("MT", "MLT", "malta"),
    ("MX", "MEX", "mexico"),
    ("MY", "MYS", "malaysia"),
    ("NG", "NGA", "nigeria"),
    ("NL", "NLD", "netherlands", "the netherlands", "holland", "nederland", "paesi bassi"),
    ("NO", "NOR", "norway", "norge", "noreg"),
    ("NZ", "NZL", "new zealand", "aotearoa"),
    ("PE", "PER", "peru"),
    ("PH", "PHL", "philippines", "pilipinas"),
    ("PL", "POL", "poland", "polska"),
    ("PT", "PRT", "portugal"),
    ("RO", "ROU", "romania"),
    ("RS", "SRB", "serbia", "srbija"),
    ("RU", "RUS", "russia", "russian federation", "rossiya"),
    ("SA", "SAU", "saudi arabia"),
    ("SE", "SWE", "sweden", "sverige"),
    ("SG", "SGP", "singapore"),
    ("SI", "SVN", "slovenia", "slovenija"),
    ("SK", "SVK", "slovakia", "slovensko"),
    ("SM", "SMR", "san marino"),
    ("TH", "THA", "thailand"),
    ("TR", "TUR", "turkey", "turkiye"),
    ("TW", "TWN", "taiwan"),
    ("UA", "UKR", "ukraine", "ukraina"),
    (
        "US",
        "USA",
        "united states",
        "united states of america",
        "america",
        "stati uniti",
        "estados unidos",
        "etats unis",
        "vereinigte staaten",
    ),
    ("VA", "VAT", "vatican", "vatican city", "holy see"),
    ("VN", "VNM", "vietnam", "viet nam"),
    ("ZA", "ZAF", "south africa"),
)
#: Valid alpha-2 codes: every geographic region phonenumbers knows, minus its non-ISO extras.
_ALPHA2 = frozenset(phonenumbers.SUPPORTED_REGIONS) - {"AC", "TA"}


def _country_lookup() -> dict[str, str]:
    table = {code.lower(): code for code in _ALPHA2}
    for alpha2, alpha3, *names in _COUNTRY_ROWS:
        for alias in (alpha3.lower(), *names):
            table[name_key(alias)] = alpha2
    return table


_COUNTRIES = _country_lookup()


def normalize_country(raw: str) -> str | None:
    """ISO 3166-1 alpha-2 code from a code or a common English or native country name.

    Knows every alpha-2 code, plus alpha-3 codes and names of about 65 countries
    (``ITA``, ``Italia``, ``Deutschland``, ``España``, ``U.K.``, ``United States``).

    Raises:
        FieldError: (field ``country``) when the value is none of those.

    Examples:
        >>> normalize_country("Italia"), normalize_country("u.s.a."), normalize_country("gb")
        ('IT', 'US', 'GB')
    """
    if not raw.strip():
        return None
    key = name_key(raw)
    code = _COUNTRIES.get(key) or _COUNTRIES.get(key.replace(" ", ""))
    if code is None:
        raise FieldError(
            "country",
            "unknown country (expected an ISO 3166 alpha-2/alpha-3 code or a country name, "
            "e.g. IT, ITA, Italy)",
        )
    return code
