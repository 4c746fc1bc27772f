"""The fixtures' segment edge cases: people placed just inside and just outside each segment."""

from __future__ import annotations

from datetime import date, timedelta

from fixture_world import (
    END,
    START,
    Person,
    World,
    d,
    days_before,
)


def plant_segment_edges(w: World) -> dict[str, str]:
    """People placed just inside and just outside each segment; returns pid -> note."""
    notes: dict[str, str] = {}

    def note(p: Person, text: str) -> Person:
        notes[p.pid] = text
        return p

    # lapsed_high_spenders
    p = note(w.person(city="Milano", ltv=499.0, tier="silver"), "ltv 499, no order in 180 days")
    w.crm_row(p)
    w.pos_card(p, [d(2025, 3, 14), d(2025, 11, 2)])
    p = note(
        w.person(country="DE", city="Hamburg", ltv=500.0, tier="silver"),
        "ltv exactly 500, last order 2025-12",
    )
    w.crm_row(p)
    w.pos_card(p, [d(2025, 12, 12)])
    p = note(
        w.person(country="FR", city="Paris", ltv=1250.0, tier="gold"),
        "ltv 1250, last order 170 days before as-of",
    )
    w.crm_row(p)
    w.pos_card(p, [d(2025, 8, 1), days_before(170)])
    p = note(
        w.person(city="Roma", ltv=980.0, tier="gold"), "ltv 980, last order 190 days before as-of"
    )
    w.crm_row(p)
    w.pos_card(p, [d(2025, 5, 5), days_before(190)])
    p = note(
        w.person(country="GB", city="London", ltv=2100.0, tier="platinum"),
        "ltv 2100, recent order on the web only",
    )
    w.crm_row(p)
    w.pos_card(p, [d(2025, 6, 6)])
    w.web_user(p, login=d(2025, 9, 9), visits=[(days_before(22), "order")])

    # italian_shoppers_45_55 (ages in completed years at 2026-11-01)
    for dob, text, city, label in (
        (date(1981, 11, 15), "IT, 44 (turns 45 on 2026-11-15), has orders", "Torino", ""),
        (date(1970, 6, 10), "IT, 56, has orders", "Napoli", ""),
        (date(1981, 10, 20), "IT, 45, has orders", "Bologna", ""),
        (date(1971, 9, 12), "IT, 55, has orders", "Milano", ""),
        (date(1977, 4, 30), "IT written 'Italia', 49, has orders", "Firenze", "Italia"),
    ):
        p = note(w.person(city=city, dob=dob), text)
        w.crm_row(p, country_label=label)
        w.pos_card(p, [w.ts_between(START, END), w.ts_between(START, END)])
    p = note(w.person(country="DE", city="Köln", dob=date(1976, 5, 5)), "DE, 50, has orders")
    w.crm_row(p)
    w.pos_card(p, [d(2026, 2, 2)])
    p = note(w.person(city="Verona", dob=date(1976, 3, 3)), "IT, 50, never ordered")
    w.crm_row(p)

    # spring_openers_with_coupon / engaged_loyalty_members
    spring = "spring_newsletter_2026"
    summer = "summer_sale_2026"
    autumn = "autumn_reactivation_2026"
    cases = [
        (
            "opened summer (not spring) and used its coupon",
            "silver",
            True,
            {spring: "sent", summer: "coupon", autumn: "sent"},
        ),
        (
            "opened spring, never used a coupon",
            "silver",
            True,
            {spring: "clicked", summer: "sent", autumn: "opened"},
        ),
        (
            "opened spring, coupon in autumn",
            "bronze",
            True,
            {spring: "opened", summer: "sent", autumn: "coupon"},
        ),
        (
            "opened spring, used its coupon",
            "silver",
            True,
            {spring: "coupon", summer: "sent", autumn: "sent"},
        ),
        (
            "opened spring and summer, used the summer coupon",
            "bronze",
            False,
            {spring: "opened", summer: "coupon", autumn: "opened"},
        ),
        (
            "gold, opted in, opened one email",
            "gold",
            True,
            {spring: "opened", summer: "sent", autumn: "sent"},
        ),
        (
            "silver, opted in, opened three emails",
            "silver",
            True,
            {spring: "opened", summer: "opened", autumn: "opened"},
        ),
        (
            "platinum, opted out, opened three emails",
            "platinum",
            False,
            {spring: "opened", summer: "clicked", autumn: "opened"},
        ),
        (
            "gold, opted in, opened the spring newsletter twice",
            "gold",
            True,
            {spring: "opened2", summer: "sent", autumn: "sent"},
        ),
        (
            "platinum, opted in, opened summer and autumn",
            "platinum",
            True,
            {spring: "sent", summer: "opened", autumn: "clicked"},
        ),
        (
            "gold, opted in, opened all three",
            "gold",
            True,
            {spring: "opened", summer: "clicked", autumn: "opened"},
        ),
    ]
    for text, tier, opt_in, behaviour in cases:
        ltv = {"bronze": 120.0, "silver": 420.0, "gold": 1900.0, "platinum": 3100.0}[tier]
        p = note(
            w.person(
                country=w.rng.choice(["IT", "FR", "ES", "DE", "GB"]),
                ltv=ltv,
                tier=tier,
                opt_in=opt_in,
            ),
            text,
        )
        w.crm_row(p)
        w.pos_card(p, [days_before(w.rng.randint(20, 120))])
        w.web_user(p, login=d(2025, 12, 1) + timedelta(days=w.rng.randint(0, 60)))
        w.esp_subscriber(p, behaviour, known=True)

    # cart_abandoners_30d
    for text, plan in (
        ("cart 12 days ago, no order since", [(days_before(12), "cart")]),
        ("cart 4 days ago, no order since", [(days_before(4), "cart")]),
        (
            "cart 25 days ago, ordered 170 days ago",
            [(days_before(170), "order"), (days_before(25), "cart")],
        ),
        (
            "cart 20 days ago, ordered on the web 18 days ago",
            [(days_before(20), "cart"), (days_before(18), "order")],
        ),
        ("cart 37 days ago, no order since", [(days_before(37), "cart")]),
        ("cart 10 days ago, bought in store 6 days ago", [(days_before(10), "cart")]),
    ):
        p = note(w.person(country=w.rng.choice(["IT", "DE", "GB"]), ltv=300.0), text)
        w.crm_row(p)
        w.web_user(p, login=d(2026, 1, 10) + timedelta(days=w.rng.randint(0, 60)), visits=plan)
        if "in store" in text:
            w.pos_card(p, [days_before(6)])
    a = w.anon()
    w.session("visitor-cart", days_before(9), anon=a, cart=True)
    w.plant(
        "Anonymous visitor with a recent cart",
        [f"web:anon:{a}"],
        "one person; not in cart_abandoners_30d (no email)",
    )
    notes["visitor-cart"] = "anonymous visitor, cart 9 days ago (no email)"
    web_only = w.person(country="IT", city="Milano", dob=None)
    w.web_user(web_only, login=d(2026, 9, 30), visits=[(days_before(15), "cart")])
    notes[web_only.pid] = "web-only shopper (no CRM), cart 15 days ago"
    return notes
