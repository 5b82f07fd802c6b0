"""Fixture ads in Dutch, French, English and Arabic, with what each one truly shows.

They read like the ads investigators meet: phone numbers written in many ways and hidden from
scrapers (digits spelled out, letters for digits, words between the groups), handles and profile
links of messaging apps, bank details and wallets; and, beside them, things that look like phone
numbers but are not (prices, dates, reference and order numbers, postcodes, company numbers).
``phones`` is the ground truth the extractor's precision and recall are measured against: every
number the ad shows, in any form (text, ``tel:``, WhatsApp, Viber or Signal links), in E.164.
The demo site serves them at ``/classified/<slug>``, their photos at ``/photo/<name>.jpg``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FixtureAd:
    slug: str
    lang: str
    title: str
    body: str  # HTML, inside <body>
    phones: frozenset[str]
    # (kind, normalised value) of every other identifier the ad shows
    identifiers: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    photos: tuple[str, ...] = ()


def _ad(
    slug: str,
    lang: str,
    title: str,
    body: str,
    phones: set[str],
    identifiers: set[tuple[str, str]] | None = None,
    photos: tuple[str, ...] = (),
) -> FixtureAd:
    return FixtureAd(
        slug, lang, title, body, frozenset(phones), frozenset(identifiers or ()), photos
    )


ADS: list[FixtureAd] = [
    _ad(
        "nieuw-in-brussel",
        "nl",
        "Nieuw in Brussel! Lieve dame, 22 jaar",
        """<p>Hallo heren, ik ben nieuw in Brussel. Bel of app me: <b>0470 12 34 56</b>.</p>
<p>Ook op WhatsApp: <a href="https://wa.me/32470123456">klik hier</a> of
<a href="tel:+32470123456">bel direct</a>.</p>
<p>Prijs: 150 euro / uur, 2 uur 250 euro. Beschikbaar 10:00-22:00, 1000 Brussel.
Ref. 2026-04471. Geplaatst op 03-12-2026.</p>""",
        {"+32470123456"},
        {("whatsapp", "+32470123456")},
        ("amira",),
    ),
    _ad(
        "lisa-bxl",
        "nl",
        "Lisa, privé ontvangst",
        """<p>Bel me: nul vier acht zeven - zes vijf - vier drie - twee een (geen sms).</p>
<p>Sms naar 06-87654321 als ik niet opneem. Telegram: @lisa_bxl</p>
<p>Prijs 80€, tweede uur 60€. Datum: 03.12.2026. Postcode 1050.</p>""",
        {"+32487654321", "+31687654321"},
        {("telegram", "lisa_bxl")},
        ("amira-cropped",),
    ),
    _ad(
        "schoonmaak-amsterdam",
        "nl",
        "Vacature schoonmaak, direct beginnen",
        """<p>Goed loon: 15 euro per uur, 40 uur per week. Adres: Damrak 70, 1012 LM Amsterdam.</p>
<p>Info: +31 (0)6 1234 5678 of 020-7654321 (kantoor, 9-17 uur).</p>
<p>KvK 12345678. Vacaturenummer 2026-1203-0047. Huisvesting €95 per week.</p>
<p>Mail je cv naar <a href="mailto:werk.nu@outlook.com">werk.nu@outlook.com</a>.</p>""",
        {"+31612345678", "+31207654321"},
        {("email", "werk.nu@outlook.com")},
    ),
    _ad(
        "nouvelle-a-ixelles",
        "fr",
        "Nouvelle à Ixelles, discrète",
        """<p>Appelle-moi : zéro-quatre-sept-six / 11.22.33, uniquement le soir.</p>
<p>100€ la demi-heure, 180€ l'heure. Disponible du 12/12 au 24/12, 1050 Ixelles.</p>
<p>Snapchat : <a href="https://www.snapchat.com/add/lina.bxl">lina.bxl</a> —
Instagram : <a href="https://instagram.com/lina_bxl_vip/">@lina_bxl_vip</a></p>""",
        {"+32476112233"},
        {("snapchat", "lina.bxl"), ("instagram", "lina_bxl_vip")},
        ("amira-reposted",),
    ),
    _ad(
        "passage-uk-calais",
        "fr",
        "Passage UK garanti, départ de Calais",
        """<p>Passage garanti vers l'Angleterre. Contact 06 12 34 56 78 ou +33 7 81 23 45 67.</p>
<p>Tarif 1 500 €, acompte 500 €. Départ de Calais (62100) chaque semaine.</p>
<p>Paiement par virement : IBAN FR14 2004 1010 0505 0001 3M02 606.
Référence annonce 48213977, mise en ligne le 01/12/2026.</p>""",
        {"+33612345678", "+33781234567"},
        {("iban", "FR1420041010050500013M02606")},
        ("van",),
    ),
    _ad(
        "passage-discret",
        "fr",
        "Passage discret, places limitées",
        """<p>Écris-moi : zéro sept, huit un, deux trois, quatre cinq, six sept.</p>
<p>Ou bien O6.98.76.54.32 — Viber : <a href="viber://chat?number=%2B33698765432">ici</a></p>
<p>Mail : contact.passage@proton.me ou passeur59 [at] gmail [dot] com</p>
<p>Prix : 2 300 € par personne, enfants 1 200 €. Rendez-vous le 15/12 à 21h30.</p>""",
        {"+33781234567", "+33698765432"},
        {
            ("email", "contact.passage@proton.me"),
            ("email", "passeur59@gmail.com"),
            ("viber", "+33698765432"),
        },
    ),
    _ad(
        "uk-jobs-accommodation",
        "en",
        "Work in the UK, accommodation provided",
        """<p>Call or text +44 7911 123456,
or oh seven nine one one, one two three four five six.</p>
<p>Wages £450 per week, start 01/02/2027, postcode E1 6AN. Ref: JOB-2026-3391.</p>
<p>Join us on Telegram: <a href="https://t.me/ukjobs_fast">t.me/ukjobs_fast</a></p>
<p>Travel fee in bitcoin: bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq or
1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa</p>""",
        {"+447911123456"},
        {
            ("telegram", "ukjobs_fast"),
            ("btc", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"),
            ("btc", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),
        },
        ("studio",),
    ),
    _ad(
        "sweet-girls-antwerp",
        "en",
        "Sweet girls in Antwerp, 24/7",
        """<p>Call 04seven9 nine8 76 five4 or +32 four eight five 11 22 33.</p>
<p>Deposit first: IBAN BE71 0961 2345 6769, message +++090/9337/55493+++.
(Old account BE71 0961 2345 6768 closed.) Order 2026-12-0031, 2000 Antwerpen.</p>
<p>Or pay USDT: TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t (TRC20) or
0xdAC17F958D2ee523a2206206994597C13D831ec7 (ERC20). Not this one:
0xdAC17F958D2ee523a2206206994597C13D831Ec7.</p>""",
        {"+32479987654", "+32485112233"},
        {
            ("iban", "BE71096123456769"),
            ("be-reference", "090933755493"),
            ("trx", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"),
            ("eth", "0xdac17f958d2ee523a2206206994597c13d831ec7"),
        },
        ("beach",),
    ),
    _ad(
        "amal-bruxelles",
        "ar",
        "فتاة جديدة في بروكسل",
        """<p>للتواصل واتساب: ‎+212 6 12 34 56 78‎ أو اتصل ‎٠٤٨٧ ٦٥ ٤٣ ٢١‎</p>
<p>رقم آخر: ‎+٣٢ ٤٩٥ ١١ ٢٢ ٣٣‎</p>
<p>السعر ٣٠٠ يورو للساعة، التاريخ ٢٠٢٦/١٢/٠٣، الرمز البريدي 1000.</p>""",
        {"+212612345678", "+32487654321", "+32495112233"},
        set(),
        ("amira-small",),
    ),
    _ad(
        "amal-germany-jobs",
        "ar",
        "عمل في ألمانيا براتب جيد",
        """<p>عمل في ألمانيا، راتب 2000 يورو شهريا، السكن 350 يورو.</p>
<p>اتصل على 0049 151 23456789 أو تيليجرام @jobs_de_2026</p>
<p><a href="https://vk.com/id12345678">VK</a> ·
<a href="https://www.facebook.com/profile.php?id=100012345678901">Facebook</a> ·
<a href="https://www.tiktok.com/@arbeit.de">TikTok</a></p>""",
        {"+4915123456789"},
        {
            ("telegram", "jobs_de_2026"),
            ("vk", "id12345678"),
            ("facebook", "100012345678901"),
            ("tiktok", "arbeit.de"),
        },
    ),
    _ad(
        "iphone-te-koop",
        "nl",
        "Te koop: iPhone 13, als nieuw",
        """<p>iPhone 13, 128 GB, 450 euro, bouwjaar 2021. Afhalen in 2000 Antwerpen.</p>
<p>Ordernummer 2026-1203-0047, BTW BE0123.456.789, datum 03/12/2026, tijd 14:30.</p>
<p>Contact via Signal: <a href="https://signal.me/#p/+32470123456">Signal</a> of
Skype <a href="skype:lisa.bxl?call">lisa.bxl</a>.</p>""",
        {"+32470123456"},
        {("signal", "+32470123456"), ("skype", "lisa.bxl")},
    ),
    _ad(
        "studio-paris",
        "fr",
        "Studio à louer, Paris 11e",
        """<p>Studio de 22 m², 650 €/mois, charges 75,50 €. 75011 Paris, métro Voltaire.</p>
<p>Disponible le 01.01.2027. Dossier n° 2026/00451, SIRET 732 829 320 00074.</p>
<p>Visites au 01 42 68 53 00 (agence), du lundi au vendredi.</p>""",
        {"+33142685300"},
    ),
    _ad(
        "flat-london",
        "en",
        "Room in a shared flat, Whitechapel",
        """<p>£1,200 pcm, deposit £1,500, bills included. Available 12.03.2026.</p>
<p>Viewing: call 020 7946 0018, quote ref 44712233. Office hours 09:00-17:30.</p>
<p>Or WhatsApp <a href="https://api.whatsapp.com/send?phone=447912345678">here</a>;
group: <a href="https://chat.whatsapp.com/F7zQ2pLxY9k4GmT1aBcD3e">join</a>.</p>""",
        {"+442079460018", "+447912345678"},
        {("whatsapp", "+447912345678"), ("whatsapp-group", "F7zQ2pLxY9k4GmT1aBcD3e")},
    ),
    _ad(
        "chauffeur-rotterdam",
        "nl",
        "Chauffeur gezocht, Rotterdam haven",
        """<p>Rijbewijs C, €14,50 netto per uur, 3000 km per week. Postcode 3011 AA.</p>
<p>Bellen: 0031 6 2233 4455 of nul zes, een een, twee twee, drie drie, vier vier.</p>
<p>Telegram kanaal: <a href="tg://resolve?domain=havenwerk">havenwerk</a></p>""",
        {"+31622334455", "+31611223344"},
        {("telegram", "havenwerk")},
    ),
    _ad(
        "trajets-listing",
        "fr",
        "Trajets cette semaine",
        """<ul>
<li>Bruxelles → Londres, 450 €, départ 03/12/2026 18:30, réf. 2026-00471,
tél. 0486 55 44 33</li>
<li>Lille → Douvres, 1 200 €, le 04.12.2026 à 06:15, 59000 Lille, code 7500-1120</li>
<li>Rotterdam → Hull, €95 per week, 12-12-2026 09:00, order 0031-2026-17</li>
<li>Société de transport, TVA BE 0457.123.485, n° d'entreprise 0457.123.485</li>
<li>Réservations : 02 512 34 56 (bureau), lundi au samedi 08:00-20:00</li>
</ul>""",
        {"+32486554433", "+3225123456"},
    ),
]


def by_slug(slug: str) -> FixtureAd | None:
    for ad in ADS:
        if ad.slug == slug:
            return ad
    return None


def page(ad: FixtureAd) -> bytes:
    """The ad as a classified site serves it: its text, its photos, a link back."""
    direction = ' dir="rtl"' if ad.lang == "ar" else ""
    photos = "".join(
        f'<img src="/photo/{name}.jpg" alt="photo" width="320" height="240">' for name in ad.photos
    )
    return (
        f'<!doctype html><html lang="{ad.lang}"{direction}><head><meta charset="utf-8">'
        f"<title>{html.escape(ad.title)}</title></head>"
        f'<body><h1>{html.escape(ad.title)}</h1><div class="ad">{ad.body}</div>{photos}'
        '<p><img src="/img/1.png" alt="" width="32" height="20"> <a href="/">All ads</a></p>'
        "</body></html>"
    ).encode()
