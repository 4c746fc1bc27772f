"""The fixtures' reference data and the `World` that makes their people, rows and truth.

`bench/make_fixtures.py` builds one `World` from `SEED`; the planted cases
(`fixture_cases`, `fixture_segment_cases`) add to it in a fixed order.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from fixture_check import (
    AS_OF,
    COUNTRY_LABELS,
    fold,
    iso,
    name_scores,
    norm_phone,
    words,
)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fixtures"
SEED = 20261101
START = datetime(2025, 1, 3, tzinfo=UTC)
END = datetime(2026, 10, 28, tzinfo=UTC)
QUIET_WEB_AFTER = datetime(
    2026, 9, 20, tzinfo=UTC
)  # background carts stay out of the 30-day window

# ---------------------------------------------------------------------------------------------
# Reference data
# ---------------------------------------------------------------------------------------------


FIRST = {
    "IT": "Marco Giulia Alessandro Francesca Lorenzo Matteo Valentina Davide Elena Simone "
    "Federica Stefano Silvia Martina Riccardo Alessia Sara Gabriele Beatrice Ilaria Emanuele "
    "Claudia Fabio Serena Nicola Vittorio Ludovica Massimo Arianna Pietro Caterina Daniela "
    "Giorgio Noemi Cristiano Veronica Edoardo Ginevra Filippo Rebecca",
    "DE": "Lukas Anna Jonas Lea Felix Hannah Maximilian Paul Marie Tobias Katharina Florian "
    "Johanna Lena Moritz Carolin Jan Franziska Niklas Greta Uwe Sabine Dieter Ingrid",
    "FR": "Louis Manon Hugo Chloé Lucas Léa Théo Inès Nathan Antoine Juliette Mathis Pauline "
    "Julien Élodie Guillaume Margaux Baptiste Aurélie Quentin Océane Thibault",
    "GB": "Oliver Amelia George Isla Harry Emily Jack Charlotte Olivia Sophia Grace Henry Lucy "
    "Eleanor Freddie Poppy Arthur Imogen Hugh Rosie Callum Niamh",
    "ES": "Lucía María Paula Alejandro Carmen Pablo Sofía Álvaro Javier Marta Sergio Diego "
    "Adrián Nuria Iker Rocío Íñigo Begoña Gonzalo Ainhoa",
}
LAST = {
    "IT": "Russo Romano Ricci Marino Bruno Gallo Mancini Costa Giordano Rizzo Lombardi "
    "Barbieri Fontana Mariani Caruso Ferrara Martini Leone Longo Gentile Martinelli Vitale "
    "Lombardo Serra Coppola De_Santis D'Angelo Marchetti Parisi Villa Cattaneo Fabbri Orlando "
    "Pellegrini Testa Bernardi Farina Sartori Monti Donati Benedetti Guerra",
    "DE": "Schmidt Schneider Fischer Weber Meyer Wagner Schulz Hoffmann Schäfer Koch Bauer "
    "Richter Klein Schröder Neumann Schwarz Zimmermann Braun Krüger Hartmann Lange Vogt "
    "Brandt Haas Kuhn",
    "FR": "Bernard Dubois Petit Durand Leroy Moreau Laurent Michel David Bertrand Roux Vincent "
    "Fournier Morel Girard Mercier Dupont Lambert Bonnet Chevalier Faure Rousseau Blanc Gauthier",
    "GB": "Smith Jones Williams Davies Evans Wilson Johnson Walker Wright Robinson Thompson "
    "White Edwards Green Hall Wood Harris Clarke Patel Jackson Turner Cooper Ward Morgan",
    "ES": "Fernández González Rodríguez López Martínez Sánchez Pérez Gómez Jiménez Ruiz "
    "Hernández Díaz Moreno Muñoz Álvarez Romero Alonso Navarro Torres Domínguez Vázquez Castro",
}
FIRST_NAMES = {c: v.split() for c, v in FIRST.items()}
LAST_NAMES = {c: [n.replace("_", " ") for n in v.split()] for c, v in LAST.items()}


@dataclass(frozen=True)
class City:
    """A city people live in, with real postcodes and the store they shop at."""

    name: str
    country: str
    postcodes: tuple[str, ...]
    store: str


CITIES = [
    City("Milano", "IT", ("20121", "20129", "20135", "20144", "20146", "20154", "20159"), "MI01"),
    City("Roma", "IT", ("00153", "00161", "00176", "00185", "00192", "00198"), "RM01"),
    City("Torino", "IT", ("10121", "10128", "10138", "10143", "10153"), "TO01"),
    City("Napoli", "IT", ("80121", "80127", "80132", "80138", "80142"), "NA01"),
    City("Bologna", "IT", ("40121", "40125", "40133", "40137", "40141"), "BO01"),
    City("Verona", "IT", ("37121", "37126", "37131", "37138"), "VR01"),
    City("Firenze", "IT", ("50121", "50129", "50136", "50144"), "FI01"),
    City("Berlin", "DE", ("10115", "10245", "10405", "10551", "12043", "13357"), "BER1"),
    City("München", "DE", ("80331", "80469", "80799", "81369", "81667"), "MUC1"),
    City("Hamburg", "DE", ("20095", "20357", "22041", "22767"), "HAM1"),
    City("Köln", "DE", ("50667", "50733", "50937"), "CGN1"),
    City("Paris", "FR", ("75003", "75011", "75015", "75018", "75020"), "PAR1"),
    City("Lyon", "FR", ("69001", "69003", "69006", "69007"), "LYS1"),
    City("Nantes", "FR", ("44000", "44100", "44300"), "NTE1"),
    City("London", "GB", ("N1 9GU", "E2 8DY", "SE1 7PB", "NW3 2QG", "SW11 4NJ", "W2 1HB"), "LON1"),
    City("Manchester", "GB", ("M1 1AE", "M4 5JD", "M14 5RT", "M20 2LN"), "MAN1"),
    City("Edinburgh", "GB", ("EH1 1YZ", "EH3 9DR", "EH6 6JH"), "EDI1"),
    City("Madrid", "ES", ("28004", "28012", "28015", "28028", "28045"), "MAD1"),
    City("Barcelona", "ES", ("08001", "08012", "08015", "08025", "08036"), "BCN1"),
    City("Valencia", "ES", ("46001", "46005", "46021"), "VLC1"),
]
CITY = {c.name: c for c in CITIES}
STREETS = {
    "IT": "Via Roma|Via Garibaldi|Via Dante|Viale Monza|Via Mazzini|Via Verdi|"
    "Corso Vittorio Emanuele II|Via Nazionale|Via Cavour|Corso Buenos Aires",
    "DE": "Hauptstraße|Bahnhofstraße|Gartenstraße|Schillerstraße|Goethestraße|Lindenallee|"
    "Bergstraße|Kastanienallee",
    "FR": "rue de la République|rue Victor Hugo|avenue Jean Jaurès|boulevard Voltaire|"
    "rue Pasteur|rue des Lilas",
    "GB": "High Street|Church Road|Station Road|Victoria Road|Park Lane|Queen Street",
    "ES": "Calle Mayor|Calle de Alcalá|Gran Vía|Carrer de Mallorca|Avenida de la Constitución|"
    "Calle del Sol",
}
CURRENCY = {"IT": "EUR", "DE": "EUR", "FR": "EUR", "GB": "GBP", "ES": "EUR"}
EMAIL_DOMAINS = {
    "IT": ["gmail.com", "libero.it", "yahoo.it", "hotmail.it", "tiscali.it", "alice.it"],
    "DE": ["gmx.de", "web.de", "t-online.de", "gmail.com"],
    "FR": ["orange.fr", "free.fr", "laposte.net", "gmail.com"],
    "GB": ["gmail.com", "hotmail.co.uk", "btinternet.com", "outlook.com"],
    "ES": ["gmail.com", "hotmail.es", "yahoo.es", "telefonica.net"],
}
# (country code, mobile prefixes, digits after the prefix)
MOBILES = {
    "IT": ("39", words("320 328 329 333 338 339 340 347 348 349 366 380 389 392 393"), 7),
    "DE": ("49", words("151 152 157 160 170 171 172 175 176 177"), 8),
    "FR": ("33", words("61 62 64 65 66 67 68"), 7),
    "GB": ("44", words("7456 7538 7711 7768 7802 7831 7912 7947 7985"), 6),
    "ES": ("34", ["6"], 8),
}
PRODUCTS = [
    ("SKU-1042", "Linen Shirt", "apparel", 59.90),
    ("SKU-1107", "Wool Scarf", "accessories", 34.50),
    ("SKU-1230", "Leather Tote", "bags", 189.00),
    ("SKU-1311", "Cashmere Sweater", "apparel", 149.00),
    ("SKU-1405", "Ceramic Vase", "home", 42.00),
    ("SKU-1499", "Espresso Cups (set of 4)", "home", 28.00),
    ("SKU-1522", "Running Sneakers", "shoes", 119.00),
    ("SKU-1618", "Silk Dress", "apparel", 229.00),
    ("SKU-1703", "Throw Blanket", "home", 79.00),
    ("SKU-1788", "Sunglasses", "accessories", 95.00),
]
SITE = "https://www.ortensia-store.com"
PAGES = [
    ("/", "Home"),
    ("/donna", "Women"),
    ("/uomo", "Men"),
    ("/casa", "Home & Living"),
    ("/saldi", "Sale"),
    ("/stores", "Store Locator"),
    ("/account", "My Account"),
]
CAMPAIGNS = {
    "spring_newsletter_2026": (datetime(2026, 4, 2, 8, 0, tzinfo=UTC), "SPRING15"),
    "summer_sale_2026": (datetime(2026, 6, 25, 8, 0, tzinfo=UTC), "SUMMER20"),
    "autumn_reactivation_2026": (datetime(2026, 9, 24, 8, 0, tzinfo=UTC), "BACK10"),
}
SHOP_EMAIL = "cassa.milano@ortensia-store.com"  # typed by the cashier when a customer declines
TABLET = "tab-7f3a"
HOUSEHOLD = "household-tablet-7f3a"

# ---------------------------------------------------------------------------------------------
# The generator
# ---------------------------------------------------------------------------------------------


@dataclass
class Person:
    """One real human (or the household tablet) and everything the sources know about them."""

    pid: str
    first: str
    last: str
    country: str
    city: City
    postcode: str
    street: str
    dob: date | None
    email: str
    mobile: str  # national significant number, without country code
    ltv: float = 0.0
    tier: str = "bronze"
    opt_in: bool = True
    user_id: str = ""


@dataclass
class Plant:
    """A planted case for the README table."""

    name: str
    keys: list[str]
    expected: str


@dataclass
class World:
    """Accumulates rows, stream lines and the truth while the people are made."""

    rng: random.Random
    people: list[Person] = field(default_factory=list)
    truth: dict[str, str] = field(default_factory=dict)
    crm: list[dict[str, str]] = field(default_factory=list)
    pos: list[dict[str, str]] = field(default_factory=list)
    web: list[dict[str, Any]] = field(default_factory=list)
    esp: list[dict[str, Any]] = field(default_factory=list)
    plants: list[Plant] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    counters: dict[str, int] = field(default_factory=dict)
    high_spender_share: float = 0.1

    # -- ids ----------------------------------------------------------------------------------

    def fresh(self, make: Callable[[], str]) -> str:
        """A value from `make` that was never handed out before."""
        for _ in range(1000):
            value = make()
            if value not in self.used:
                self.used.add(value)
                return value
        raise RuntimeError("id space exhausted")

    def seq(self, name: str, start: int, step: tuple[int, int] = (1, 1)) -> int:
        """The next number of a named sequence, advancing by a random step."""
        value = self.counters.get(name, start - step[0]) + self.rng.randint(*step)
        self.counters[name] = value
        return value

    def hexid(self, n: int) -> str:
        return f"{self.rng.getrandbits(4 * n):0{n}x}"

    def uuid(self) -> str:
        h = self.hexid(32)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def customer_number(self, dup: bool = False) -> str:
        if dup:
            return self.fresh(lambda: f"C{self.rng.randint(1400, 1999)}")
        return f"C{self.seq('crm', 1001, (1, 3))}"

    def card(self) -> str:
        return self.fresh(lambda: f"LC{self.rng.randint(100000, 999999)}")

    def anon(self) -> str:
        return self.fresh(lambda: f"a-{self.hexid(8)}")

    def user(self) -> str:
        return f"u-{self.seq('user', 1001, (1, 2))}"

    def claim(self, key: str, pid: str) -> str:
        owner = self.truth.setdefault(key, pid)
        if owner != pid:
            raise AssertionError(f"{key} claimed by {owner} and {pid}")
        return key

    # -- people -------------------------------------------------------------------------------

    def name_clear(self, first: str, last: str, near: Iterable[Person]) -> bool:
        """True when the name is new and far from everyone in `near` (who share a field)."""
        full = fold(f"{first} {last}")
        return all(fold(f"{p.first} {p.last}") != full for p in self.people) and all(
            max(name_scores((first, last), (p.first, p.last)).values()) < 0.8 for p in near
        )

    def mobile(self, country: str) -> str:
        _, prefixes, n = MOBILES[country]

        def make() -> str:
            while True:
                digits = "".join(str(self.rng.randint(0, 9)) for _ in range(n))
                nsn = self.rng.choice(prefixes) + digits
                if not re.search(r"(\d)\1{3}|1234567|9876543", nsn):
                    return nsn

        return self.fresh(make)

    def make_email(self, first: str, last: str, country: str, dob: date | None) -> str:
        f, ln = email_part(first, country), email_part(last, country)
        yy = f"{(dob.year if dob else self.rng.randint(1960, 2000)) % 100:02d}"
        patterns = [
            f"{f}.{ln}",
            f"{f}{ln}",
            f"{f[0]}.{ln}",
            f"{f}.{ln}{yy}",
            f"{ln}.{f}",
            f"{f}_{ln}",
            f"{f}{ln}{yy}",
        ]
        domain = self.rng.choice(EMAIL_DOMAINS[country])
        for local in [self.rng.choice(patterns), *patterns]:
            if f"local:{local}" not in self.used:
                self.used.add(f"local:{local}")
                return f"{local}@{domain}"
        raise RuntimeError(f"no free email local part for {first} {last}")

    def person(
        self,
        first: str = "",
        last: str = "",
        *,
        country: str = "IT",
        city: str = "",
        dob: date | str | None = "random",
        email: str = "",
        pid: str = "",
        postcode: str = "",
        ltv: float | None = None,
        tier: str = "",
        opt_in: bool | None = None,
        avoid: Iterable[Person] = (),
    ) -> Person:
        """Make a person; anything not given is drawn at random.

        A drawn name is new, and far from the name of anyone who shares the person's postcode
        or date of birth, or is listed in `avoid` (people who will share an email local part).
        """
        rng = self.rng
        town = CITY[city] if city else rng.choice([c for c in CITIES if c.country == country])
        postcode = postcode or rng.choice(town.postcodes)
        if dob == "random":
            dob = date(rng.randint(1952, 2004), rng.randint(1, 12), rng.randint(1, 28))
        assert dob is None or isinstance(dob, date)
        if not first:
            near = [
                *avoid,
                *(p for p in self.people if p.postcode == postcode or (dob and p.dob == dob)),
            ]
            for _ in range(500):
                first, last = rng.choice(FIRST_NAMES[country]), rng.choice(LAST_NAMES[country])
                if self.name_clear(first, last, near):
                    break
            else:
                raise RuntimeError(f"cannot draw a distinct {country} name")
        number = rng.randint(1, 120)
        street = rng.choice(STREETS[country].split("|"))
        street = f"{number} {street}" if country in ("FR", "GB") else f"{street} {number}"
        if ltv is None:
            high = rng.random() < self.high_spender_share
            ltv = round(rng.uniform(520, 2600) if high else rng.uniform(40, 480), 2)
        if not tier:
            tier = (
                "bronze"
                if ltv < 250
                else "silver"
                if ltv < 800
                else rng.choice(["gold", "gold", "platinum"])
            )
        p = Person(
            pid=pid or f"p{len(self.people) + 1:03d}",
            first=first,
            last=last,
            country=country,
            city=town,
            postcode=postcode,
            street=street,
            dob=dob,
            email=email or self.make_email(first, last, country, dob),
            mobile=self.mobile(country),
            ltv=ltv,
            tier=tier,
            opt_in=rng.random() < 0.7 if opt_in is None else opt_in,
        )
        self.used.add(f"local:{p.email.split('@')[0]}")
        self.people.append(p)
        return p

    # -- rendering helpers ----------------------------------------------------------------------

    def phone_text(self, country: str, nsn: str, style: int | None = None) -> str:
        """The number as a person or a clerk would type it (foreign numbers keep their +)."""
        cc = MOBILES[country][0]
        if nsn.startswith("0"):  # Italian landline: area code keeps its 0
            forms = [
                f"{nsn[:2]} {nsn[2:]}",
                f"+39 {nsn[:2]} {nsn[2:6]} {nsn[6:]}",
                f"{nsn[:2]}-{nsn[2:]}",
            ]
        elif country == "IT":
            forms = [
                f"+39 {nsn[:3]} {nsn[3:6]} {nsn[6:]}",
                f"{nsn[:3]}-{nsn[3:]}",
                f"0039 {nsn}",
                nsn,
                f"+39{nsn}",
                f"{nsn[:3]} {nsn[3:6]} {nsn[6:]}",
                f"(+39) {nsn[:3]}.{nsn[3:6]}.{nsn[6:]}",
            ]
        elif country == "DE":
            forms = [
                f"+49 {nsn[:3]} {nsn[3:]}",
                f"+49{nsn}",
                f"0049 {nsn[:3]} {nsn[3:]}",
                f"+49 {nsn[:4]} {nsn[4:]}",
            ]
        elif country == "FR":
            pairs = " ".join(nsn[i : i + 2] for i in range(1, 9, 2))
            forms = [f"+33 {nsn[0]} {pairs}", f"+33{nsn}", f"0033 {nsn[0]} {pairs}"]
        elif country == "GB":
            forms = [
                f"+44 {nsn[:4]} {nsn[4:]}",
                f"+44{nsn}",
                f"0044 {nsn[:4]} {nsn[4:]}",
                f"+44 {nsn[:4]} {nsn[4:7]} {nsn[7:]}",
            ]
        else:
            forms = [
                f"+34 {nsn[:3]} {nsn[3:6]} {nsn[6:]}",
                f"+34{nsn}",
                f"0034 {nsn[:3]} {nsn[3:5]} {nsn[5:7]} {nsn[7:]}",
            ]
        assert norm_phone(forms[0]) == f"+{cc}{nsn}"
        return forms[self.rng.randrange(len(forms)) if style is None else style % len(forms)]

    def ts_between(self, lo: datetime, hi: datetime, *, shop_hours: bool = True) -> datetime:
        """A random moment in [lo, hi]; daytime in Europe unless told otherwise."""
        span = max(int((hi - lo).total_seconds()), 1)
        ts = lo + timedelta(seconds=self.rng.randrange(span))
        if shop_hours:
            ts = ts.replace(hour=self.rng.randint(8, 19))
        return min(max(ts, lo), hi).replace(microsecond=self.rng.randrange(1000) * 1000)

    # -- CRM ----------------------------------------------------------------------------------

    def crm_row(
        self,
        p: Person,
        *,
        number: str = "",
        first: str = "",
        last: str = "",
        email: str | None = None,
        phone: str | None = None,
        dob: str | None = None,
        postcode: str = "",
        ltv: float | None = None,
        modified: datetime | None = None,
        country_label: str = "",
    ) -> str:
        """Append one CRM row for `p`; overrides make a duplicate look the way it does."""
        number = number or self.customer_number()
        self.crm.append(
            {
                "customer_number": number,
                "first_name": first or p.first,
                "last_name": last or p.last,
                "email": p.email if email is None else email,
                "phone": self.phone_text(p.country, p.mobile) if phone is None else phone,
                "dob": (p.dob.strftime("%d/%m/%Y") if p.dob else "") if dob is None else dob,
                "street": p.street,
                "city": p.city.name,
                "zip": postcode or p.postcode,
                "country": country_label or self.rng.choice(COUNTRY_LABELS[p.country]),
                "loyalty_tier": p.tier,
                "lifetime_value": f"{p.ltv if ltv is None else ltv:.2f}",
                "marketing_opt_in": "yes" if p.opt_in else "no",
                "last_modified": iso(modified or self.ts_between(START, END)),
            }
        )
        return self.claim(f"crm:{number}", p.pid)

    # -- POS ----------------------------------------------------------------------------------

    def pos_card(
        self,
        p: Person,
        dates: Iterable[datetime],
        *,
        card: str = "",
        contacts: list[tuple[str, str]] | None = None,
        store: str = "",
    ) -> str:
        """Append one till receipt per date, all on one loyalty card.

        `contacts` gives (email, phone) as typed at the till for each receipt; by default the
        clerk types the person's email or phone (or both) in some format, at least once.
        """
        card = card or self.card()
        dates = sorted(dates)
        if contacts is None and dates[0] - START > timedelta(days=60):
            # Older receipts only: they never move anyone in or out of a segment window.
            older = [
                self.ts_between(START, dates[0] - timedelta(days=30))
                for _ in range(self.rng.randint(1, 3))
            ]
            dates = sorted(older) + dates
        if contacts is None:
            contacts = []
            for i in range(len(dates)):
                choice = self.rng.choice(["email", "phone", "both", "email", "none"])
                if i == 0 and choice == "none":
                    choice = "both"
                email = p.email if choice in ("email", "both") else ""
                if email and self.rng.random() < 0.15:
                    email = email.upper()
                phone = (
                    self.phone_text(p.country, p.mobile)
                    if choice in ("phone", "both")
                    else self.rng.choice(["", "", "", "n/a"])
                )
                contacts.append((email, phone))
        shout = self.rng.random() < 0.2
        for when, (email, phone) in zip(dates, contacts, strict=True):
            shop = store or (
                p.city.store if self.rng.random() < 0.85 else self.rng.choice(CITIES).store
            )
            country = next(c.country for c in CITIES if c.store == shop)
            receipt = f"{shop}-{self.seq('receipt:' + shop, 10001, (1, 40)):06d}"
            amount = sum(self.rng.choice(PRODUCTS)[3] for _ in range(self.rng.randint(1, 3)))
            self.pos.append(
                {
                    "receipt_id": receipt,
                    "card_number": card,
                    "email": email,
                    "phone": phone,
                    "first_name": p.first.upper() if shout else p.first,
                    "last_name": p.last.upper() if shout else p.last,
                    "store_id": shop,
                    "amount": f"{amount:.2f}",
                    "currency": CURRENCY[country],
                    "purchased_at": iso(when),
                }
            )
        return self.claim(f"pos:{card}", p.pid)

    # -- web (Segment spec) ------------------------------------------------------------------

    def call(
        self,
        stream: str,
        kind: str,
        pid: str,
        ts: datetime,
        *,
        user: str = "",
        anon: str = "",
        device: str = "",
        **body: Any,
    ) -> dict[str, Any]:
        """Append one Segment call and claim the record it lands on."""
        msg: dict[str, Any] = {"type": kind, "messageId": self.uuid()}
        if user:
            msg["userId"] = user
        if anon:
            msg["anonymousId"] = anon
        msg.update(body)
        msg["timestamp"] = iso(ts, ms=True)
        if stream == "web":
            ctx: dict[str, Any] = {"library": {"name": "analytics.js", "version": "5.2.0"}}
            if device:
                ctx = {
                    "library": {"name": "analytics-ios", "version": "4.1.8"},
                    "device": {"id": device, "manufacturer": "Apple", "type": "ios"},
                }
            msg["context"] = ctx
        (self.web if stream == "web" else self.esp).append(msg)
        if user:
            self.claim(f"{stream}:user:{user}", pid)
        elif anon:
            self.claim(f"{stream}:anon:{anon}", pid)
        return msg

    def identify(
        self,
        p: Person,
        ts: datetime,
        user: str,
        anon: str = "",
        *,
        device: str = "",
        email: str = "",
        phone: bool = False,
        stream: str = "web",
    ) -> None:
        traits: dict[str, Any] = {
            "email": email or p.email,
            "firstName": p.first,
            "lastName": p.last,
        }
        if phone:
            traits["phone"] = self.phone_text(p.country, p.mobile)
        self.call(stream, "identify", p.pid, ts, user=user, anon=anon, device=device, traits=traits)

    def session(
        self,
        pid: str,
        start: datetime,
        *,
        user: str = "",
        anon: str = "",
        device: str = "",
        pages: int = 2,
        product: bool = True,
        cart: bool = False,
        order: bool = False,
        currency: str = "EUR",
    ) -> datetime:
        """A browsing session: page views, then maybe a product, a cart and an order."""
        ts = start
        ids = {"user": user, "anon": anon, "device": device}

        def step(seconds: tuple[int, int] = (20, 240)) -> datetime:
            nonlocal ts
            ts += timedelta(
                seconds=self.rng.randint(*seconds), milliseconds=self.rng.randrange(999)
            )
            return ts

        for _ in range(pages):
            path, name = self.rng.choice(PAGES)
            self.call(
                "web",
                "page",
                pid,
                step(),
                name=name,
                properties={"path": path, "url": SITE + path, "name": name},
                **ids,
            )
        if not (product or cart or order):
            return ts
        sku, title, category, price = self.rng.choice(PRODUCTS)
        item = {
            "product_id": sku,
            "name": title,
            "category": category,
            "price": price,
            "currency": currency,
        }
        self.call("web", "track", pid, step(), event="Product Viewed", properties=item, **ids)
        if cart or order:
            self.call(
                "web",
                "track",
                pid,
                step(),
                event="Product Added",
                properties={**item, "quantity": 1},
                **ids,
            )
        if order:
            total = round(price + self.rng.choice([0, 0, 9.9, 28.0]), 2)
            self.call(
                "web",
                "track",
                pid,
                step(),
                event="Checkout Started",
                properties={"value": total, "currency": currency},
                **ids,
            )
            oid = f"W-{self.seq('order', 260101, (1, 9))}"
            self.call(
                "web",
                "track",
                pid,
                step(),
                event="Order Completed",
                properties={"order_id": oid, "total": total, "currency": currency},
                **ids,
            )
        return ts

    def web_user(
        self,
        p: Person,
        *,
        login: datetime,
        anon_before: int = 1,
        devices: int = 1,
        visits: Iterable[tuple[datetime, str]] = (),
        email: str = "",
        phone: bool = False,
        user: str = "",
    ) -> str:
        """A shopper who browses anonymously, logs in (identify), then shops as a user.

        `visits` are (time, what) with what in "browse", "cart", "order".
        """
        p.user_id = user or p.user_id or self.user()
        cur = CURRENCY[p.country]
        anons = [self.anon() for _ in range(max(devices, 1))]
        for i, a in enumerate(anons):
            first_seen = login + timedelta(days=7 * i)
            for k in range(anon_before if i == 0 else self.rng.randint(0, 1)):
                day = first_seen - timedelta(days=self.rng.randint(2, 25) * (k + 1))
                self.session(
                    p.pid,
                    day,
                    anon=a,
                    pages=self.rng.randint(1, 3),
                    product=self.rng.random() < 0.5,
                    currency=cur,
                )
            self.identify(p, first_seen, p.user_id, a, email=email, phone=phone)
        for when, what in visits:
            self.session(
                p.pid,
                when,
                user=p.user_id,
                anon=self.rng.choice(anons),
                pages=self.rng.randint(1, 3),
                cart=what == "cart",
                order=what == "order",
                currency=cur,
            )
        return self.claim(f"web:user:{p.user_id}", p.pid)

    # -- email platform ------------------------------------------------------------------------

    def campaign_events(self, pid: str, user: str, behaviour: dict[str, str]) -> None:
        """Email Sent for each campaign; then opens, clicks and coupons as `behaviour` says.

        behaviour maps campaign -> "sent" | "opened" | "opened2" | "clicked" | "coupon".
        """
        for campaign, level in behaviour.items():
            sent, coupon = CAMPAIGNS[campaign]
            sent += timedelta(minutes=self.rng.randint(0, 90))
            props = {"campaign": campaign}
            self.call(
                "email",
                "track",
                pid,
                sent,
                user=user,
                event="Email Sent",
                properties={**props, "subject": campaign.replace("_", " ").title()},
            )
            if level == "sent":
                continue
            opened = sent + timedelta(
                hours=self.rng.randint(1, 60), seconds=self.rng.randrange(3600)
            )
            self.call(
                "email", "track", pid, opened, user=user, event="Email Opened", properties=props
            )
            if level == "opened2":
                self.call(
                    "email",
                    "track",
                    pid,
                    opened + timedelta(days=2, minutes=13),
                    user=user,
                    event="Email Opened",
                    properties=props,
                )
            if level in ("clicked", "coupon"):
                clicked = opened + timedelta(minutes=self.rng.randint(1, 30))
                self.call(
                    "email",
                    "track",
                    pid,
                    clicked,
                    user=user,
                    event="Email Link Clicked",
                    properties={**props, "url": f"{SITE}/saldi?utm_campaign={campaign}"},
                )
                if level == "coupon":
                    self.call(
                        "email",
                        "track",
                        pid,
                        clicked + timedelta(hours=self.rng.randint(1, 48)),
                        user=user,
                        event="Coupon Applied",
                        properties={**props, "coupon_code": coupon},
                    )

    def esp_subscriber(self, p: Person, behaviour: dict[str, str], *, known: bool) -> str:
        """The email platform's identity for `p`: the web userId if known, else an esp- id."""
        if known:
            user = p.user_id
            traits: dict[str, Any] = {"firstName": p.first, "subscribed": True}
        else:
            user = f"esp-{self.seq('esp', 50001, (3, 40))}"
            traits = {"email": p.email, "firstName": p.first, "subscribed": True}
        self.call(
            "email",
            "identify",
            p.pid,
            datetime(2026, 3, 1, 7, tzinfo=UTC) + timedelta(minutes=self.rng.randint(0, 3000)),
            user=user,
            traits=traits,
        )
        self.campaign_events(p.pid, user, behaviour)
        return self.claim(f"email:user:{user}", p.pid)

    def plant(self, name: str, keys: Iterable[str], expected: str) -> None:
        self.plants.append(Plant(name, sorted(set(keys)), expected))


def email_part(name: str, country: str) -> str:
    """A name as people put it in an email address (German umlauts become ae/oe/ue)."""
    s = name.lower()
    if country == "DE":
        s = s.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
    return fold(s).replace(" ", "")


def d(y: int, m: int, day: int, h: int = 11) -> datetime:
    """A fixed moment on that day, minutes and seconds varied so the data does not look made."""
    return datetime(y, m, day, h, (y + 17 * m + 7 * day + h) % 60, (13 * day + m) % 60, tzinfo=UTC)


def days_before(n: int, hour: int = 15) -> datetime:
    return (AS_OF - timedelta(days=n)).replace(hour=hour, minute=42)
