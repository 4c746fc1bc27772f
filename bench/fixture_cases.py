"""The planted resolution cases of the fixtures (duplicates, near misses, web, point of sale)
and the background people around them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from fixture_world import (
    CAMPAIGNS,
    CITY,
    END,
    HOUSEHOLD,
    QUIET_WEB_AFTER,
    SHOP_EMAIL,
    SITE,
    START,
    TABLET,
    Person,
    World,
    d,
    days_before,
)


def plant_crm_duplicates(w: World) -> None:
    """The same customer twice in the CRM, each time under another customer number."""
    p = w.person(
        "Giulia", "Ferrari", city="Milano", postcode="20135", dob=date(1986, 3, 12), ltv=320.0
    )
    a = w.crm_row(p, modified=d(2025, 2, 11))
    b = w.crm_row(
        p,
        number=w.customer_number(dup=True),
        last="Ferarri",
        dob="",
        email="giulia.f@libero.it",
        phone="",
        modified=d(2026, 2, 3),
        ltv=95.0,
    )
    w.plant(
        "CRM duplicate, typo in last name (Ferrari/Ferarri), same postcode, no dob on one",
        [a, b],
        "one person (name + postcode)",
    )

    p = w.person(
        "Robert",
        "Taylor",
        country="GB",
        city="Manchester",
        dob=date(1962, 7, 4),
        email="robert.taylor@btinternet.com",
        ltv=1480.0,
        tier="gold",
    )
    a = w.crm_row(p, modified=d(2025, 3, 2))
    b = w.crm_row(
        p,
        number=w.customer_number(dup=True),
        first="Bob",
        email="bobtaylor62@gmail.com",
        phone="",
        modified=d(2026, 5, 19),
        ltv=640.0,
    )
    w.plant("CRM duplicate, nickname Bob/Robert, same dob", [a, b], "one person (nickname + dob)")
    w.pos_card(p, [d(2025, 4, 12), days_before(250)])

    p = w.person(
        "Giuseppe",
        "Esposito",
        city="Napoli",
        dob=date(1958, 11, 23),
        email="g.esposito@gmail.com",
        ltv=210.0,
    )
    a = w.crm_row(p, modified=d(2025, 1, 20))
    other = w.mobile("IT")
    b = w.crm_row(
        p,
        number=w.customer_number(dup=True),
        first="Beppe",
        email="beppe.esposito@libero.it",
        phone=w.phone_text("IT", other, 1),
        modified=d(2025, 10, 30),
        ltv=150.0,
    )
    w.plant(
        "CRM duplicate, nickname Beppe/Giuseppe, same dob, different email and phone",
        [a, b],
        "one person (nickname + dob)",
    )

    p = w.person(
        "Manon", "Laurent", country="FR", city="Paris", email="manon.laurent@orange.fr", ltv=150.0
    )
    a = w.crm_row(p, modified=d(2025, 5, 5))
    b = w.crm_row(
        p,
        number=w.customer_number(dup=True),
        email="Manon.Laurent@Orange.FR",
        phone="",
        modified=d(2026, 1, 14),
        ltv=60.0,
    )
    w.plant("CRM duplicate, email in different case", [a, b], "one person (email)")

    p = w.person(
        "Chiara",
        "Colombo",
        city="Torino",
        dob=date(1991, 5, 30),
        email="chiara.colombo@gmail.com",
        ltv=180.0,
    )
    a = w.crm_row(p, modified=d(2025, 6, 8))
    b = w.crm_row(
        p,
        number=w.customer_number(dup=True),
        email="chiara.colombo+shop@gmail.com",
        phone="",
        modified=d(2026, 3, 21),
        ltv=45.5,
    )
    w.plant(
        "CRM duplicate, email with a +tag, same dob",
        [a, b],
        "one person (name + dob; also the email if +tags are stripped)",
    )

    p = w.person(
        "Lukas", "Becker", country="DE", city="Berlin", email="lukas.becker@gmx.de", ltv=760.0
    )
    a = w.crm_row(p, modified=d(2025, 2, 27))
    b = w.crm_row(
        p,
        number=w.customer_number(dup=True),
        phone=w.phone_text("DE", w.mobile("DE")),
        modified=d(2026, 7, 2),
        ltv=690.0,
    )
    w.plant("CRM duplicate, phone changed, same email", [a, b], "one person (email)")

    p = w.person(
        "José",
        "García",
        country="ES",
        city="Madrid",
        dob=date(1979, 8, 17),
        email="jose.garcia79@gmail.com",
        ltv=130.0,
    )
    a = w.crm_row(p, modified=d(2025, 4, 1))
    b = w.crm_row(
        p,
        number=w.customer_number(dup=True),
        first="Jose",
        last="Garcia",
        email="jgarcia@telefonica.net",
        phone="",
        modified=d(2026, 6, 6),
        ltv=88.0,
    )
    w.plant(
        "CRM duplicate, accents dropped (José García/Jose Garcia), same dob",
        [a, b],
        "one person (name + dob)",
    )

    p = w.person(
        "Hélène",
        "Lefèvre",
        country="FR",
        city="Lyon",
        postcode="69003",
        dob=None,
        email="helene.lefevre@free.fr",
        ltv=410.0,
    )
    a = w.crm_row(p, modified=d(2025, 9, 9))
    b = w.crm_row(
        p,
        number=w.customer_number(dup=True),
        first="Helene",
        last="Lefevre",
        email="h.lefevre@laposte.net",
        phone="",
        modified=d(2026, 8, 25),
        ltv=60.0,
    )
    w.plant(
        "CRM duplicate, accents dropped (Hélène Lefèvre/Helene Lefevre), same postcode",
        [a, b],
        "one person (name + postcode)",
    )

    p = w.person("Riccardo", "Rinaldi", city="Bologna", ltv=275.0)
    a = w.crm_row(p, phone=w.phone_text("IT", p.mobile, 0), modified=d(2025, 7, 14))
    b = w.crm_row(
        p,
        number=w.customer_number(dup=True),
        email="r.rinaldi@tiscali.it",
        phone=w.phone_text("IT", p.mobile, 2),
        dob="",
        modified=d(2026, 4, 4),
        ltv=120.0,
    )
    w.plant(
        "CRM duplicate, same mobile in two formats (+39 3xx xxx xxxx / 0039 3xxxxxxxxx)",
        [a, b],
        "one person (phone)",
    )


def plant_near_miss_people(w: World) -> None:
    """Different people who look alike: they must stay apart."""
    p1 = w.person(
        "Mario",
        "Rossi",
        city="Roma",
        postcode="00185",
        dob=date(1974, 2, 9),
        email="mario.rossi74@libero.it",
    )
    p2 = w.person(
        "Mario",
        "Rossi",
        city="Torino",
        postcode="10128",
        dob=date(1990, 10, 2),
        email="rossi.mario@gmail.com",
    )
    w.plant(
        "Namesakes: two Mario Rossi, different dob, postcode and email",
        [w.crm_row(p1), w.crm_row(p2)],
        "two people",
    )

    landline = "0248192277"
    pa = w.person("Paolo", "Conti", city="Milano", postcode="20144", dob=date(1966, 4, 18))
    pb = w.person("Francesca", "Conti", city="Milano", postcode="20144", dob=date(1969, 12, 1))
    pb.street = pa.street
    ka = w.crm_row(pa, phone=w.phone_text("IT", landline, 0))
    kb = w.crm_row(pb, phone=w.phone_text("IT", landline, 1))
    w.plant(
        "Spouses sharing a home landline, different dobs",
        [ka, kb],
        "two people (dob guard on the shared phone)",
    )

    pa = w.person(
        "Stefano",
        "Greco",
        city="Bologna",
        postcode="40137",
        dob=date(1972, 6, 3),
        email="famiglia.greco@libero.it",
    )
    pb = w.person(
        "Ilaria",
        "Greco",
        city="Bologna",
        postcode="40137",
        dob=date(1975, 9, 27),
        email="famiglia.greco@libero.it",
    )
    pb.street = pa.street
    keys = [w.crm_row(pa), w.crm_row(pb)]
    for p, day in ((pa, d(2025, 11, 3)), (pb, d(2026, 2, 16))):
        keys.append(
            w.web_user(p, login=day, phone=True, visits=[(day + timedelta(days=9), "order")])
        )
    w.plant(
        "Couple sharing one email, each with a web login and own mobile",
        keys,
        "two people: the email links nobody (two userIds, two dobs); each web user joins "
        "its CRM row by phone",
    )

    pa = w.person("Sofia", "Galli", city="Firenze", postcode="50136", dob=date(1998, 1, 22))
    pb = w.person("Edoardo", "Galli", city="Firenze", postcode="50136", dob=date(1998, 1, 22))
    w.plant(
        "Twins: same surname, dob and postcode, different first names",
        [w.crm_row(pa), w.crm_row(pb)],
        "two people (a name alone, or a weak name, never links)",
    )


def plant_web_cases(w: World) -> None:
    """Stitching anonymous visitors, the family tablet, alias, case and device ids."""
    family = [
        w.person("Alessandro", "Moretti", city="Verona", postcode="37138", dob=date(1975, 3, 8)),
        w.person("Roberta", "Moretti", city="Verona", postcode="37138", dob=date(1978, 10, 14)),
        w.person("Tommaso", "Moretti", city="Verona", postcode="37138", dob=date(2006, 5, 2)),
    ]
    household = Person(
        pid=HOUSEHOLD,
        first="",
        last="",
        country="IT",
        city=CITY["Verona"],
        postcode="",
        street="",
        dob=None,
        email="",
        mobile="",
    )
    keys = []
    for when in (d(2025, 10, 4, 20), d(2025, 10, 19, 21), d(2026, 1, 6, 18)):
        w.session(HOUSEHOLD, when, anon=TABLET, pages=3, product=True)
    keys.append(f"web:anon:{TABLET}")
    for i, p in enumerate(family):
        p.street = family[0].street
        keys.append(w.crm_row(p))
        login = d(2025, 10, 25 + i, 19)
        keys.append(
            w.web_user(
                p,
                login=d(2025, 9, 1 + 5 * i),
                anon_before=1,
                visits=[(d(2026, 2, 10 + i), "browse")],
            )
        )
        w.identify(p, login, p.user_id, TABLET)
        w.session(
            p.pid,
            login + timedelta(minutes=2),
            user=p.user_id,
            anon=TABLET,
            order=i == 0,
            cart=i == 2,
        )
    w.session(HOUSEHOLD, d(2026, 3, 1, 20), anon=TABLET, pages=2, product=False)
    w.plant(
        "Family tablet tab-7f3a: anonymous page views, then 3 family members log in",
        keys,
        f"4 people: each member joins their own CRM row; web:anon:{TABLET} is a "
        f"person of its own ({household.pid}); the anonymousId links nobody",
    )

    p = w.person("Sebastian", "Wolf", country="DE", city="München", ltv=540.0, tier="silver")
    crm = w.crm_row(p)
    old = w.user()
    a_old = w.anon()
    w.session(p.pid, d(2025, 2, 2), anon=a_old, pages=2)
    w.call(
        "web",
        "identify",
        p.pid,
        d(2025, 2, 3),
        user=old,
        anon=a_old,
        traits={"firstName": p.first, "lastName": p.last},
    )
    w.session(p.pid, d(2025, 3, 9), user=old, anon=a_old, order=True)
    p.user_id = w.user()
    w.call("web", "alias", p.pid, d(2025, 6, 1), user=p.user_id, previousId=old)
    key_new = w.web_user(
        p, login=d(2025, 6, 1, 12), anon_before=0, visits=[(d(2025, 8, 30), "order")]
    )
    w.plant(
        "alias: old userId renamed to a new userId",
        [crm, f"web:user:{old}", key_new, f"web:anon:{a_old}"],
        "one person (alias; the old userId's anonymous pages too)",
    )

    p = w.person("Valentina", "Marino", city="Roma", email="valentina.marino@gmail.com")
    keys = [
        w.crm_row(p),
        w.web_user(
            p,
            login=d(2025, 12, 2),
            email="Valentina.Marino@GMAIL.com",
            visits=[(d(2026, 1, 8), "order")],
        ),
    ]
    keys += [k for k, v in w.truth.items() if v == p.pid and ":anon:" in k]
    w.plant("Web email in different case than the CRM", keys, "one person (email)")

    p = w.person(
        "Federica",
        "Santoro",
        city="Napoli",
        email="federica.santoro@gmail.com",
        dob=date(1988, 2, 14),
    )
    keys = [
        w.crm_row(p),
        w.web_user(
            p,
            login=d(2026, 3, 3),
            email="federica.santoro@outlook.it",
            anon_before=0,
            visits=[(d(2026, 3, 20), "browse")],
        ),
    ]
    w.plant(
        "Web login with another domain, same email local part and name",
        keys,
        "one person (name + email local part)",
    )

    p = w.person("Oliver", "Hughes", country="GB", city="London")
    crm = w.crm_row(p)
    device = w.uuid().upper()
    a1, a2 = w.anon(), w.anon()
    p.user_id = w.user()
    w.session(p.pid, d(2025, 5, 10), anon=a1, device=device, pages=2)
    w.identify(p, d(2025, 5, 10, 13), p.user_id, a1, device=device)
    w.session(
        p.pid,
        d(2025, 5, 10, 14),
        user=p.user_id,
        anon=a1,
        device=device,
        order=True,
        currency="GBP",
    )
    w.session(p.pid, d(2026, 1, 20), anon=a2, device=device, pages=3, cart=True, currency="GBP")
    w.plant(
        "App reinstall: new anonymousId, same context.device.id, never logs in again",
        [crm, f"web:user:{p.user_id}", f"web:anon:{a1}", f"web:anon:{a2}"],
        "one person (device id)",
    )

    p = w.person("Lucía", "Navarro", country="ES", city="Valencia")
    crm = w.crm_row(p)
    device = w.uuid().upper()
    a1 = w.anon()
    p.user_id = w.user()
    w.identify(p, d(2025, 11, 11), p.user_id, a1, device=device, phone=True)
    w.session(p.pid, d(2025, 11, 11, 12), user=p.user_id, anon=a1, device=device, order=True)
    w.plant(
        "App user with context.device.id, phone in identify traits",
        [crm, f"web:user:{p.user_id}"],
        "one person (email, phone)",
    )

    for _ in range(6):
        pid = f"visitor-{len([q for q in w.truth.values() if q.startswith('visitor-')]) + 1:02d}"
        a = w.anon()
        for _k in range(w.rng.randint(1, 3)):
            w.session(
                pid,
                w.ts_between(START, QUIET_WEB_AFTER),
                anon=a,
                pages=w.rng.randint(1, 4),
                product=w.rng.random() < 0.6,
            )
    w.plant(
        "Anonymous visitors who never log in",
        [k for k, v in w.truth.items() if v.startswith("visitor-")],
        "one person each (nothing to link them)",
    )


def plant_pos_cases(w: World) -> None:
    """Junk and shared contacts typed at the till."""
    keys = []
    for first, last, city in (
        ("Enrico", "Pellegrini", "Milano"),
        ("Klaus", "Vogel", "Berlin"),
        ("Nadia", "Esteban", "Madrid"),
    ):
        country = CITY[city].country
        p = w.person(first, last, country=country, city=city, dob=None)
        keys.append(
            w.pos_card(
                p,
                [w.ts_between(START, END) for _ in range(2)],
                contacts=[("test@test.com", ""), ("TEST@TEST.COM", "")],
            )
        )
    p = w.person("Marta", "Sala", city="Milano", dob=None)
    zero_card = w.pos_card(p, [d(2025, 7, 19)], contacts=[("test@test.com", "0000000000")])
    keys.append(zero_card)
    p = w.person(city="Roma")
    crm_a = w.crm_row(p)
    card_a = w.pos_card(
        p,
        [d(2025, 9, 2), d(2026, 2, 14)],
        contacts=[("test@test.com", w.phone_text("IT", p.mobile, 1)), ("test@test.com", "")],
    )
    p = w.person(city="Torino")
    crm_b = w.crm_row(p)
    card_b = w.pos_card(
        p, [d(2025, 3, 3), d(2026, 4, 9)], contacts=[("test@test.com", ""), (p.email, "")]
    )
    w.plant(
        "Junk email test@test.com on six loyalty cards",
        [*keys, card_a, card_b],
        f"six people; `{card_a}` joins `{crm_a}` by phone, `{card_b}` joins `{crm_b}` by the "
        "real email on its other receipt",
    )

    keys = []
    p = w.person(city="Milano")
    crm_a = w.crm_row(p)
    card_a = w.pos_card(p, [d(2026, 1, 9)], contacts=[(p.email, "0000000000")])
    w.plant(
        "Junk phone 0000000000 on two cards",
        [card_a, zero_card],
        f"two people; `{card_a}` joins `{crm_a}` by email",
    )

    keys = []
    strangers = [
        ("Walter", "Bianco", "Milano"),
        ("Ornella", "Fumagalli", "Milano"),
        ("Gianni", "Brambilla", "Milano"),
        ("Rosa", "Colombini", "Milano"),
        ("Dolores", "Iglesias", "Madrid"),
        ("Yusuf", "Demir", "Berlin"),
    ]
    for first, last, city in strangers:
        country = CITY[city].country
        p = w.person(first, last, country=country, city=city, dob=None)
        keys.append(
            w.pos_card(p, [w.ts_between(START, END)], contacts=[(SHOP_EMAIL, "")], store="MI01")
        )
    at_till = list(w.people[-len(strangers) :])
    for _ in range(4):
        p = w.person(city="Milano", avoid=at_till)
        at_till.append(p)
        w.crm_row(p)
        keys.append(
            w.pos_card(
                p,
                [w.ts_between(START, END), w.ts_between(START, END)],
                contacts=[(SHOP_EMAIL, w.phone_text("IT", p.mobile)), (SHOP_EMAIL, "")],
                store="MI01",
            )
        )
    w.plant(
        f"Store email {SHOP_EMAIL} typed for ten different customers",
        keys,
        "ten people (an email shared by that many people links nobody); four join their "
        "CRM rows by phone",
    )


def add_background(w: World, n_crm: int) -> None:
    """Ordinary customers: CRM rows, loyalty cards, web logins and newsletters at random."""
    rng = w.rng
    weights = {"IT": 10, "DE": 3, "FR": 3, "GB": 3, "ES": 3}
    countries = [c for c, k in weights.items() for _ in range(k)]
    campaigns = list(CAMPAIGNS)
    w.high_spender_share = 0.3
    for i in range(n_crm + 6):
        crm = i < n_crm
        p = w.person(country=rng.choice(countries))
        if crm:
            w.crm_row(p)
        if crm and rng.random() < 0.6:
            w.pos_card(p, [w.ts_between(START, END) for _ in range(rng.randint(2, 9))])
        if not crm or rng.random() < 0.4:
            visits: list[tuple[datetime, str]] = []
            login = w.ts_between(START, datetime(2026, 6, 1, tzinfo=UTC))
            for _ in range(rng.randint(0, 3)):
                what = rng.choice(["browse", "browse", "cart", "order"])
                hi = END if what == "order" else QUIET_WEB_AFTER
                visits.append((w.ts_between(login + timedelta(days=1), hi), what))
            w.web_user(
                p,
                login=login,
                anon_before=rng.choice([0, 1, 1, 2]),
                devices=rng.choice([1, 1, 1, 2]),
                visits=visits,
                phone=rng.random() < 0.3,
            )
            if rng.random() < 0.7:
                w.esp_subscriber(
                    p,
                    {
                        c: rng.choice(["sent", "sent", "opened", "clicked", "coupon"])
                        for c in campaigns
                    },
                    known=True,
                )
        elif crm and rng.random() < 0.25:
            w.esp_subscriber(
                p, {c: rng.choice(["sent", "opened", "clicked"]) for c in campaigns}, known=False
            )
    for _ in range(2):
        p = w.person(country=rng.choice(countries), dob=None)
        w.esp_subscriber(p, {c: rng.choice(["sent", "opened"]) for c in campaigns}, known=False)
    p = w.person(city="Roma", dob=None)
    user = f"esp-{w.seq('esp', 50001, (3, 40))}"
    px = f"esp-px-{w.hexid(6)}"
    w.call(
        "email",
        "track",
        p.pid,
        d(2026, 4, 3, 9),
        anon=px,
        event="Email Link Clicked",
        properties={"campaign": "spring_newsletter_2026", "url": f"{SITE}/donna"},
    )
    w.call(
        "email",
        "identify",
        p.pid,
        d(2026, 4, 3, 10),
        user=user,
        anon=px,
        traits={"email": p.email, "subscribed": True},
    )
    w.plant(
        "Email click tracked before the subscriber was identified",
        [f"email:anon:{px}", f"email:user:{user}"],
        "one person (anonymousId)",
    )
