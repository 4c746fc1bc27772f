"""Nicknames to canonical first names, so "Bob Smith" and "Robert Smith" compare as one name.

The table is data: keys and values are name keys (see `idgraph.normalize.fields.name_key`:
lower-case, accents stripped). Only nicknames that point to one name in practice are listed;
ambiguous ones ("Alex", "Sam", "Pat", "Chris" for Christine) are left out, because a wrong
mapping makes two different people look alike. A canonical name is never itself a key, so the
mapping is applied once and is idempotent.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["NICKNAMES", "canonical_first_name"]

_TABLE: dict[str, str] = {
    # English
    "bob": "robert",
    "bobby": "robert",
    "rob": "robert",
    "robbie": "robert",
    "robby": "robert",
    "bill": "william",
    "billy": "william",
    "will": "william",
    "willy": "william",
    "willie": "william",
    "liz": "elizabeth",
    "lizzie": "elizabeth",
    "lizzy": "elizabeth",
    "beth": "elizabeth",
    "betty": "elizabeth",
    "betsy": "elizabeth",
    "eliza": "elizabeth",
    "kate": "katherine",
    "katie": "katherine",
    "kathy": "catherine",
    "cathy": "catherine",
    "jim": "james",
    "jimmy": "james",
    "mike": "michael",
    "mikey": "michael",
    "tony": "anthony",
    "dick": "richard",
    "rick": "richard",
    "ricky": "richard",
    "richie": "richard",
    "dave": "david",
    "davey": "david",
    "dan": "daniel",
    "danny": "daniel",
    "tom": "thomas",
    "tommy": "thomas",
    "joe": "joseph",
    "joey": "joseph",
    "chris": "christopher",
    "ed": "edward",
    "eddie": "edward",
    "ben": "benjamin",
    "matt": "matthew",
    "nick": "nicholas",
    "andy": "andrew",
    "greg": "gregory",
    "jeff": "jeffrey",
    "josh": "joshua",
    "larry": "lawrence",
    "jerry": "gerald",
    "hank": "henry",
    "johnny": "john",
    "charlie": "charles",
    "chuck": "charles",
    "fred": "frederick",
    "freddie": "frederick",
    "ron": "ronald",
    "ronnie": "ronald",
    "don": "donald",
    "ken": "kenneth",
    "kenny": "kenneth",
    "tim": "timothy",
    "timmy": "timothy",
    "peggy": "margaret",
    "maggie": "margaret",
    "meg": "margaret",
    "jenny": "jennifer",
    "jen": "jennifer",
    "sue": "susan",
    "susie": "susan",
    "debbie": "deborah",
    "becky": "rebecca",
    "vicky": "victoria",
    "abby": "abigail",
    "mandy": "amanda",
    # Italian
    "beppe": "giuseppe",
    "peppe": "giuseppe",
    "peppino": "giuseppe",
    "gigi": "luigi",
    "franco": "francesco",
    "checco": "francesco",
    "sandro": "alessandro",
    "nando": "ferdinando",
    "toto": "salvatore",
    "tore": "salvatore",
    "turi": "salvatore",
    "enzo": "vincenzo",
    "gianni": "giovanni",
    "nanni": "giovanni",
    "pippo": "filippo",
    "mimmo": "domenico",
    "tonino": "antonio",
    "bice": "beatrice",
    "betta": "elisabetta",
    "pina": "giuseppina",
    # Spanish
    "pepe": "jose",
    "paco": "francisco",
    "pancho": "francisco",
    "curro": "francisco",
    "nacho": "ignacio",
    "lola": "dolores",
    "lupe": "guadalupe",
    "chelo": "consuelo",
    "concha": "concepcion",
    "conchita": "concepcion",
    "memo": "guillermo",
    "quique": "enrique",
    "charo": "rosario",
    "rafa": "rafael",
    "manolo": "manuel",
    "chucho": "jesus",
    "chus": "jesus",
    "tono": "antonio",
    "chema": "jose maria",
    "juanjo": "juan jose",
    # German
    "hans": "johannes",
    "hannes": "johannes",
    "sepp": "josef",
    "jupp": "josef",
    "fritz": "friedrich",
    "willi": "wilhelm",
    "heinz": "heinrich",
    "resi": "theresia",
    "lotte": "charlotte",
    "grete": "margarete",
    "gretel": "margarete",
    "steffi": "stefanie",
    "uli": "ulrich",
    "bernd": "bernhard",
    "basti": "sebastian",
    "flo": "florian",
    # French
    "jeannot": "jean",
    "pierrot": "pierre",
    "manu": "emmanuel",
    "margot": "marguerite",
    "babette": "elisabeth",
}

#: Nickname -> canonical first name, as name keys. Read-only; extend `_TABLE` to add entries.
NICKNAMES: Mapping[str, str] = MappingProxyType(_TABLE)


def canonical_first_name(name_key: str) -> str:
    """The canonical form of a first-name key; unknown names are returned unchanged.

    A whole key is looked up first; otherwise only its first word is mapped, so a nickname
    followed by a middle name still resolves ("bob lee" -> "robert lee").

    Args:
        name_key: A first name already passed through `name_key`.

    Examples:
        >>> canonical_first_name("bob"), canonical_first_name("beppe"), canonical_first_name("ada")
        ('robert', 'giuseppe', 'ada')
        >>> canonical_first_name("bob lee")
        'robert lee'
    """
    whole = NICKNAMES.get(name_key)
    if whole is not None:
        return whole
    first, space, rest = name_key.partition(" ")
    mapped = NICKNAMES.get(first)
    if mapped is None:
        return name_key
    return f"{mapped}{space}{rest}"
