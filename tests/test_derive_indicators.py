"""Identifiers in ad pages: precision and recall on the fixture ads, provenance down to the byte."""

from __future__ import annotations

import pytest

from archive.derive.indicators import (
    PHONE_KINDS,
    find_in_html,
    phone_regions,
    regions_for,
)
from archive.derive.photos import distance, hash_photo
from archive.exceptions import ConfigError
from demo.ads import ADS, page
from demo.photos import PHOTOS, photo, same_photo

CTYPE = "text/html; charset=utf-8"


def _find(ad):  # type: ignore[no-untyped-def]
    return find_in_html(page(ad), CTYPE, f"https://ads.example/classified/{ad.slug}")


def test_phone_numbers_precision_and_recall_on_the_fixture_ads() -> None:
    tp = fp = fn = 0
    wrong: list[str] = []
    for ad in ADS:
        found = {f.value for f in _find(ad) if f.kind in PHONE_KINDS}
        tp += len(found & ad.phones)
        fp += len(found - ad.phones)
        fn += len(ad.phones - found)
        if found != ad.phones:
            wrong.append(f"{ad.slug}: extra {found - ad.phones}, missed {ad.phones - found}")
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    print(
        f"phone numbers: {tp + fn} in {len(ADS)} ads; precision {precision:.3f}, "
        f"recall {recall:.3f}",
        *wrong,
        sep="\n",
    )
    assert precision >= 0.95 and recall >= 0.9, wrong


def test_every_other_identifier_of_the_fixture_ads_is_found_and_nothing_else() -> None:
    for ad in ADS:
        found = {(f.kind, f.value) for f in _find(ad) if f.kind != "phone"}
        assert found == set(ad.identifiers), ad.slug


def test_a_broken_iban_a_bad_wallet_checksum_and_look_alikes_are_not_identifiers() -> None:
    ad = next(a for a in ADS if a.slug == "sweet-girls-antwerp")
    values = {f.value for f in _find(ad)}
    assert "BE71096123456768" not in values  # one digit off: the checksum fails
    assert "0xdac17f958d2ee523a2206206994597c13d831ec7" in values
    raws = {f.raw for f in _find(ad)}
    assert "0xdAC17F958D2ee523a2206206994597C13D831Ec7" not in raws  # EIP-55 case broken
    flat = next(a for a in ADS if a.slug == "studio-paris")
    assert {f.value for f in _find(flat)} == {"+33142685300"}  # SIRET, dossier, postcode: no


def test_each_finding_points_at_its_raw_text_in_the_payload_bytes() -> None:
    for ad in ADS:
        payload = page(ad)
        for f in _find(ad):
            raw = f.raw.encode()
            assert payload[f.offset : f.offset + len(raw)] == raw, (ad.slug, f)
            assert f.context


def test_a_windows_1252_page_gives_byte_offsets_in_its_own_encoding() -> None:
    payload = (
        '<html lang="fr"><meta charset="windows-1252"><p>Caf\xe9 \u20ac appelez le 06 12 34 56 78</p>'
    ).encode("cp1252")
    (f,) = find_in_html(payload, "text/html; charset=windows-1252")
    assert f.value == "+33612345678"
    assert payload[f.offset : f.offset + len(f.raw)] == f.raw.encode("cp1252")


def test_numbers_without_a_country_code_are_read_for_the_pages_country_first() -> None:
    assert regions_for('<html lang="fr">', None, ("BE", "NL", "FR"))[0] == "FR"
    assert regions_for("<html>", "https://annonces.example.nl/x", ("BE", "NL"))[0] == "NL"
    doc = b'<html lang="nl"><p>Bel 06-12345678</p>'
    assert [f.value for f in find_in_html(doc)] == ["+31612345678"]
    doc = b'<html lang="fr"><p>Appelez le 06 12 34 56 78</p>'
    assert [f.value for f in find_in_html(doc)] == ["+33612345678"]


def test_phone_regions_come_from_the_environment_and_a_bad_one_is_named() -> None:
    assert phone_regions({}) == ("BE", "NL", "FR", "DE", "GB")
    assert phone_regions({"LASTSEEN_PHONE_REGIONS": "ma, be"}) == ("MA", "BE")
    with pytest.raises(ConfigError, match="XX"):
        phone_regions({"LASTSEEN_PHONE_REGIONS": "BE,XX"})


def test_reposted_copies_of_a_photo_are_within_pdq_distance_and_others_are_not() -> None:
    hashes = {name: hash_photo(photo(name)) for name in PHOTOS}
    for a in PHOTOS:
        for b in PHOTOS:
            ha, hb = hashes[a], hashes[b]
            assert ha is not None and hb is not None
            d = distance(ha.pdq, hb.pdq)
            assert (d <= 31) == same_photo(a, b), (a, b, d)


def test_icons_and_what_is_not_an_image_get_no_photo_hash() -> None:
    from demo.site import png

    assert hash_photo(png(32, 20, (255, 140, 0))) is None
    assert hash_photo(png(120, 99, (255, 140, 0))) is None
    assert hash_photo(b"<html>not an image</html>") is None
    assert hash_photo(png(120, 120, (255, 140, 0))) is not None


def test_a_long_listing_of_prices_dates_times_and_references_holds_no_phone_number() -> None:
    rows = "".join(
        f"<li>Ad {i}: {400 + i},00 EUR, 0{i % 9 + 1}/12/2026 1{i % 10}:30, "
        f"le 0{i % 9 + 1}.12.2026, ref 2026-{i:05d}, 1{i % 9}00 Brussel</li>"
        for i in range(500)
    )
    doc = f'<html lang="fr"><ul>{rows}<li>tel. 0486 55 44 33</li></ul></html>'.encode()
    assert [(f.kind, f.value) for f in find_in_html(doc)] == [("phone", "+32486554433")]
