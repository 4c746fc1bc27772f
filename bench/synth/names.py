"""Built-in name lists: given names per country and gender (with nicknames) and surnames.

The common names are real: a few dozen given names per country and gender and 30 surnames per
country, most common first. Behind them come long tails of rarer names built from
country-typical syllables (Capotti, Falkeninger, Draywick; Ildaldo, Sieghard). Drawn with
Zipf-like weights, a few names are very common (Rossi, Smith, Müller; Giuseppe, John) and
namesakes multiply as the data grows, while most names have a handful of holders.
"""

from __future__ import annotations

COUNTRIES: tuple[str, ...] = ("IT", "DE", "FR", "GB", "ES")
#: Share of people per country.
COUNTRY_WEIGHTS: tuple[float, ...] = (0.35, 0.2, 0.15, 0.2, 0.1)


def _words(text: str) -> tuple[str, ...]:
    """Split on spaces; an underscore stands for a space inside a name (`De_Luca`)."""
    return tuple(word.replace("_", " ") for word in text.split())


def _parse(spec: str) -> list[tuple[str, tuple[str, ...]]]:
    """`"Robert:Bob/Rob, Anna"` -> `[("Robert", ("Bob", "Rob")), ("Anna", ())]`."""
    out: list[tuple[str, tuple[str, ...]]] = []
    for item in spec.split(","):
        name, _, nicks = item.strip().partition(":")
        out.append((name, tuple(n for n in nicks.split("/") if n)))
    return out


#: (country, gender) -> [(given name, nicknames)], most common first.
GIVEN: dict[tuple[str, str], list[tuple[str, tuple[str, ...]]]] = {
    ("IT", "M"): _parse(
        "Giuseppe:Beppe/Peppe/Pino, Giovanni:Gianni, Francesco:Franco/Checco, Antonio:Tonino,"
        "Alessandro:Sandro/Alex, Marco, Luca, Andrea, Matteo, Lorenzo, Roberto:Robi, Davide,"
        "Stefano, Paolo, Massimo:Max, Salvatore:Totò/Turi, Vincenzo:Enzo, Domenico:Mimmo,"
        "Riccardo:Ricky, Federico:Fede, Gabriele:Gabri, Simone, Pietro, Michele"
    ),
    ("IT", "F"): _parse(
        "Maria, Anna, Giulia, Francesca:Franci, Chiara, Sara, Laura, Valentina:Vale,"
        "Alessandra:Sandra/Ale, Federica:Fede, Elena, Silvia, Martina, Giuseppina:Pina/Peppina,"
        "Antonella:Anto, Roberta, Elisabetta:Betta/Elisa, Caterina:Cate/Rina, Veronica:Vero,"
        "Beatrice:Bea, Paola, Simona, Ilaria, Serena"
    ),
    ("DE", "M"): _parse(
        "Thomas:Tom, Michael:Michi, Andreas:Andi, Stefan, Christian:Chris, Alexander:Alex,"
        "Maximilian:Max/Maxi, Johannes:Hannes/Jo, Wolfgang:Wolf, Jürgen, Klaus, Peter, Frank,"
        "Markus, Tobias:Tobi, Florian:Flo, Daniel:Dani, Sebastian:Basti, Matthias:Matze, Lukas,"
        "Jonas, Uwe, Dieter, Friedrich:Fritz"
    ),
    ("DE", "F"): _parse(
        "Katharina:Kathi/Katja, Anna, Maria, Julia:Juli, Sabine:Bine, Petra, Susanne:Susi/Sanne,"
        "Elisabeth:Lisa/Liesel/Sissi, Christina:Tina, Stefanie:Steffi, Franziska:Franzi,"
        "Johanna:Hanna, Ursula:Uschi/Ulla, Monika:Moni, Lena, Lea, Sophie, Claudia, Andrea,"
        "Nicole:Nicki, Barbara:Babsi, Gabriele:Gabi, Ingrid, Hannelore:Hanne"
    ),
    ("FR", "M"): _parse(
        "Jean, Pierre, Michel, Philippe, Nicolas:Nico, Alexandre:Alex, Guillaume:Guigui,"
        "Christophe:Chris, Frédéric:Fred, Julien:Juju, Thomas:Tom, Antoine:Toinou,"
        "François:Fanfan, Sébastien:Seb, Maximilien:Max, Benjamin:Ben, Mathieu:Math, Olivier,"
        "Louis, Hugo, Théo, Lucas"
    ),
    ("FR", "F"): _parse(
        "Marie, Nathalie, Isabelle:Isa, Sylvie, Catherine:Cathy, Christine:Cricri, Sophie,"
        "Élodie, Camille:Cam, Juliette:Juju, Amélie, Charlotte:Charlie, Margaux:Margot,"
        "Stéphanie:Steph, Véronique:Véro, Hélène, Léa, Manon, Chloé, Inès, Emma, Pauline:Popo"
    ),
    ("GB", "M"): _parse(
        "Robert:Bob/Rob/Bobby, William:Will/Bill/Billy, James:Jim/Jimmy/Jamie,"
        "John:Johnny/Jack, Richard:Rich/Rick/Dick, Thomas:Tom/Tommy, Michael:Mike/Mick,"
        "David:Dave, Christopher:Chris, Daniel:Dan/Danny, Matthew:Matt, Andrew:Andy/Drew,"
        "Edward:Ed/Eddie/Ted, Anthony:Tony, Benjamin:Ben, Samuel:Sam, Joseph:Joe/Joey,"
        "Charles:Charlie/Chuck, Oliver:Ollie, Harry, George, Jack"
    ),
    ("GB", "F"): _parse(
        "Katherine:Kate/Kathy/Katie, Elizabeth:Liz/Beth/Lizzie/Betty, Margaret:Maggie/Meg/Peggy,"
        "Jennifer:Jen/Jenny, Rebecca:Becky/Becca, Victoria:Vicky/Tori, Alexandra:Alex/Sandra,"
        "Deborah:Debbie/Deb, Susan:Sue/Susie, Patricia:Pat/Trish, Charlotte:Lottie/Charlie,"
        "Eleanor:Ellie/Nora, Abigail:Abby, Samantha:Sam, Jessica:Jess, Emily:Em, Olivia:Liv,"
        "Sarah, Emma, Amelia:Millie, Lucy, Sophie"
    ),
    ("ES", "M"): _parse(
        "José:Pepe, Antonio:Toni, Francisco:Paco/Curro/Pancho, Manuel:Manolo/Manu, Juan,"
        "Javier:Javi, Jesús:Chus/Chucho, Alejandro:Álex, Miguel, Rafael:Rafa,"
        "Fernando:Nando/Fer, Ignacio:Nacho, Enrique:Quique, Guillermo:Guille, Eduardo:Edu,"
        "Carlos, David, Pablo, Sergio, Jorge"
    ),
    ("ES", "F"): _parse(
        "María:Mari, Carmen:Mari Carmen/Menchu, Josefa:Pepa, Isabel:Isa, Dolores:Lola,"
        "Francisca:Paqui/Paca, Concepción:Concha, Mercedes:Merche, Rosario:Charo, Pilar:Pili,"
        "Guadalupe:Lupe, Cristina:Cris, Laura, Marta, Lucía, Paula, Elena, Ana, Sofía, Raquel"
    ),
}

#: Common surnames per country, most common first.
SURNAMES: dict[str, tuple[str, ...]] = {
    "IT": _words(
        "Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo "
        "Conti De_Luca Mancini Costa Giordano Rizzo Lombardi Moretti Barbieri Fontana Santoro "
        "Mariani Rinaldi Caruso Ferrara Galli Martini Leone"
    ),
    "DE": _words(
        "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer "
        "Koch Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann "
        "Hartmann Lange Schmitt Werner Schmitz Krause Meier"
    ),
    "FR": _words(
        "Martin Bernard Thomas Petit Robert Richard Durand Dubois Moreau Laurent Simon Michel "
        "Lefebvre Leroy Roux David Bertrand Morel Fournier Girard Bonnet Dupont Lambert "
        "Fontaine Rousseau Vincent Muller Lefèvre Faure André"
    ),
    "GB": _words(
        "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson "
        "Thompson Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel "
        "Jackson Wood Turner Martin Cooper Hill"
    ),
    "ES": _words(
        "García Rodríguez González Fernández López Martínez Sánchez Pérez Gómez Martín Jiménez "
        "Ruiz Hernández Díaz Moreno Muñoz Álvarez Romero Alonso Gutiérrez Navarro Torres "
        "Domínguez Vázquez Ramos Gil Ramírez Serrano Blanco Molina"
    ),
}

#: Syllables that build the long tail of rare surnames: prefix + suffix, per country.
RARE_PARTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "IT": (
        _words(
            "Bel Bon Cal Cap Car Cas Dal Dell Fer Gal Gar Lan Lor Mar Mas Mor Pan Pel Pes Ros "
            "San Sar Tor Val Ver Zan Ben Cor Fal Spa"
        ),
        _words("otti ini elli etti one ucci acci ato ese aro ieri ardi ella ino oni asso uzzi"),
    ),
    "DE": (
        _words(
            "Acker Berg Bruck Eich Falken Grün Hagen Holz Kirch Linden Mühl Ober Rosen Stein "
            "Wald Wein Winter Sommer Feld Brand Dorn Eisen Gold Hirsch Kessel Lieb Mittel Roth "
            "Schön Tann"
        ),
        _words("mann er hardt feld meier berger huber bauer stein wald reuter inger brecht"),
    ),
    "FR": (
        _words(
            "Beau Bel Ber Bou Char Chev Cour Dela Font Gar Gran Lam Mal Mont Pel Ren Rich Roch "
            "Ros Sau Val Ver Vil Mar Bar"
        ),
        _words("eau ier on ard ot el ault in ette ois ais eux and ac at"),
    ),
    "GB": (
        _words(
            "Ash Black Brad Brook Castle Cliff Craw Fair Green Hart Hay Hol Kings Lang Mar Mill "
            "North Ox Red Ship Stan Thorn West White Wood Ather Bram Cal Dray Fen"
        ),
        _words("ley ton ford wood field by ham worth well shaw dale more bridge hurst wick"),
    ),
    "ES": (
        _words(
            "Alb Arr Bel Cab Cal Cas Esc Fig Gal Lar Mad Mal Mir Ol Pal Pard Quer Riv Sal Ter "
            "Val Vill Zam Bar Mor"
        ),
        _words("ero ado illo eda ares ano ote uelo ena iz ola ino edo anca era"),
    ),
}


def surname_pool(country: str, tail: int = 8000) -> tuple[str, ...]:
    """The surnames of a country: the common ones first, then up to `tail` rare built ones."""
    common = SURNAMES[country]
    prefixes, suffixes = RARE_PARTS[country]
    seen = set(common)
    rare: list[str] = []
    for middle in RARE_MIDDLES[country]:
        for suffix in suffixes:
            for prefix in prefixes:
                name = prefix + middle + suffix
                if len(rare) < tail and name not in seen:
                    seen.add(name)
                    rare.append(name)
    return common + tuple(rare)


#: Syllables that build the tail of rare given names: prefix + suffix, per (country, gender).
RARE_GIVEN_PARTS: dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, ...]]] = {
    ("IT", "M"): (
        _words("Al Ber Car Dar Er Fil Gual Ild Lu Mar Nar Ot Ric Ser Tul Ub Val Ze Or Ces"),
        _words("berto ando ino ello iano enzo ardo erio imo aldo"),
    ),
    ("IT", "F"): (
        _words("Al Ber Car Dar Er Fil Gual Ild Lu Mar Nar Ot Ric Ser Tul Ub Val Ze Or Ces"),
        _words("berta anda ina ella iana enza arda eria ima alda"),
    ),
    ("DE", "M"): (
        _words("Ar Bern Det Ed Ger Hel Lud Rein Sieg Ul Wil Gun Kon Ort Ru Bert Diet Eck"),
        _words("hard mut bert win fried old mar ulf wig"),
    ),
    ("DE", "F"): (
        _words("Ar Bern Det Ed Ger Hel Lud Rein Sieg Ul Wil Gun Kon Ort Ru Bert Diet Eck"),
        _words("hild trud burg lind gard run wina mara gund"),
    ),
    ("FR", "M"): (
        _words("Ro Ber Gas Lu Mar Sé Thi Au Cé Fé Gé Ho Re Ar Val Fla Bas"),
        _words("bert ton cien cel rard ric lien gustin drien"),
    ),
    ("FR", "F"): (
        _words("Ro Ber Gas Lu Mar Sé Thi Au Cé Fé Gé Ho Re Ar Val Fla Bas"),
        _words("ette ine elle ienne ise ence ance otte ilde"),
    ),
    ("GB", "M"): (
        _words("Al Ber Cliff Don Ed Gor Har Les Nor Ray Stan Wal Os Reg Wil Al Gil Ber"),
        _words("ford win ton ald bert ric mond wood ley"),
    ),
    ("GB", "F"): (
        _words("Al Ber Cliff Don Ed Gor Har Les Nor Ray Stan Wal Os Reg Wil Al Gil Ber"),
        _words("ine ella etta ie ina ette ene ice a"),
    ),
    ("ES", "M"): (
        _words("Ad Ben Cel Dam Eus Gen Hor Leo Nem Pru Sat Teo Vic Am Ro Ful Ces"),
        _words("erto ando ino encio iano esio aldo ario ulio"),
    ),
    ("ES", "F"): (
        _words("Ad Ben Cel Dam Eus Gen Hor Leo Nem Pru Sat Teo Vic Am Ro Ful Ces"),
        _words("erta anda ina encia iana esia alda aria ulia"),
    ),
}
#: Middle syllables that multiply the rare surnames (prefix + middle + suffix); "" keeps the
#: two-part names first, so they stay the more common ones of the tail.
RARE_MIDDLES: dict[str, tuple[str, ...]] = {
    "IT": ("", *_words("an er ol ar ic ist ab ad al am at el en es et il in is it on or os ot ul")),
    "DE": ("", *_words("en er bach hof ling dorf au eg el em ig in ke le ma ne ri sch st te")),
    "FR": ("", *_words("an er ol ar ev ign ab ac al am at el en es et il in is on or ou ul")),
    "GB": ("", *_words("ing er ham ton well by al an ar el en es in is on or ow ul ver wood")),
    "ES": ("", *_words("an er ol ar iz av ab ad al am at el en es et il in is on or os ot ul")),
}


def given_pool(country: str, gender: str, tail: int) -> list[tuple[str, tuple[str, ...]]]:
    """The given names of a country and gender, common first, then up to `tail` rare built ones.

    Rare names have no nicknames, and a built name that equals a real one is skipped.
    """
    common = GIVEN[(country, gender)]
    seen = {name for name, _ in common}
    prefixes, suffixes = RARE_GIVEN_PARTS[(country, gender)]
    rare: list[tuple[str, tuple[str, ...]]] = []
    for suffix in suffixes:
        for prefix in prefixes:
            name = prefix + suffix
            if len(rare) < tail and name not in seen:
                seen.add(name)
                rare.append((name, ()))
    return common + rare
