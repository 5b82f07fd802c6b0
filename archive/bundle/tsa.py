"""Trusted time (RFC 3161): ask timestamp authorities to sign the hash of SHA256SUMS, then check.

The raw response a TSA sends is kept byte for byte whatever happens, because that is what
``openssl ts -verify`` and any other tool will be given. Reading it is defensive: TSAs differ
(``openssl ts`` with a ``certs =`` chain writes a certificate SET out of DER order, which
rfc3161-client refuses to parse), so the fields we rely on are read here with a small DER reader,
and the token's signature is checked against its own certificate without a trust anchor (is it
intact?) as well as, with rfc3161-client, against the TSA's CA when one is given (is it theirs?).
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from archive.exceptions import TimestampError

MAX_RESPONSE = 1 << 20
GRANTED = 0

_HASHES: dict[str, tuple[str, type[hashes.HashAlgorithm]]] = {
    "1.3.14.3.2.26": ("sha1", hashes.SHA1),
    "2.16.840.1.101.3.4.2.1": ("sha256", hashes.SHA256),
    "2.16.840.1.101.3.4.2.2": ("sha384", hashes.SHA384),
    "2.16.840.1.101.3.4.2.3": ("sha512", hashes.SHA512),
}
_SIG_HASH = {  # signature algorithms that name their own hash
    "1.2.840.10045.4.3.2": "2.16.840.1.101.3.4.2.1",
    "1.2.840.10045.4.3.3": "2.16.840.1.101.3.4.2.2",
    "1.2.840.10045.4.3.4": "2.16.840.1.101.3.4.2.3",
    "1.2.840.113549.1.1.11": "2.16.840.1.101.3.4.2.1",
    "1.2.840.113549.1.1.12": "2.16.840.1.101.3.4.2.2",
    "1.2.840.113549.1.1.13": "2.16.840.1.101.3.4.2.3",
}
_RSA_PKCS1 = {"1.2.840.113549.1.1.1", *(f"1.2.840.113549.1.1.{n}" for n in (11, 12, 13))}
_ECDSA = {"1.2.840.10045.2.1", *(f"1.2.840.10045.4.3.{n}" for n in (2, 3, 4))}
_ED25519 = "1.3.101.112"
_SIGNATURES = _RSA_PKCS1 | _ECDSA | {_ED25519}  # take no parameters but an optional NULL
_SIGNED_DATA = "1.2.840.113549.1.7.2"
_TST_INFO = "1.2.840.113549.1.9.16.1.4"
_ATTR_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_ATTR_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_ATTR_SIGNING_CERT = "1.2.840.113549.1.9.16.2.12"  # ESSCertID, SHA-1
_ATTR_SIGNING_CERT_V2 = "1.2.840.113549.1.9.16.2.47"  # ESSCertIDv2, SHA-256 unless stated


# -- DER, just enough to walk a TimeStampResp ----------------------------------------------------


@dataclass(frozen=True)
class _Node:
    tag: int
    start: int  # first byte of the tag
    body: int  # first byte of the content
    end: int  # one past the last byte


def _node(buf: bytes, pos: int, limit: int | None = None) -> _Node:
    limit = len(buf) if limit is None else limit
    if pos + 2 > limit:
        raise ValueError("truncated DER")
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise ValueError("unexpected high-number DER tag")
    length = buf[pos + 1]
    body = pos + 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4:
            raise ValueError("indefinite or oversized DER length")
        length = int.from_bytes(buf[body : body + count], "big")
        body += count
    end = body + length
    if end > limit:
        raise ValueError("truncated DER")
    return _Node(tag, pos, body, end)


def _kids(buf: bytes, node: _Node) -> list[_Node]:
    out = []
    pos = node.body
    while pos < node.end:
        kid = _node(buf, pos, node.end)
        out.append(kid)
        pos = kid.end
    return out


def _expect(node: _Node, tag: int, what: str) -> _Node:
    if node.tag != tag:
        raise ValueError(f"{what}: unexpected DER tag 0x{node.tag:02x}")
    return node


def _oid(buf: bytes, node: _Node) -> str:
    data = buf[_expect(node, 0x06, "object identifier").body : node.end]
    first, values, value = None, [], 0
    for byte in data:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            if first is None:
                first = min(value // 40, 2)
                values += [first, value - 40 * first]
            else:
                values.append(value)
            value = 0
    return ".".join(str(v) for v in values)


def _int(buf: bytes, node: _Node) -> int:
    _expect(node, 0x02, "integer")
    return int.from_bytes(buf[node.body : node.end], "big", signed=True)


def _alg(buf: bytes, node: _Node, params_allowed: bool = False) -> str:
    """An AlgorithmIdentifier's OID; hash algorithms take no parameters but an optional NULL."""
    kids = _kids(buf, _expect(node, 0x30, "AlgorithmIdentifier"))
    oid = _oid(buf, kids[0])
    extra = kids[1:]
    if (
        not params_allowed
        and extra
        and (len(extra) > 1 or buf[extra[0].start : extra[0].end] != b"\x05\x00")
    ):
        raise ValueError(f"unexpected parameters for algorithm {oid}")
    return oid


def _generalized_time(text: str) -> datetime:
    """``YYYYMMDDHHMMSS[.fff...]Z``; fractions beyond microseconds are dropped."""
    if not text.endswith("Z"):
        raise ValueError(f"genTime {text!r} is not UTC")
    whole, _, frac = text[:-1].partition(".")
    when = datetime.strptime(whole, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    return when + timedelta(microseconds=int((frac + "000000")[:6])) if frac else when


# -- the token ----------------------------------------------------------------------------------


@dataclass
class Token:
    """What a TSA's response says, read defensively; ``problems`` lists what could not be read."""

    raw: bytes
    status: int | None = None
    gen_time: datetime | None = None
    accuracy: timedelta = timedelta(0)
    hash_oid: str | None = None
    imprint: bytes | None = None
    nonce: int | None = None
    serial: int | None = None
    certificates: list[x509.Certificate] = field(default_factory=list)
    signer: x509.Certificate | None = None
    problems: list[str] = field(default_factory=list)
    # Set while reading; the integrity check uses them.
    _tst_info: bytes = b""
    _signer_info: dict[str, Any] = field(default_factory=dict)

    @property
    def granted(self) -> bool:
        # We never ask for anything a TSA could modify, so "granted with mods" is not expected.
        return self.status == GRANTED

    @property
    def tsa(self) -> str:
        return self.signer.subject.rfc4514_string() if self.signer else "an unknown TSA"

    def covers(self, data: bytes) -> bool:
        if self.hash_oid not in _HASHES or self.imprint is None:
            return False
        return hashlib.new(_HASHES[self.hash_oid][0], data).digest() == self.imprint


def read_token(raw: bytes) -> Token:
    token = Token(raw)
    try:
        _read(raw, token)
    except Exception as exc:  # untrusted bytes: any parse failure is a finding, not a crash
        token.problems.append(f"cannot read the response: {exc or type(exc).__name__}")
    return token


def _read(buf: bytes, token: Token) -> None:
    resp = _expect(_node(buf, 0), 0x30, "TimeStampResp")
    if resp.end != len(buf):
        raise ValueError("bytes after the end of the response")
    parts = _kids(buf, resp)
    token.status = _int(buf, _kids(buf, _expect(parts[0], 0x30, "PKIStatusInfo"))[0])
    if len(parts) > 2:
        raise ValueError("unexpected fields after the token")
    if len(parts) < 2:
        if token.granted:
            raise ValueError("granted but no token")
        return
    content_info = _kids(buf, _expect(parts[1], 0x30, "ContentInfo"))
    if len(content_info) != 2 or _oid(buf, content_info[0]) != _SIGNED_DATA:
        raise ValueError("the token is not CMS SignedData")
    signed = _expect(_kids(buf, _expect(content_info[1], 0xA0, "content"))[0], 0x30, "SignedData")
    sd = _kids(buf, signed)
    if _int(buf, sd[0]) != 3:
        raise ValueError("SignedData version is not 3")
    digest_oids = {_alg(buf, alg) for alg in _kids(buf, _expect(sd[1], 0x31, "digestAlgorithms"))}
    encap = _kids(buf, _expect(sd[2], 0x30, "EncapsulatedContentInfo"))
    if len(encap) != 2 or _oid(buf, encap[0]) != _TST_INFO:
        raise ValueError("the signed content is not a TSTInfo")
    octets = _kids(buf, _expect(encap[1], 0xA0, "eContent"))[0]
    tst_info = buf[_expect(octets, 0x04, "eContent").body : octets.end]
    token._tst_info = tst_info
    _read_tst_info(tst_info, token)
    rest = sd[3:]
    if rest and rest[0].tag == 0xA0:
        token.certificates = [
            x509.load_der_x509_certificate(buf[c.start : c.end]) for c in _kids(buf, rest[0])
        ]
        for cert in token.certificates:  # parsed lazily: make a damaged one fail here
            cert.subject, cert.issuer, cert.extensions, cert.public_key()  # noqa: B018
        rest = rest[1:]
    if rest and rest[0].tag == 0xA1:
        rest = rest[1:]
    if len(rest) != 1:
        raise ValueError("unexpected fields in SignedData")
    signer_infos = _kids(buf, _expect(rest[0], 0x31, "signerInfos"))
    if len(signer_infos) != 1:
        raise ValueError(f"{len(signer_infos)} signers instead of one")
    _read_signer_info(buf, signer_infos[0], token, digest_oids)


def _read_tst_info(buf: bytes, token: Token) -> None:
    info = _kids(buf, _expect(_node(buf, 0), 0x30, "TSTInfo"))
    imprint = _kids(buf, _expect(info[2], 0x30, "MessageImprint"))
    if _int(buf, info[0]) != 1:
        raise ValueError("TSTInfo version is not 1")
    _oid(buf, info[1])  # policy
    token.hash_oid = _alg(buf, imprint[0])
    token.imprint = buf[_expect(imprint[1], 0x04, "hashedMessage").body : imprint[1].end]
    token.serial = _int(buf, _expect(info[3], 0x02, "serialNumber"))
    gen = _expect(info[4], 0x18, "genTime")
    token.gen_time = _generalized_time(buf[gen.body : gen.end].decode("ascii"))
    for node in info[5:]:
        if node.tag == 0x30:  # Accuracy ::= SEQUENCE { seconds, [0] millis, [1] micros }
            for part in _kids(buf, node):
                value = int.from_bytes(buf[part.body : part.end], "big")
                unit = {0x02: 1_000_000, 0x80: 1_000, 0x81: 1}.get(part.tag, 0)
                token.accuracy += timedelta(microseconds=value * unit)
        elif node.tag == 0x02:
            token.nonce = _int(buf, node)


def _read_signer_info(buf: bytes, node: _Node, token: Token, digest_oids: set[str]) -> None:
    kids = _kids(buf, _expect(node, 0x30, "SignerInfo"))
    version, sid, digest_alg, attrs = kids[:4]
    if (_int(buf, version), sid.tag) not in ((1, 0x30), (3, 0x80)):
        raise ValueError("SignerInfo version does not match its signer identifier")
    if len(kids) != 6:
        raise ValueError("unexpected fields in SignerInfo")
    digest_oid = _alg(buf, digest_alg)
    if digest_oid not in digest_oids:
        raise ValueError("the signer's digest algorithm is not among SignedData's")
    _expect(attrs, 0xA0, "signedAttrs")
    sig_alg = kids[4]
    signature = _expect(kids[5], 0x04, "signature")
    token.signer = _find_signer(buf, sid, token.certificates)
    values: dict[str, bytes] = {}
    for attr in _kids(buf, attrs):
        attr_kids = _kids(buf, _expect(attr, 0x30, "Attribute"))
        value = _kids(buf, _expect(attr_kids[1], 0x31, "attribute values"))[0]
        values[_oid(buf, attr_kids[0])] = buf[value.start : value.end]
    sig_oid = _oid(buf, _kids(buf, _expect(sig_alg, 0x30, "signatureAlgorithm"))[0])
    token._signer_info = {
        "digest_oid": digest_oid,
        "sig_oid": _alg(buf, sig_alg, params_allowed=sig_oid not in _SIGNATURES),
        "signature": buf[signature.body : signature.end],
        # What the signature covers: the attributes DER-encoded as a SET (RFC 5652 5.4).
        "signed": b"\x31" + buf[attrs.start + 1 : attrs.end],
        "attrs": values,
    }


def _find_signer(buf: bytes, sid: _Node, certs: list[x509.Certificate]) -> x509.Certificate | None:
    if sid.tag == 0x30:  # IssuerAndSerialNumber
        issuer, serial = _kids(buf, sid)
        issuer_der, number = buf[issuer.start : issuer.end], _int(buf, serial)
        for cert in certs:
            if cert.serial_number == number and cert.issuer.public_bytes() == issuer_der:
                return cert
    elif sid.tag == 0x80:  # [0] SubjectKeyIdentifier
        ski = buf[sid.body : sid.end]
        for cert in certs:
            try:
                ext = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
            except x509.ExtensionNotFound:
                continue
            if ext.value.digest == ski:
                return cert
    return None


def integrity_problems(token: Token) -> list[str]:
    """Is the token intact? Its CMS signature, checked with the certificate it carries.

    This proves nothing about who signed (that needs the TSA's CA), but any changed byte in the
    signed time, hash or certificate shows up here.
    """
    if token.problems:
        return list(token.problems)
    if token.signer is None:
        return ["the token does not carry the certificate that signed it"]
    info = token._signer_info
    attrs: dict[str, bytes] = info["attrs"]
    hash_name = _HASHES.get(info["digest_oid"], ("", hashes.SHA256))[0]
    if not hash_name:
        return [f"unsupported digest algorithm {info['digest_oid']}"]
    problems = []
    try:
        content_type = attrs.get(_ATTR_CONTENT_TYPE, b"\x06\x00")
        if _oid(content_type, _node(content_type, 0)) != _TST_INFO:
            problems.append("the signed content type is not a TSTInfo")
        digest = attrs.get(_ATTR_MESSAGE_DIGEST, b"\x04\x00")
        octets = _expect(_node(digest, 0), 0x04, "messageDigest")
        if digest[octets.body : octets.end] != hashlib.new(hash_name, token._tst_info).digest():
            problems.append("the signed digest does not match the token's content")
    except ValueError as exc:
        problems.append(f"cannot read the signed attributes: {exc}")
    try:
        problems += _signing_certificate_problems(attrs, token.signer)
    except (ValueError, IndexError) as exc:
        problems.append(f"cannot read the signing-certificate attribute: {exc}")
    problems += _chain_problems(token.certificates, token.signer)
    try:
        _verify_signature(token.signer, info)
    except InvalidSignature:
        problems.append("the TSA's signature does not match")
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        problems.append(f"cannot check the TSA's signature: {exc}")
    return problems


def _chain_problems(certs: list[x509.Certificate], signer: x509.Certificate) -> list[str]:
    """The certificates a token carries must be the signer's chain, each signed by the next (a
    self-signed root by itself): a changed byte in any of them shows."""
    from cryptography.hazmat.primitives.serialization import Encoding

    chain = [signer]
    while len(chain) <= len(certs):
        cert = chain[-1]
        issuer = next((c for c in certs if c.subject == cert.issuer), None)
        if issuer is None:
            break
        try:
            cert.verify_directly_issued_by(issuer)
        except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
            return [f"the certificate {cert.subject.rfc4514_string()} is damaged"]
        if issuer == cert:
            break
        chain.append(issuer)
    on_chain = {c.public_bytes(Encoding.DER) for c in chain}
    strays = [c for c in certs if c.public_bytes(Encoding.DER) not in on_chain]
    if strays:
        return [f"it carries a certificate outside its chain: {strays[0].subject.rfc4514_string()}"]
    return []


def _signing_certificate_problems(attrs: dict[str, bytes], cert: x509.Certificate) -> list[str]:
    from cryptography.hazmat.primitives.serialization import Encoding

    der = cert.public_bytes(Encoding.DER)
    for oid, default_hash in ((_ATTR_SIGNING_CERT_V2, "sha256"), (_ATTR_SIGNING_CERT, "sha1")):
        value = attrs.get(oid)
        if value is None:
            continue
        certs = _kids(value, _kids(value, _node(value, 0))[0])
        first = _kids(value, certs[0])
        hash_name = default_hash
        if first[0].tag == 0x30:  # ESSCertIDv2 names its hash when it is not SHA-256
            hash_name = _HASHES.get(_oid(value, _kids(value, first[0])[0]), ("?", hashes.SHA256))[0]
            first = first[1:]
        cert_hash = value[_expect(first[0], 0x04, "certHash").body : first[0].end]
        if hash_name not in hashlib.algorithms_available:
            return [f"unsupported certificate hash {hash_name}"]
        if hashlib.new(hash_name, der).digest() != cert_hash:
            return ["the signing certificate is not the one the TSA named"]
        return []
    return ["the token does not name its signing certificate (ESS signing-certificate)"]


def _verify_signature(cert: x509.Certificate, info: dict[str, Any]) -> None:
    key = cert.public_key()
    sig_oid, signature, signed = info["sig_oid"], info["signature"], info["signed"]
    hash_cls = _HASHES[_SIG_HASH.get(sig_oid, info["digest_oid"])][1]
    if sig_oid in _ECDSA and isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, signed, ec.ECDSA(hash_cls()))
    elif sig_oid in _RSA_PKCS1 and isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, signed, padding.PKCS1v15(), hash_cls())
    elif sig_oid == _ED25519 and isinstance(key, ed25519.Ed25519PublicKey):
        key.verify(signature, signed)
    else:
        raise ValueError(f"signature algorithm {sig_oid} is not supported here")


def der_ordered(raw: bytes) -> bytes:
    """The same response with its certificate SET in DER order (the signature does not cover
    it), for parsers that insist; the raw response is what the bundle keeps."""
    buf = bytearray(raw)
    resp = _node(raw, 0)
    content_info = _kids(raw, _kids(raw, resp)[1])
    signed = _kids(raw, content_info[1])[0]
    for part in _kids(raw, signed):
        if part.tag == 0xA0:
            certs = sorted(raw[c.start : c.end] for c in _kids(raw, part))
            buf[part.body : part.end] = b"".join(certs)
    return bytes(buf)


def trust_problems(token: Token, data: bytes, roots: list[x509.Certificate]) -> list[str]:
    """Is the token from a TSA the verifier trusts? rfc3161-client, against the given CA(s)."""
    from rfc3161_client import VerificationError, VerifierBuilder, decode_timestamp_response

    try:
        try:
            response = decode_timestamp_response(token.raw)
        except ValueError:
            response = decode_timestamp_response(der_ordered(token.raw))
    except ValueError as exc:
        return [f"rfc3161-client cannot read the token ({exc}); try openssl ts -verify"]
    try:
        VerifierBuilder(roots=list(roots)).build().verify_message(response, data)
    except (VerificationError, ValueError) as exc:
        return [f"not signed by a TSA the given CA vouches for: {exc}"]
    return []


@dataclass(frozen=True)
class Stamp:
    """One TSA's answer: the raw response as received, and what reading it found."""

    url: str
    raw: bytes
    token: Token


def request_token(url: str, data: bytes, timeout: float = 30) -> Stamp:
    """Ask one TSA to timestamp ``data`` (SHA-256).

    A response we can read must be granted, cover ``data``, carry our nonce and be intact, or
    the TSA has failed. A response we cannot read is kept all the same (``token.problems`` says
    why): another tool may read it, and it is what the TSA sent.
    """
    from rfc3161_client import HashAlgorithm, TimestampRequestBuilder

    request = (
        TimestampRequestBuilder()
        .data(data)
        .hash_algorithm(HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )
    http = urllib.request.Request(
        url,
        data=request.as_bytes(),
        headers={"Content-Type": "application/timestamp-query"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(http, timeout=timeout) as resp:
            raw = bytes(resp.read(MAX_RESPONSE + 1))
    except urllib.error.HTTPError as exc:
        raise TimestampError(f"{url} answered HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TimestampError(f"{url} could not be reached: {reason}") from exc
    if len(raw) > MAX_RESPONSE:
        raise TimestampError(f"{url} sent more than {MAX_RESPONSE} bytes")
    token = read_token(raw)
    if token.problems:
        return Stamp(url, raw, token)
    if not token.granted:
        raise TimestampError(f"{url} refused the request (PKIStatus {token.status})")
    problems = [] if token.covers(data) else ["it does not cover the data sent"]
    if token.nonce != request.nonce:
        problems.append("it does not carry our nonce")
    problems += integrity_problems(token)
    if problems:
        raise TimestampError(f"{url} sent a bad token: {'; '.join(problems)}")
    return Stamp(url, raw, token)
