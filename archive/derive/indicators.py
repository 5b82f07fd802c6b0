"""Identifiers in a page: phone numbers, messaging handles and profile links, e-mail addresses,
IBANs, Belgian structured references, Bitcoin, Ethereum and Tron addresses.

Derived data (DESIGN rule 8): each finding says where in the record's payload its raw text is
(a byte offset), so anyone can find it there; the normalised value (E.164 for a phone number,
a lowercase handle, a compact IBAN) is what searches and links compare.

Phone numbers are recognised by ``phonenumbers`` (Google's libphonenumber), not by our own
patterns: a number counts only when it is valid for its country. Written without a country
code it is read for the page's likely countries first (the ``lang`` of the page, the URL's
country domain), then ``LASTSEEN_PHONE_REGIONS``, and must then begin with the trunk ``0``
(so a company or order number is not read as a subscriber number). Numbers hidden from
scrapers are read too when they are digits spelled out in Dutch, French or English, mixed with
numerals ("04seven9"), or with the letter O for a zero ("O6.98..."), as long as the whole run
is a valid number.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import html
import itertools
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import phonenumbers
from stdnum import iban as stdnum_iban
from stdnum.be import ogm_vcs
from stdnum.be import vat as be_vat

DEFAULT_REGIONS = ("BE", "NL", "FR", "DE", "GB")
CONTEXT = 40  # characters of the page's text kept on either side of a finding

PHONE = "phone"
EMAIL = "email"
IBAN = "iban"
BE_REFERENCE = "be-reference"
BTC, ETH, TRX = "btc", "eth", "trx"
# Kinds whose value is a phone number in E.164 (search and links compare them with phones).
PHONE_KINDS = (PHONE, "whatsapp", "viber", "signal")


def family(kind: str) -> str:
    """The kind an identifier is compared as: a number found as a WhatsApp, Viber or Signal
    link is the same phone number as one written in the text."""
    return PHONE if kind in PHONE_KINDS else kind


@dataclass(frozen=True)
class Finding:
    """One identifier in one payload."""

    kind: str
    value: str  # normalised
    raw: str  # as written in the payload (decoded with the payload's charset)
    offset: int  # byte offset of ``raw`` in the payload
    context: str  # the page's text around it, whitespace collapsed


def phone_regions(environ: dict[str, str] | None = None) -> tuple[str, ...]:
    """``LASTSEEN_PHONE_REGIONS`` (comma-separated ISO country codes), else BE,NL,FR,DE,GB."""
    env = os.environ if environ is None else environ
    value = env.get("LASTSEEN_PHONE_REGIONS", "")
    regions = tuple(r.strip().upper() for r in value.split(",") if r.strip())
    known = phonenumbers.SUPPORTED_REGIONS
    unknown = [r for r in regions if r not in known]
    if unknown:
        from archive.exceptions import ConfigError

        raise ConfigError(f"LASTSEEN_PHONE_REGIONS: unknown region(s) {', '.join(unknown)}")
    return regions or DEFAULT_REGIONS


# -- the page's text, with a way back to the payload ------------------------------------------

_MARKUP = re.compile(
    r"<(script|style|noscript|template)\b.*?</\1\s*>|<!--.*?-->|</?([a-zA-Z][\w-]*)[^>]*>"
    r"|&(#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{2,10});",
    re.S | re.I,
)
# Tags that do not break a line of text: "0470 <b>12</b> 34" is one number.
_INLINE = frozenset(
    "a abbr b bdi bdo big cite code data em font i kbd mark q s small span strong sub sup time "
    "u var wbr".split()
)
# Invisible characters that sit inside numbers (bidi marks around a number in Arabic text,
# non-breaking spaces) are read as spaces, one for one, so offsets stay exact.
_AS_SPACE = dict.fromkeys(map(ord, "\u00a0\u200b\u200c\u200d\u200e\u200f\u2060\ufeff"), " ")
_AS_SPACE.update(dict.fromkeys(range(0x202A, 0x202F), " "))
_AS_SPACE.update(dict.fromkeys(range(0x2066, 0x206A), " "))


@dataclass
class Text:
    """The visible text of an HTML document; ``where[i]`` is the document index of ``text[i]``."""

    doc: str
    text: str
    where: list[int]

    @classmethod
    def of_html(cls, doc: str) -> Text:
        parts: list[str] = []
        where: list[int] = []
        pos = 0
        for m in _MARKUP.finditer(doc):
            if m.start() > pos:
                parts.append(doc[pos : m.start()])
                where.extend(range(pos, m.start()))
            if m.group(3):
                char = html.unescape(m.group(0))
                parts.append(char)
                where.extend([m.start()] * len(char))
            elif m.group(1) or (m.group(2) or "").lower() not in _INLINE:
                parts.append("\n")
                where.append(m.start())
            pos = m.end()
        parts.append(doc[pos:])
        where.extend(range(pos, len(doc)))
        return cls(doc, "".join(parts).translate(_AS_SPACE), where)

    def raw(self, start: int, end: int) -> tuple[int, str]:
        """The document's index and text for ``text[start:end]``."""
        first = self.where[start]
        last = self.where[end - 1] + 1
        return first, self.doc[first:last]

    def context(self, doc_index: int, doc_end: int) -> str:
        start = bisect.bisect_left(self.where, doc_index)
        end = bisect.bisect_left(self.where, doc_end)
        snippet = self.text[max(0, start - CONTEXT) : end + CONTEXT]
        return " ".join(snippet.split())


class _Collector:
    """Findings of one document, one per kind, value and position, byte offsets computed once."""

    def __init__(self, page: Text, encoding: str) -> None:
        self.page = page
        self.encoding = encoding
        self.found: dict[tuple[str, str, int], Finding] = {}
        self.taken: set[int] = set()  # document indices already claimed by a finding
        self._byte_at: list[int] | None = None

    def overlaps(self, start: int, end: int) -> bool:
        return any(i in self.taken for i in range(start, end))

    def offset(self, index: int) -> int:
        """The byte offset in the payload of ``doc[index]``."""
        doc = self.page.doc
        if doc.isascii():
            return index
        if self._byte_at is None:
            sizes = (len(c.encode(self.encoding, "surrogateescape")) for c in doc)
            self._byte_at = [0, *itertools.accumulate(sizes)]
        return self._byte_at[index]

    def add_doc(self, kind: str, value: str, start: int, end: int) -> None:
        """A finding at ``doc[start:end]``."""
        if (kind, value, start) in self.found:
            return
        raw = self.page.doc[start:end]
        context = self.page.context(start, end)
        self.found[(kind, value, start)] = Finding(kind, value, raw, self.offset(start), context)
        self.taken.update(range(start, end))

    def add_text(self, kind: str, value: str, start: int, end: int) -> None:
        """A finding at ``text[start:end]`` of the visible text."""
        first, raw = self.page.raw(start, end)
        self.add_doc(kind, value, first, first + len(raw))


# -- phone numbers ---------------------------------------------------------------------------

E164 = phonenumbers.PhoneNumberFormat.E164

# Where a phone number can start: a "+", or a digit group beginning with 0 (trunk prefix or
# 00), not glued to a letter or digit before it; it runs over digits and the separators numbers
# are written with. Each candidate is then read by libphonenumber, its groups trimmed from the
# end until it is a valid number (a date or a price may follow a number with a space only).
_CANDIDATE = re.compile(r"(?<![^\W_])(?:\+\s?|\(?)\d[\d \t.\-/()]{4,30}\d(?![^\W_])")
_GROUP = re.compile(r"\d+")
# A Belgian company number (0457.123.485) is ten digits starting with 0, like a mobile number:
# after one of these words, a number that passes the company number's checksum is not a phone.
_COMPANY = re.compile(
    r"(?:btw|tva|vat|kbo|bce|ondernemingsnummer|entreprise|enterprise|company|société|bedrijf)"
    r"\W{0,12}(?:n°|nr\.?|no\.?|number|nummer|numéro)?\W{0,4}(?:BE)?\W{0,2}$",
    re.I,
)
# Dates are not numbers (01/12/2026, 03.12.2026, 1/12/26), whatever a country's numbering says.
_DATE = re.compile(r"(?<!\d)[0-3]?\d(?:/[01]?\d/\d{2}|[/.\-][01]?\d[/.\-](?:19|20)\d{2})(?!\d)")
_DIGIT_WORDS = {
    "0": "nul nulle zero zéro oh",
    "1": "een één un one",
    "2": "twee deux two",
    "3": "drie trois three",
    "4": "vier quatre four",
    "5": "vijf cinq five",
    "6": "zes six",
    "7": "zeven sept seven",
    "8": "acht huit eight",
    "9": "negen neuf nine",
}
_WORD_DIGIT = {word: digit for digit, words in _DIGIT_WORDS.items() for word in words.split()}
_WORDS = "|".join(sorted(_WORD_DIGIT, key=len, reverse=True))
# One token of an obfuscated number: a digit word (not inside another word), numerals, or the
# letter O standing for a zero beside a numeral.
_TOKEN = (
    rf"(?:(?<![^\W\d_])(?:{_WORDS})(?![^\W\d_])|[0-9]+|(?<![^\W\d_])[Oo](?=[0-9])|(?<=[0-9])[Oo])"
)
_SPELLED_RUN = re.compile(
    rf"(?:(?:\+|(?<![^\W\d_])plus\s?)\s?)?{_TOKEN}(?:[\s.\-/,_()*]{{0,4}}{_TOKEN}){{5,}}", re.I
)
_TOKENS = re.compile(_TOKEN, re.I)
_A_WORD = re.compile(rf"(?<![^\W\d_])(?:{_WORDS})(?![^\W\d_])|[Oo](?=[0-9])|(?<=[0-9])[Oo]", re.I)


_MOBILE = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def _rank(number: phonenumbers.PhoneNumber, region_rank: int) -> tuple[int, int]:
    """Ads give mobile numbers: a national number valid in several countries (0476..., a Belgian
    mobile and a French landline) is read as the mobile one, then by the regions' order."""
    return (0 if phonenumbers.number_type(number) in _MOBILE else 1, region_rank)


def _parse(digits: str, international: bool, regions: Sequence[str]) -> str | None:
    """E.164 of a digit string, if it is a valid number (national ones need the trunk 0)."""
    if international:
        candidates: Sequence[str | None] = [None]
        digits = "+" + digits
    elif digits.startswith("0"):
        candidates = regions
    else:
        return None
    best: tuple[tuple[int, int], phonenumbers.PhoneNumber] | None = None
    for rank, region in enumerate(candidates):
        try:
            number = phonenumbers.parse(digits, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number) and (best is None or _rank(number, rank) < best[0]):
            best = (_rank(number, rank), number)
    return None if best is None else str(phonenumbers.format_number(best[1], E164))


@functools.lru_cache(maxsize=4096)
def _read(candidate: str, regions: tuple[str, ...]) -> tuple[tuple[int, int], str] | None:
    """The likeliest valid reading of a written number, with its rank (see ``_rank``)."""
    international = candidate.startswith("+")
    best: tuple[tuple[int, int], phonenumbers.PhoneNumber] | None = None
    for rank, region in enumerate([None] if international else regions):
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number) and (best is None or _rank(number, rank) < best[0]):
            best = (_rank(number, rank), number)
    if best is None:
        return None
    return best[0], str(phonenumbers.format_number(best[1], E164))


def _is_company_number(text: str, start: int, written: str) -> bool:
    if not _COMPANY.search(text[max(0, start - 40) : start]):
        return False
    digits = phonenumbers.normalize_digits_only(written)[:10]
    return bool(be_vat.is_valid(digits))


def _phones(page: Text, found: _Collector, regions: tuple[str, ...]) -> None:
    text = page.text
    # (start, end, rank, E.164): the best reading wins where several overlap
    spans: list[tuple[int, int, tuple[int, int], str]] = []
    for m in _CANDIDATE.finditer(text):
        written = m.group()
        if _DATE.search(written):
            continue
        international = written.startswith("+")
        groups = list(_GROUP.finditer(written))
        if not international and unicodedata.digit(groups[0].group()[0]) != 0:
            # Not "+", "0" or "00": a national number needs its trunk 0. A number may still
            # start at a later group ("ref 2026 0470 12 34 56"): look from the next 0 group.
            later = next((g for g in groups[1:] if unicodedata.digit(g.group()[0]) == 0), None)
            if later is None:
                continue
            groups = groups[groups.index(later) :]
            international = False
        first = 0 if international else groups[0].start()
        if not international and _is_company_number(text, m.start() + first, written[first:]):
            continue
        digits = 0
        ends = []
        if text[m.end() : m.end() + 1] == ":" and text[m.end() + 1 : m.end() + 2].isdigit():
            groups = groups[:-1]  # the hour of a time (18:30) ends it, not a number
        for g in groups:
            digits += len(g.group())
            if digits > 17:
                break
            if digits >= 7:
                ends.append(g.end())
        for end in reversed(ends):
            reading = _read(written[first:end].strip(), regions)
            if reading is not None:
                spans.append((m.start() + first, m.start() + end, *reading))
                break
    for lo, hi in _near_words(text):
        for run in _SPELLED_RUN.finditer(text, lo, hi):
            if not any(t.group().isalpha() for t in _TOKENS.finditer(run.group())):
                continue  # numerals only: read above
            spelled = _spelled(run.group(), run.start(), regions)
            if spelled is not None:
                spans.append(spelled)
    # Longest first (a whole spelled-out run wins over a numeral group inside it), then the
    # likeliest reading.
    for start, end, _, value in sorted(spans, key=lambda s: (s[0] - s[1], s[2], s[0])):
        first, raw = page.raw(start, end)
        if not found.overlaps(first, first + len(raw)):
            found.add_text(PHONE, value, start, end)


def _near_words(text: str) -> list[tuple[int, int]]:
    """Stretches of text around digit words (or an O beside a numeral), merged: the only places
    a spelled-out number can be, and the only ones its slow pattern is run over."""
    windows: list[tuple[int, int]] = []
    for m in _A_WORD.finditer(text):
        lo, hi = max(0, m.start() - 120), min(len(text), m.end() + 120)
        if windows and lo <= windows[-1][1]:
            windows[-1] = (windows[-1][0], hi)
        else:
            windows.append((lo, hi))
    return windows


def _spelled(
    run: str, at: int, regions: Sequence[str]
) -> tuple[int, int, tuple[int, int], str] | None:
    """The longest valid number among the run's tokens (a run may swallow a neighbouring word)."""
    international = run.lstrip().startswith("+") or run.lower().startswith("plus")
    tokens = [
        (t.start(), t.end(), _WORD_DIGIT.get(t.group().lower(), t.group().replace("O", "0")))
        for t in _TOKENS.finditer(run)
    ]
    tokens = [(s, e, d.replace("o", "0")) for s, e, d in tokens]
    for size in range(len(tokens), 0, -1):
        for first in range(0, len(tokens) - size + 1):
            chosen = tokens[first : first + size]
            digits = "".join(d for _, _, d in chosen)
            if not 8 <= len(digits) <= 15:
                continue
            plus = international and first == 0
            value = _parse(digits, plus, regions)
            if value is not None:
                start = 0 if plus else chosen[0][0]
                return at + start, at + chosen[-1][1], (0, 0), value
    return None


# -- links and handles -----------------------------------------------------------------------

_LINKS: list[tuple[str, re.Pattern[str]]] = [
    (
        "whatsapp",
        re.compile(
            r"(?:wa\.me/|whatsapp\.com/send/?\?phone=|whatsapp://send\?phone=)"
            r"(?:%2B|\+)?(\d{6,15})",
            re.I,
        ),
    ),
    ("whatsapp-group", re.compile(r"chat\.whatsapp\.com/(?:invite/)?([A-Za-z0-9]{10,40})", re.I)),
    ("telegram-invite", re.compile(r"(?:t|telegram)\.me/(?:joinchat/|\+)([\w-]{8,40})", re.I)),
    (
        "telegram",
        re.compile(
            r"(?:(?<![\w.])t|telegram)\.me/(?!joinchat/|s/|share/)"
            r"([A-Za-z][A-Za-z0-9_]{3,31})\b",
            re.I,
        ),
    ),
    ("telegram", re.compile(r"tg://resolve\?domain=([A-Za-z][A-Za-z0-9_]{3,31})", re.I)),
    ("signal", re.compile(r"signal\.me/#p/(?:%2B|\+)(\d{6,15})", re.I)),
    ("signal-username", re.compile(r"signal\.me/#eu/([\w.%-]{3,80})", re.I)),
    ("viber", re.compile(r"viber://(?:chat|add|contact)\?number=(?:%2B|\+)?(\d{6,15})", re.I)),
    ("skype", re.compile(r"skype:([A-Za-z][A-Za-z0-9_.,:\-]{5,31})(?=[?\"'\s<])", re.I)),
    ("snapchat", re.compile(r"snapchat\.com/add/([A-Za-z][\w.\-]{2,14})", re.I)),
    (
        "instagram",
        re.compile(
            r"instagram\.com/(?!(?:p|reel|reels|explore|stories|accounts|"
            r"direct|about|developer|legal)\b)([A-Za-z0-9_.]{1,30})",
            re.I,
        ),
    ),
    ("facebook", re.compile(r"(?:facebook|fb)\.com/profile\.php\?id=(\d{5,20})", re.I)),
    (
        "facebook",
        re.compile(
            r"(?:facebook|fb)\.com/(?!(?:profile\.php|sharer|share|dialog|"
            r"plugins|tr|login|pages|groups|events|watch|photo|permalink|"
            r"policies|help|privacy|marketplace|hashtag|story\.php)\b)"
            r"([A-Za-z0-9.]{5,50})",
            re.I,
        ),
    ),
    ("tiktok", re.compile(r"tiktok\.com/@([\w.]{2,24})", re.I)),
    (
        "vk",
        re.compile(
            r"(?<![\w.])vk\.com/(?!(?:share|away|feed|login|search|video|wall)"
            r"\b)([A-Za-z0-9_.]{2,32})",
            re.I,
        ),
    ),
    (EMAIL, re.compile(r"mailto:([^\"'?<>\s]+)", re.I)),
    (PHONE, re.compile(r"(?<![\w])tel:([+\d\s().\-%A-Fa-f]{6,40}?)(?=[\"'<>?;]|$)", re.I)),
]
# What each kind's links must contain: a page without it is not searched for them.
_LINK_KEYS = {
    "whatsapp": ("wa.me", "whatsapp"),
    "whatsapp-group": ("chat.whatsapp",),
    "telegram-invite": (".me/",),
    "telegram": (".me/", "tg://"),
    "signal": ("signal.me",),
    "signal-username": ("signal.me",),
    "viber": ("viber:",),
    "skype": ("skype:",),
    "snapchat": ("snapchat.com",),
    "instagram": ("instagram.com",),
    "facebook": ("facebook.com", "fb.com"),
    "tiktok": ("tiktok.com",),
    "vk": ("vk.com",),
    EMAIL: ("mailto:",),
    PHONE: ("tel:",),
}
_TELEGRAM_WORD = re.compile(
    r"(?:telegram|telegramm|telegrame|تيليجرام|تلغرام|تليجرام|تيلجرام)[^@\n]{0,20}@([A-Za-z][A-Za-z0-9_]{4,31})\b",
    re.I,
)
_EMAIL = re.compile(r"(?<![\w.+\-/])[\w.+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63})+")
_EMAIL_HIDDEN = re.compile(
    r"([\w.+\-]{1,64})\s*[\[(]\s*(?:at|@|arobase|apenstaart)\s*[\])]\s*"
    r"([A-Za-z0-9\-]{1,63}(?:\s*[\[(]\s*(?:dot|punt|point)\s*[\])]\s*[A-Za-z0-9\-]{1,63})+)",
    re.I,
)
_HIDDEN_AT = re.compile(r"[\[(]\s*(?:at|@|arobase|apenstaart)\s*[\])]", re.I)
_DOT_WORD = re.compile(r"\s*[\[(]\s*(?:dot|punt|point)\s*[\])]\s*", re.I)
# A "name@2x.png" in a page is an image file, not an address.
_NOT_TLD = frozenset("png jpg jpeg gif webp svg css js avif ico".split())


def _email(value: str) -> str | None:
    value = unquote(value).strip().lower().rstrip(".")
    local, _, domain = value.partition("@")
    if not local or "." not in domain or domain.rsplit(".", 1)[1] in _NOT_TLD:
        return None
    return value


def _link_value(kind: str, value: str, regions: Sequence[str]) -> str | None:
    if kind in ("whatsapp", "signal", "viber"):
        return _parse(value, True, regions)
    if kind == PHONE:
        raw = unquote(value)
        digits = phonenumbers.normalize_digits_only(raw)
        return _parse(digits, raw.strip().startswith("+"), regions)
    if kind == EMAIL:
        return _email(value)
    if kind in ("whatsapp-group", "telegram-invite"):
        return value  # invite codes are case-sensitive
    return unquote(value).lower().rstrip(".")


def _links(page: Text, found: _Collector, regions: Sequence[str]) -> None:
    lower = page.doc.lower()
    for kind, pattern in _LINKS:
        if not any(key in lower for key in _LINK_KEYS[kind]):
            continue
        for m in pattern.finditer(page.doc):
            value = _link_value(kind, m.group(1), regions)
            if value is not None:
                found.add_doc(kind, value, m.start(), m.end())


def _handles_and_emails(page: Text, found: _Collector) -> None:
    text = page.text
    if "@" in text:
        for m in _TELEGRAM_WORD.finditer(text):
            found.add_text("telegram", m.group(1).lower(), m.start(1) - 1, m.end(1))
        for m in _EMAIL.finditer(text):
            value = _email(m.group())
            if value is not None:
                found.add_text(EMAIL, value, m.start(), m.end())
    if not _HIDDEN_AT.search(text):
        return
    for m in _EMAIL_HIDDEN.finditer(text):
        value = _email(m.group(1) + "@" + _DOT_WORD.sub(".", m.group(2)))
        if value is not None:
            found.add_text(EMAIL, value, m.start(), m.end())


# -- money -----------------------------------------------------------------------------------

_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}")
_STRUCTURED = re.compile(r"(\+{3}|\*{3})\s*(\d{3})\s*/\s*(\d{4})\s*/\s*(\d{5})\s*\1")
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BTC_LEGACY = re.compile(r"(?<![\w])[13][1-9A-HJ-NP-Za-km-z]{25,34}(?![\w])")
_BTC_SEGWIT = re.compile(
    r"(?<![\w])(?:bc1[02-9ac-hj-np-z]{11,71}|BC1[02-9AC-HJ-NP-Z]{11,71})(?![\w])"
)
_ETH = re.compile(r"(?<![\w])0x[0-9a-fA-F]{40}(?![\w])")
_TRX = re.compile(r"(?<![\w])T[1-9A-HJ-NP-Za-km-z]{33}(?![\w])")


def _base58check(value: str) -> bytes | None:
    number = 0
    for char in value:
        number = number * 58 + _BASE58.index(char)
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    raw = b"\x00" * (len(value) - len(value.lstrip("1"))) + raw
    if len(raw) < 5:
        return None
    body, check = raw[:-4], raw[-4:]
    if hashlib.sha256(hashlib.sha256(body).digest()).digest()[:4] != check:
        return None
    return body


_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _bech32_valid(value: str) -> bool:
    """BIP 173 (witness v0, bech32) and BIP 350 (v1 and later, bech32m) checksums."""
    value = value.lower()
    hrp, _, data = value.rpartition("1")
    values = [_BECH32.index(c) for c in data]
    check = 1
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    for v in [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + values:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            check ^= gen[i] if (top >> i) & 1 else 0
    if not values:
        return False
    return check == (1 if values[0] == 0 else 0x2BC830A3)


def _eth_valid(value: str) -> bool:
    """EIP-55: a mixed-case address must match its checksum; one case alone carries none."""
    body = value[2:]
    if body == body.lower() or body == body.upper():
        return True
    from Crypto.Hash import keccak

    digest = keccak.new(digest_bits=256, data=body.lower().encode()).hexdigest()
    return all(
        (c.upper() if int(d, 16) >= 8 else c.lower()) == c
        for c, d in zip(body, digest, strict=False)
    )


def _money(page: Text, found: _Collector) -> None:
    text = page.text
    for m in _IBAN.finditer(text):
        # Shaped like an account number, valid or not: none of its digits is a phone number.
        first, raw = page.raw(m.start(), m.end())
        found.taken.update(range(first, first + len(raw)))
        compact = m.group().replace(" ", "")
        # The pattern may take in what follows the IBAN: try the longest valid prefix.
        for size in range(len(compact), 14, -1):
            if stdnum_iban.is_valid(compact[:size]):
                seen, end = 0, m.start()
                while seen < size:
                    if text[end] != " ":
                        seen += 1
                    end += 1
                found.add_text(IBAN, compact[:size], m.start(), end)
                break
    for m in _STRUCTURED.finditer(text):
        digits = m.group(2) + m.group(3) + m.group(4)
        if ogm_vcs.is_valid(digits):
            found.add_text(BE_REFERENCE, digits, m.start(), m.end())
    for m in _BTC_LEGACY.finditer(text):
        body = _base58check(m.group())
        if body is not None and len(body) == 21 and body[0] in (0x00, 0x05):
            found.add_text(BTC, m.group(), m.start(), m.end())
    for m in _BTC_SEGWIT.finditer(text):
        if _bech32_valid(m.group()):
            found.add_text(BTC, m.group().lower(), m.start(), m.end())
    for m in _ETH.finditer(text):
        if _eth_valid(m.group()):
            found.add_text(ETH, m.group().lower(), m.start(), m.end())
    for m in _TRX.finditer(text):
        body = _base58check(m.group())
        if body is not None and len(body) == 21 and body[0] == 0x41:
            found.add_text(TRX, m.group(), m.start(), m.end())


# -- a document ------------------------------------------------------------------------------

_LANG = re.compile(r"<html\b[^>]*\blang=[\"']?([A-Za-z]{2})", re.I)
# The country a page's language most likely means, for numbers written without a country code.
_LANG_REGIONS = {"nl": ("NL", "BE"), "fr": ("FR", "BE"), "de": ("DE",), "en": ("GB",)}


def regions_for(doc: str, url: str | None, regions: Sequence[str]) -> tuple[str, ...]:
    """The default regions, those the page hints at (its country domain, its language) first."""
    hinted: list[str] = []
    host = urlsplit(url).hostname or "" if url else ""
    tld = host.rsplit(".", 1)[-1].upper() if "." in host else ""
    if tld == "UK":
        tld = "GB"
    if tld in phonenumbers.SUPPORTED_REGIONS:
        hinted.append(tld)
    lang = _LANG.search(doc[:4096])
    if lang:
        hinted.extend(_LANG_REGIONS.get(lang.group(1).lower(), ()))
    ordered = [r for r in hinted if r in regions] + list(regions)
    return tuple(dict.fromkeys(ordered))


def _encoding(payload: bytes, content_type: str | None) -> str:
    for source in (content_type or "", payload[:2048].decode("ascii", "replace")):
        m = re.search(r"charset=[\"']?([\w.:-]+)", source, re.I)
        if m:
            try:
                return "utf-8" if m.group(1).lower() in ("utf8", "utf-8") else _codec(m.group(1))
            except LookupError:
                continue
    return "utf-8"


def _codec(name: str) -> str:
    import codecs

    return codecs.lookup(name).name


def find_in_html(
    payload: bytes,
    content_type: str | None = None,
    url: str | None = None,
    regions: Sequence[str] = DEFAULT_REGIONS,
) -> list[Finding]:
    """Every identifier in an HTML payload (an original response or a rendered DOM)."""
    encoding = _encoding(payload, content_type)
    doc = payload.decode(encoding, "surrogateescape")
    page = Text.of_html(doc)
    found = _Collector(page, encoding)
    ordered = tuple(regions_for(doc, url, regions))
    _links(page, found, ordered)
    _money(page, found)
    _handles_and_emails(page, found)
    _phones(page, found, ordered)
    return sorted(found.found.values(), key=lambda f: (f.offset, f.kind))


def distinct(findings: Iterable[Finding]) -> Iterator[tuple[str, str]]:
    """Each (kind, value) once, in the order first found."""
    yield from dict.fromkeys((f.kind, f.value) for f in findings)


def query_values(value: str, regions: Sequence[str] = DEFAULT_REGIONS) -> list[tuple[str, str]]:
    """What a value an investigator typed may be stored as: (kind, normalised value) pairs.

    A phone number in any written form becomes E.164; a link or handle its handle; an IBAN its
    compact form; an address or anything else its lowercase form (and itself, as typed).
    """
    typed = value.strip()
    if not typed:
        return []
    pairs: list[tuple[str, str]] = []
    digits = phonenumbers.normalize_digits_only(typed)
    if 6 <= len(digits) <= 17 and not re.search(r"[A-Za-z]{2}", typed.replace("tel:", "")):
        phone = _parse(digits, typed.lstrip("tel:").lstrip().startswith("+"), regions)
        if phone is None and typed.startswith("00"):
            phone = _parse(digits[2:], True, regions)
        if phone is None and not digits.startswith("0"):
            phone = _parse(digits, True, regions)
        if phone is not None:
            pairs.append((PHONE, phone))
    residue = re.sub(r"(?i)plus|[\s.\-/,_()*+]", "", _TOKENS.sub("", typed))
    spelled = None if residue or pairs else _spelled(typed, 0, regions)
    if spelled is not None:
        pairs.append((PHONE, spelled[3]))
    as_html = html.escape(typed, quote=True)
    for f in find_in_html(f"<html><p>{as_html} </p></html>".encode(), regions=regions):
        pairs.append((f.kind, f.value))
    compact = typed.replace(" ", "").upper()
    if stdnum_iban.is_valid(compact):
        pairs.append((IBAN, compact))
    handle = typed.lstrip("@").lower()
    pairs.extend([("", handle), ("", typed)])
    return list(dict.fromkeys(pairs))
