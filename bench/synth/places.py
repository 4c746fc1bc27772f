"""Built-in place data: cities with region and postcode ranges, streets, email domains, phones."""

from __future__ import annotations

from typing import NamedTuple


class City(NamedTuple):
    """A city, its region, and how its postcodes look.

    Numeric postcodes are `start + step * k` up to `end`, zero-padded to 5 digits. British
    postcodes are `(area, first district, last district)` outward codes plus a random inward code.
    """

    name: str
    state: str
    weight: float
    postcodes: tuple[int, int, int] | tuple[tuple[str, int, int], ...]


CITIES: dict[str, tuple[City, ...]] = {
    "IT": (
        City("Milano", "Lombardia", 5, (20121, 20162, 1)),
        City("Roma", "Lazio", 6, (118, 199, 1)),
        City("Napoli", "Campania", 4, (80121, 80147, 1)),
        City("Torino", "Piemonte", 3, (10121, 10156, 1)),
        City("Bologna", "Emilia-Romagna", 2, (40121, 40141, 1)),
        City("Firenze", "Toscana", 2, (50121, 50145, 1)),
        City("Bari", "Puglia", 1.5, (70121, 70132, 1)),
        City("Palermo", "Sicilia", 2, (90121, 90151, 1)),
        City("Verona", "Veneto", 1, (37121, 37142, 1)),
        City("Genova", "Liguria", 1.5, (16121, 16167, 1)),
        City("Bergamo", "Lombardia", 0.5, (24121, 24129, 1)),
        City("Brescia", "Lombardia", 0.7, (25121, 25136, 1)),
        City("Padova", "Veneto", 0.8, (35121, 35143, 1)),
        City("Lecce", "Puglia", 0.4, (73100, 73100, 1)),
    ),
    "DE": (
        City("Berlin", "Berlin", 6, (10115, 14199, 1)),
        City("Hamburg", "Hamburg", 3, (20095, 22769, 1)),
        City("München", "Bayern", 3, (80331, 81929, 1)),
        City("Köln", "Nordrhein-Westfalen", 2, (50667, 51149, 1)),
        City("Frankfurt am Main", "Hessen", 1.5, (60306, 60599, 1)),
        City("Stuttgart", "Baden-Württemberg", 1.2, (70173, 70629, 1)),
        City("Düsseldorf", "Nordrhein-Westfalen", 1, (40210, 40629, 1)),
        City("Leipzig", "Sachsen", 1, (4103, 4357, 1)),
        City("Dresden", "Sachsen", 1, (1067, 1328, 1)),
        City("Nürnberg", "Bayern", 1, (90402, 90491, 1)),
    ),
    "FR": (
        City("Paris", "Île-de-France", 6, (75001, 75020, 1)),
        City("Lyon", "Auvergne-Rhône-Alpes", 2, (69001, 69009, 1)),
        City("Marseille", "Provence-Alpes-Côte d'Azur", 2, (13001, 13016, 1)),
        City("Toulouse", "Occitanie", 1.5, (31000, 31500, 100)),
        City("Nice", "Provence-Alpes-Côte d'Azur", 1, (6000, 6300, 100)),
        City("Nantes", "Pays de la Loire", 1, (44000, 44300, 100)),
        City("Bordeaux", "Nouvelle-Aquitaine", 1, (33000, 33800, 100)),
        City("Lille", "Hauts-de-France", 1, (59000, 59800, 100)),
        City("Strasbourg", "Grand Est", 0.8, (67000, 67200, 100)),
    ),
    "GB": (
        City(
            "London",
            "Greater London",
            8,
            (("SW", 1, 20), ("SE", 1, 28), ("N", 1, 22), ("E", 1, 18), ("W", 2, 14), ("NW", 1, 11)),
        ),
        City("Manchester", "Greater Manchester", 2, (("M", 1, 40),)),
        City("Birmingham", "West Midlands", 2, (("B", 1, 48),)),
        City("Leeds", "West Yorkshire", 1.5, (("LS", 1, 29),)),
        City("Glasgow", "Scotland", 1.5, (("G", 1, 53),)),
        City("Bristol", "Bristol", 1, (("BS", 1, 16),)),
        City("Liverpool", "Merseyside", 1, (("L", 1, 39),)),
        City("Edinburgh", "Scotland", 1, (("EH", 1, 17),)),
        City("Cardiff", "Wales", 0.8, (("CF", 3, 24),)),
    ),
    "ES": (
        City("Madrid", "Comunidad de Madrid", 5, (28001, 28055, 1)),
        City("Barcelona", "Cataluña", 4, (8001, 8042, 1)),
        City("Valencia", "Comunitat Valenciana", 2, (46001, 46026, 1)),
        City("Sevilla", "Andalucía", 1.5, (41001, 41020, 1)),
        City("Zaragoza", "Aragón", 1, (50001, 50021, 1)),
        City("Málaga", "Andalucía", 1, (29001, 29018, 1)),
        City("Bilbao", "País Vasco", 0.8, (48001, 48015, 1)),
    ),
}

#: Letters allowed in the British inward code.
GB_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"

STREETS: dict[str, tuple[str, ...]] = {
    "IT": (
        "Via Roma",
        "Via Garibaldi",
        "Via Mazzini",
        "Corso Italia",
        "Via Dante",
        "Via Verdi",
        "Piazza della Repubblica",
        "Via Cavour",
        "Via Marconi",
        "Via Manzoni",
        "Viale Europa",
        "Via XX Settembre",
        "Corso Vittorio Emanuele",
        "Via dei Mille",
        "Via Leopardi",
        "Via San Francesco",
    ),
    "DE": (
        "Hauptstraße",
        "Schulstraße",
        "Gartenstraße",
        "Bahnhofstraße",
        "Dorfstraße",
        "Bergstraße",
        "Lindenstraße",
        "Kirchstraße",
        "Waldstraße",
        "Ringstraße",
        "Goethestraße",
        "Schillerstraße",
        "Mozartstraße",
        "Am Markt",
        "Friedrichstraße",
        "Rosenweg",
    ),
    "FR": (
        "rue de la Paix",
        "rue Victor Hugo",
        "avenue Jean Jaurès",
        "rue de la République",
        "boulevard Voltaire",
        "rue Pasteur",
        "rue du Moulin",
        "place de l'Église",
        "avenue de la Gare",
        "rue des Écoles",
        "rue Nationale",
        "allée des Tilleuls",
        "rue Gambetta",
        "chemin des Vignes",
    ),
    "GB": (
        "High Street",
        "Station Road",
        "Church Lane",
        "Park Road",
        "Victoria Road",
        "Green Lane",
        "Manor Road",
        "Church Street",
        "Kings Road",
        "Queens Road",
        "Mill Lane",
        "The Avenue",
        "York Road",
        "London Road",
        "Albert Street",
        "Richmond Road",
    ),
    "ES": (
        "Calle Mayor",
        "Calle Real",
        "Avenida de la Constitución",
        "Calle San Juan",
        "Plaza de España",
        "Calle del Sol",
        "Calle Nueva",
        "Avenida de Andalucía",
        "Calle de Alcalá",
        "Gran Vía",
        "Calle Iglesia",
        "Paseo de Gracia",
        "Calle de Cervantes",
        "Calle Goya",
    ),
}
#: Countries that write the house number before the street name.
NUMBER_FIRST = frozenset({"FR", "GB"})

#: Abbreviations people type (the `street_abbrev` noise): first match wins.
STREET_ABBREVIATIONS: tuple[tuple[str, str], ...] = (
    ("straße", "str."),
    ("Street", "St"),
    ("Road", "Rd"),
    ("Lane", "Ln"),
    ("Avenue", "Ave"),
    ("avenue", "av."),
    ("boulevard", "bd"),
    ("Avenida", "Avda."),
    ("Calle", "C/"),
    ("Piazza", "P.zza"),
    ("Corso", "C.so"),
    ("Viale", "V.le"),
)

EMAIL_DOMAINS: dict[str, tuple[str, ...]] = {
    "IT": ("gmail.com", "libero.it", "hotmail.it", "yahoo.it", "alice.it", "outlook.it"),
    "DE": ("gmail.com", "web.de", "gmx.de", "t-online.de", "outlook.de"),
    "FR": ("gmail.com", "orange.fr", "free.fr", "laposte.net", "hotmail.fr", "sfr.fr"),
    "GB": ("gmail.com", "hotmail.co.uk", "btinternet.com", "outlook.com", "yahoo.co.uk"),
    "ES": ("gmail.com", "hotmail.es", "yahoo.es", "outlook.es", "telefonica.net"),
}
#: First word of a family mailbox's local part (`famiglia.rossi`, `familie.muller`).
FAMILY_WORDS: dict[str, str] = {
    "IT": "famiglia",
    "DE": "familie",
    "FR": "famille",
    "GB": "family",
    "ES": "familia",
}
#: Junk addresses typed at tills and in forms; shared by strangers.
JUNK_EMAILS: tuple[str, ...] = (
    "test@test.com",
    "noemail@noemail.com",
    "none@none.com",
    "no@email.com",
    "a@a.com",
)
PLUS_TAGS: tuple[str, ...] = ("shop", "news", "promo", "2024", "spam", "ortensia")


class PhonePlan(NamedTuple):
    """A country's calling code and number shapes: prefixes followed by random digits."""

    calling_code: str
    mobile_prefixes: tuple[str, ...]
    landline_prefixes: tuple[str, ...]
    #: Length of the national significant number (without trunk prefix).
    length: int
    trunk: str


PHONES: dict[str, PhonePlan] = {
    "IT": PhonePlan(
        "39",
        ("320", "328", "329", "333", "338", "340", "347", "349", "366"),
        ("02", "06", "081", "011", "051", "055"),
        10,
        "",
    ),
    "DE": PhonePlan(
        "49", ("151", "152", "157", "160", "170", "171", "176"), ("30", "40", "89", "69"), 11, "0"
    ),
    "FR": PhonePlan(
        "33",
        ("60", "61", "62", "64", "65", "66", "67", "68", "75", "76", "77"),
        ("14", "20", "33", "44", "49"),
        9,
        "0",
    ),
    "GB": PhonePlan(
        "44",
        ("740", "745", "750", "755", "771", "777", "783", "788", "795"),
        ("207", "203", "1612", "1214"),
        10,
        "0",
    ),
    "ES": PhonePlan("34", ("6",), ("91", "93", "96", "95"), 9, ""),
}
