"""PAdES signatures of the report: made with a PKCS#12 seal and with a key generated on a
SoftHSM2 token, timestamped by the local TSA, and checked the way a court clerk would (poppler's
`pdfsig` with an NSS database trusting the test root) and with pyHanko's validation."""

from __future__ import annotations

import subprocess
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from archive.bundle import report
from archive.bundle.pdfsign import FIELD, SignerConfig, check_pdf_signature, sign_pdf
from archive.bundle.verify import load_certificates
from archive.exceptions import InvalidRequest
from tests.pades_fixtures import KEY, P12_PASSWORD, PIN, SOFTHSM, TOKEN, SealCa, Token
from tests.tsa_fixtures import LocalTsa, tsa_server  # noqa: F401  (the `tsa` fixture)

CASE = "BXL-2026-0412"


def certificates(path: Path) -> list[asn1_x509.Certificate]:
    data = path.read_bytes()
    return [asn1_x509.Certificate.load(der) for _, _, der in pem.unarmor(data, multiple=True)]


def tsa_roots(tsa: LocalTsa) -> list[Any]:
    return load_certificates(tsa.ca_pem)


@pytest.fixture(scope="module")
def unsigned(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    html = "<!doctype html><html lang='nl'><body><h1>Bewijsverslag: zaak BXL-2026-0412</h1></body></html>"
    return report.render_pdf(html, tmp_path_factory.mktemp("unsigned"))


def p12_config(test_ca: SealCa) -> SignerConfig:
    config = SignerConfig.from_env(
        {"LASTSEEN_PDF_SIGNER": str(test_ca.p12), "LASTSEEN_PDF_SIGNER_PASSWORD": P12_PASSWORD}
    )
    assert config is not None
    return config


def pdfsig(path: Path, test_ca: SealCa) -> str:
    proc = subprocess.run(["pdfsig", "-nssdir", f"sql:{test_ca.nss}", str(path)],
                          capture_output=True, text=True)  # fmt: skip
    return proc.stdout + proc.stderr


def pyhanko_status(data: bytes, test_ca: SealCa, tsa: LocalTsa):  # type: ignore[no-untyped-def]
    (signature,) = PdfFileReader(BytesIO(data)).embedded_signatures
    context = ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(test_ca.root.public_bytes(_der())),
                     *certificates(tsa.ca_pem)],
        allow_fetching=False,
    )  # fmt: skip
    return signature, validate_pdf_signature(signature, context)


def _der():  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER


@pytest.fixture(scope="module")
def signed_with_p12(unsigned, test_ca, tsa, tmp_path_factory) -> Path:
    signed = sign_pdf(unsigned, p12_config(test_ca), case=CASE, tsa_urls=[tsa.url("/tsa")],
                      tsa_roots=tsa_roots(tsa),
                      translations=report.translations("nl"))  # fmt: skip
    assert signed.level == "B-LT" and signed.tsa == tsa.url("/tsa")
    assert "Federal Police BXL evidence seal" in signed.signer
    path = tmp_path_factory.mktemp("signed") / "report.pdf"
    path.write_bytes(signed.pdf)
    return path


def test_a_pkcs12_seal_signs_pades_b_lt_that_pdfsig_trusts(signed_with_p12, test_ca):
    out = pdfsig(signed_with_p12, test_ca)
    assert "Signature Validation: Signature is Valid." in out, out
    assert "Certificate Validation: Certificate is Trusted." in out, out
    assert "Federal Police BXL evidence seal" in out
    assert "ETSI.CAdES.detached" in out and "Total document signed" in out


def test_pyhanko_validates_the_signature_its_timestamp_and_the_whole_document(
    signed_with_p12, test_ca, tsa
):
    data = signed_with_p12.read_bytes()
    signature, status = pyhanko_status(data, test_ca, tsa)
    assert status.bottom_line, status.pretty_print_details()
    assert status.intact and status.valid and status.trusted
    assert status.coverage.name == "ENTIRE_FILE"
    assert status.timestamp_validity is not None and status.timestamp_validity.valid
    assert status.timestamp_validity.trusted
    # B-LT: the validation data are in the document security store.
    assert "/DSS" in data.decode("latin-1")
    # Visible on the first page, saying why in the report's language.
    assert signature.sig_object["/Reason"] == f"bewijsexport van zaak {CASE}"
    widget = signature.sig_field
    rect = [float(v) for v in widget["/Rect"]]
    assert rect[2] - rect[0] > 100 and rect[3] - rect[1] > 20
    reader = PdfFileReader(BytesIO(data))
    assert widget.get("/P") is None or widget["/P"] == reader.root["/Pages"]["/Kids"][0]


def test_one_flipped_byte_makes_pdfsig_and_pyhanko_fail(signed_with_p12, test_ca, tsa, tmp_path):
    data = bytearray(signed_with_p12.read_bytes())
    middle = data.index(b"stream", len(data) // 10) + 20  # inside the first page's content
    data[middle] ^= 0x01
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(data)
    out = pdfsig(broken, test_ca)
    assert "Signature is Valid." not in out, out
    _, status = pyhanko_status(bytes(data), test_ca, tsa)
    assert not status.intact and not status.bottom_line


def test_a_key_generated_on_a_softhsm_token_signs(
    unsigned, softhsm_token: Token, test_ca, tsa, tmp_path
):
    config = SignerConfig.from_env({
        "LASTSEEN_PDF_PKCS11": SOFTHSM, "LASTSEEN_PDF_PKCS11_TOKEN": TOKEN,
        "LASTSEEN_PDF_PKCS11_KEY": KEY, "LASTSEEN_PDF_PKCS11_PIN": PIN,
    })  # fmt: skip
    assert config is not None
    config.check([tsa.url("/tsa")])
    signed = sign_pdf(unsigned, config, case=CASE, tsa_urls=[tsa.url("/broken"), tsa.url("/tsa")],
                      tsa_roots=tsa_roots(tsa))  # fmt: skip
    assert signed.level == "B-LT" and signed.tsa == tsa.url("/tsa")
    assert softhsm_token.subject in signed.signer
    path = tmp_path / "token.pdf"
    path.write_bytes(signed.pdf)
    out = pdfsig(path, test_ca)
    assert "Signature is Valid." in out and "Certificate is Trusted." in out, out
    _, status = pyhanko_status(signed.pdf, test_ca, tsa)
    assert status.bottom_line and status.timestamp_validity.valid
    assert status.signing_cert.subject.human_friendly == signed.signer


def test_without_the_tsa_root_the_signature_is_b_t(unsigned, test_ca, tsa):
    signed = sign_pdf(unsigned, p12_config(test_ca), case=CASE, tsa_urls=[tsa.url("/tsa")])
    assert signed.level == "B-T" and b"/DSS" not in signed.pdf


@pytest.mark.parametrize(
    "env, message",
    [
        ({"LASTSEEN_PDF_SIGNER": "{p12}", "LASTSEEN_PDF_SIGNER_PASSWORD": "wrong"},
         "the password (LASTSEEN_PDF_SIGNER_PASSWORD or LASTSEEN_PDF_SIGNER_PASSWORD_FILE) does not open it"),
        ({"LASTSEEN_PDF_SIGNER": "/nonexistent.p12"}, "cannot read /nonexistent.p12"),
        ({"LASTSEEN_PDF_SIGNER": "{p12}", "LASTSEEN_PDF_PKCS11": SOFTHSM}, "not both"),
        ({"LASTSEEN_PDF_PKCS11": "/nonexistent.so", "LASTSEEN_PDF_PKCS11_KEY": "k"}, "no PKCS#11 module"),
        ({"LASTSEEN_PDF_PKCS11": SOFTHSM}, "needs LASTSEEN_PDF_PKCS11_KEY"),
    ],
)  # fmt: skip
def test_a_signer_that_cannot_sign_is_refused_with_one_line(env, message, test_ca):
    env = {k: v.format(p12=test_ca.p12) for k, v in env.items()}
    with pytest.raises(InvalidRequest, match=message.replace("(", r"\(").replace(")", r"\)")):
        config = SignerConfig.from_env(env)
        assert config is not None
        config.check(["http://127.0.0.1:9/tsa"])


def test_without_a_timestamp_authority_there_is_no_pades_signature(unsigned, test_ca):
    with pytest.raises(InvalidRequest, match="needs a timestamp authority"):
        sign_pdf(unsigned, p12_config(test_ca), case=CASE, tsa_urls=[])


def test_the_field_is_named_for_lastseen(signed_with_p12):
    (signature,) = PdfFileReader(BytesIO(signed_with_p12.read_bytes())).embedded_signatures
    assert signature.field_name == FIELD


def test_check_pdf_signature_names_the_signer_and_the_timestamp(signed_with_p12, tsa, unsigned):
    check = check_pdf_signature(signed_with_p12.read_bytes(), tsa_roots(tsa))
    assert check is not None and check.ok, check
    assert "Federal Police BXL evidence seal" in check.signer
    assert "lastseen test seal CA" in check.issuer and "lastseen test TSA" in (check.tsa or "")
    assert check.timestamp and check.timestamp.endswith("Z") and check.level == "B-LT"
    assert check_pdf_signature(unsigned) is None


def test_check_pdf_signature_fails_a_changed_or_extended_pdf(signed_with_p12):
    data = bytearray(signed_with_p12.read_bytes())
    data[data.index(b"stream", len(data) // 10) + 20] ^= 0x01
    check = check_pdf_signature(bytes(data))
    assert check is not None and "changed after signing" in check.problems[0]
    extended = signed_with_p12.read_bytes() + b"\n% a line added after signing\n"
    check = check_pdf_signature(extended)
    assert check is not None and "does not cover the whole file" in check.problems[0]
