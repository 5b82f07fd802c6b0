"""The report PDF signed the way European courts check signatures: PAdES, with pyHanko.

The signer is a PKCS#12 file (a unit's seal) or a PKCS#11 token (an eID card, an HSM). The
signature is visible on the first page (who, when, why), covers the whole document and carries
an RFC 3161 timestamp of itself: PAdES baseline B-T. When the signer's chain up to a root and the
timestamp authority's root are at hand, the validation data go into the PDF as well (B-LT), so
that the signature can be checked years later without asking anyone's servers.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive.exceptions import InvalidRequest

if TYPE_CHECKING:  # pyHanko and Babel load only when a PDF is signed or checked
    from babel.support import NullTranslations
    from cryptography import x509

P12_ENV = "LASTSEEN_PDF_SIGNER"
PASSWORD_ENV = "LASTSEEN_PDF_SIGNER_PASSWORD"
PASSWORD_FILE_ENV = "LASTSEEN_PDF_SIGNER_PASSWORD_FILE"
PKCS11_ENV = "LASTSEEN_PDF_PKCS11"
TOKEN_ENV = "LASTSEEN_PDF_PKCS11_TOKEN"
SLOT_ENV = "LASTSEEN_PDF_PKCS11_SLOT"
KEY_ENV = "LASTSEEN_PDF_PKCS11_KEY"
PIN_ENV = "LASTSEEN_PDF_PKCS11_PIN"
PIN_FILE_ENV = "LASTSEEN_PDF_PKCS11_PIN_FILE"
TSA_CA_ENV = "LASTSEEN_TSA_CA"  # the TSA's root: with it, the signature can be B-LT

NO_TSA = "a PAdES signature needs a timestamp authority: set LASTSEEN_TSA_URLS (or --tsa)"
FIELD = "lastseen-seal"
# Where the signature shows: the top margin of the first page (A4, in points), right side, so
# that it never covers the report's text.
BOX = (280, 794, 566, 838)


@dataclass(frozen=True)
class SignerConfig:
    """Who signs the report PDF; read from the environment (``from_env``)."""

    pkcs12: Path | None = None
    password: bytes | None = None
    pkcs11_module: str | None = None
    token: str | None = None
    slot: int | None = None
    key: str | None = None
    pin: str | None = None
    tsa_ca: Path | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SignerConfig | None:
        """The configured signer, or None when neither a PKCS#12 file nor a token is set."""
        env = os.environ if environ is None else environ
        p12, module = env.get(P12_ENV), env.get(PKCS11_ENV)
        if p12 and module:
            raise InvalidRequest(f"set {P12_ENV} or {PKCS11_ENV}, not both")
        tsa_ca = Path(env[TSA_CA_ENV]) if env.get(TSA_CA_ENV) else None
        if p12:
            password = _secret(env, PASSWORD_ENV, PASSWORD_FILE_ENV)
            return cls(
                pkcs12=Path(p12), password=password.encode() if password else None, tsa_ca=tsa_ca
            )
        if module:
            slot = env.get(SLOT_ENV)
            if slot is not None and not slot.isdigit():
                raise InvalidRequest(f"{SLOT_ENV}={slot!r} is not a slot number")
            return cls(
                pkcs11_module=module,
                token=env.get(TOKEN_ENV) or None,
                slot=int(slot) if slot else None,
                key=env.get(KEY_ENV) or None,
                pin=_secret(env, PIN_ENV, PIN_FILE_ENV),
                tsa_ca=tsa_ca,
            )
        return None

    def check(self, tsa_urls: Sequence[str]) -> None:
        """Refuse, before anything is exported, a signer that cannot sign."""
        if not tsa_urls:
            raise InvalidRequest(NO_TSA)
        self.tsa_roots()
        if self.pkcs12 is not None:
            _load_pkcs12(self)
        elif self.pkcs11_module is not None:
            if not Path(self.pkcs11_module).is_file():
                raise InvalidRequest(f"{PKCS11_ENV}: no PKCS#11 module at {self.pkcs11_module}")
            if self.key is None:
                raise InvalidRequest(f"{PKCS11_ENV} needs {KEY_ENV}: the label of the key")

    def tsa_roots(self) -> list[x509.Certificate]:
        if self.tsa_ca is None:
            return []
        from cryptography import x509 as cx509

        try:
            return cx509.load_pem_x509_certificates(self.tsa_ca.read_bytes())
        except (OSError, ValueError) as exc:
            raise InvalidRequest(
                f"{TSA_CA_ENV}: no PEM certificate in {self.tsa_ca} ({exc})"
            ) from None


@dataclass(frozen=True)
class SignedPdf:
    pdf: bytes
    signer: str  # the signing certificate's subject, as people read it
    level: str  # "B-T" or "B-LT"
    tsa: str  # the timestamp authority that dated the signature


def sign_pdf(
    pdf: bytes,
    config: SignerConfig,
    *,
    case: str,
    tsa_urls: Sequence[str],
    tsa_roots: Sequence[x509.Certificate] = (),
    translations: NullTranslations | None = None,
) -> SignedPdf:
    """Sign ``pdf`` as PAdES B-T (B-LT when the chains are at hand), timestamped by the first of
    ``tsa_urls`` that answers."""
    from babel.support import NullTranslations
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.signers.pdf_signer import DSSContentSettings, SigDSSPlacementPreference
    from pyhanko.stamp import TextStampStyle
    from pyhanko_certvalidator import ValidationContext

    if not tsa_urls:
        raise InvalidRequest(NO_TSA)
    _ = (translations or NullTranslations()).gettext
    reason = _("evidence export of case %(case)s") % {"case": case}
    stamp = TextStampStyle(
        stamp_text="\n".join(
            [_("Signed by: %(signer)s"), _("Time: %(ts)s"), _("Reason: %(reason)s")]
        ),
        timestamp_format="%Y-%m-%d %H:%M:%S UTC",
    )
    with _signer(config) as signer:
        chain = list(signer.cert_registry)
        roots = [c for c in chain if c.self_issued]
        context = None
        if roots and tsa_roots:
            context = ValidationContext(
                trust_roots=[*roots, *_asn1(tsa_roots)],
                other_certs=chain,
                allow_fetching=True,  # revocation data, where the certificates name a source
                revocation_mode="soft-fail",
            )
        meta = signers.PdfSignatureMetadata(
            field_name=FIELD,
            reason=reason,
            # The stamp's "signed by": the certificate's common name, as people call the signer.
            name=signer.signing_cert.subject.native.get(
                "common_name", signer.signing_cert.subject.human_friendly
            ),
            subfilter=fields.SigSeedSubFilter.PADES,
            embed_validation_info=context is not None,
            validation_context=context,
            # The validation data in the signed revision itself: the signature then covers the
            # whole file, which is what pdfsig and a clerk's reader check first.
            dss_settings=DSSContentSettings(
                placement=SigDSSPlacementPreference.TOGETHER_WITH_SIGNATURE,
                include_vri=False,
            ),
        )
        tsa, timestamper = _timestamper(tsa_urls)
        out = signers.PdfSigner(
            meta,
            signer=signer,
            timestamper=timestamper,
            stamp_style=stamp,
            new_field_spec=fields.SigFieldSpec(FIELD, box=BOX, on_page=0),
        ).sign_pdf(
            IncrementalPdfFileWriter(BytesIO(pdf)), appearance_text_params={"reason": reason}
        )
        return SignedPdf(
            pdf=out.getvalue(),
            signer=signer.signing_cert.subject.human_friendly,
            level="B-LT" if context is not None else "B-T",
            tsa=tsa,
        )


def _asn1(certificates: Sequence[x509.Certificate]) -> list[Any]:
    """pyHanko's certificates (asn1crypto) from those lastseen reads (cryptography)."""
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives.serialization import Encoding

    return [asn1_x509.Certificate.load(c.public_bytes(Encoding.DER)) for c in certificates]


def _secret(env: Mapping[str, str], name: str, file_name: str) -> str | None:
    if env.get(name):
        return env[name]
    path = env.get(file_name)
    if not path:
        return None
    try:
        return Path(path).read_text().rstrip("\n")
    except OSError as exc:
        raise InvalidRequest(f"{file_name}: cannot read {path}: {exc.strerror}") from None


def _load_pkcs12(config: SignerConfig) -> Any:
    from cryptography.hazmat.primitives.serialization import pkcs12
    from pyhanko.sign import signers

    assert config.pkcs12 is not None
    try:
        data = config.pkcs12.read_bytes()
    except OSError as exc:
        raise InvalidRequest(f"{P12_ENV}: cannot read {config.pkcs12}: {exc.strerror}") from None
    try:
        key, cert, _ = pkcs12.load_key_and_certificates(data, config.password)
    except ValueError:
        raise InvalidRequest(
            f"{P12_ENV}: {config.pkcs12} is not a PKCS#12 file, or the password "
            f"({PASSWORD_ENV} or {PASSWORD_FILE_ENV}) does not open it"
        ) from None
    if key is None or cert is None:
        raise InvalidRequest(f"{P12_ENV}: {config.pkcs12} holds no key with its certificate")
    return signers.SimpleSigner.load_pkcs12(  # type: ignore[no-untyped-call]
        str(config.pkcs12), passphrase=config.password
    )


class _signer:
    """The signer for the duration of one signature: a PKCS#11 session is closed after it."""

    def __init__(self, config: SignerConfig) -> None:
        self.config = config
        self.session: Any = None

    def __enter__(self) -> Any:
        if self.config.pkcs12 is not None:
            return _load_pkcs12(self.config)
        from pkcs11 import PROTECTED_AUTH
        from pyhanko.config.pkcs11 import TokenCriteria
        from pyhanko.sign import pkcs11

        assert self.config.pkcs11_module is not None
        try:
            self.session = pkcs11.open_pkcs11_session(
                self.config.pkcs11_module,
                slot_no=self.config.slot,
                token_criteria=TokenCriteria(label=self.config.token),
                # No PIN given: the token asks for it on its own reader (an eID card's PIN pad).
                user_pin=self.config.pin if self.config.pin else PROTECTED_AUTH,
            )
        except Exception as exc:  # python-pkcs11 raises its own tree, and module load errors
            raise InvalidRequest(f"{PKCS11_ENV}: cannot open the token: {exc}") from None
        # None: every certificate on the token, so the chain too (an eID card holds it).
        return pkcs11.PKCS11Signer(
            self.session, key_label=self.config.key, other_certs_to_pull=None, bulk_fetch=True
        )

    def __exit__(self, *exc: object) -> None:
        if self.session is not None:
            self.session.close()


def _timestamper(urls: Sequence[str]) -> tuple[str, Any]:
    """The first TSA that answers; each one's failure is named if none does."""
    from pyhanko.sign.timestamps import HTTPTimeStamper

    failures = []
    for url in urls:
        timestamper = HTTPTimeStamper(url)
        try:
            asyncio.run(timestamper.async_dummy_response("sha256"))
        except Exception as exc:  # aiohttp's and pyHanko's errors alike: try the next one
            failures.append(f"{url}: {exc}")
            continue
        return url, timestamper
    raise InvalidRequest("no timestamp for the PDF signature: " + "; ".join(failures))


@dataclass(frozen=True)
class PdfSignatureCheck:
    """What ``lastseen verify`` says about a signed report PDF."""

    problems: list[str]  # empty when the signature holds
    signer: str
    issuer: str
    timestamp: str | None  # RFC 3339, UTC: when the TSA dated the signature
    tsa: str | None
    level: str

    @property
    def ok(self) -> bool:
        return not self.problems


def check_pdf_signature(
    pdf: bytes, roots: Sequence[x509.Certificate] = ()
) -> PdfSignatureCheck | None:
    """Check the PAdES signature of ``pdf``; None when it has none.

    The signature must be intact and cover the whole file, and its timestamp must be intact and
    signed by the TSA (by one of ``roots``, when they are given). Whether the signer's own
    certificate is trusted is for the court's PDF tools, which know the EU trusted lists.
    """
    if b"/ByteRange" not in pdf:  # no signature dictionary: nothing to check, no pyHanko to load
        return None
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from archive.times import rfc3339

    signatures = PdfFileReader(BytesIO(pdf), strict=False).embedded_signatures
    if not signatures:
        return None
    signature = signatures[-1]
    context = ValidationContext(trust_roots=_asn1(roots), allow_fetching=False)
    status = validate_pdf_signature(signature, context)
    problems = []
    if not status.intact or not status.valid:
        problems.append("the signature does not match the document: it was changed after signing")
    elif status.coverage is None or status.coverage.name != "ENTIRE_FILE":
        problems.append("the signature does not cover the whole file: something was added")
    stamp = status.timestamp_validity
    if stamp is None:
        problems.append("the signature has no timestamp")
    elif not (stamp.intact and stamp.valid):
        problems.append("the signature's timestamp does not hold")
    elif roots and not stamp.trusted:
        problems.append("the signature's timestamp is not from the given TSA CA")
    cert = status.signing_cert
    return PdfSignatureCheck(
        problems=problems,
        signer=cert.subject.human_friendly,
        issuer=cert.issuer.human_friendly,
        timestamp=rfc3339(stamp.timestamp) if stamp is not None else None,
        tsa=stamp.signing_cert.subject.human_friendly if stamp is not None else None,
        level="B-LT" if b"/DSS" in pdf else "B-T",
    )
