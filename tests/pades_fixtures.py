"""Signers for PAdES tests, made at test time: a CA (root, intermediate, signer) with
`cryptography`, the signer as a PKCS#12 file, and a SoftHSM2 token whose key is generated on it.

An NSS database trusting the root lets poppler's `pdfsig` check the chain. A plugin of
conftest, so that each is made once a session (one token, however many modules use it).
"""

from __future__ import annotations

import datetime
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN, KEY, PIN = "lastseen-test", "seal", "1234"
P12_PASSWORD = "correct horse"


def _name(common: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "BE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "lastseen test police"),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def _certificate(
    subject: str,
    public_key: rsa.RSAPublicKey,
    issuer: tuple[x509.Certificate, rsa.RSAPrivateKey] | None,
    ca: bool,
    own_key: rsa.RSAPrivateKey | None = None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    issuer_name = issuer[0].subject if issuer else _name(subject)
    signing_key = issuer[1] if issuer else own_key
    assert signing_key is not None
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=not ca,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )  # fmt: skip
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer[1].public_key()),
            critical=False,
        )
    return builder.sign(signing_key, hashes.SHA256())


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class SealCa:
    folder: Path
    root: x509.Certificate
    intermediate: x509.Certificate
    intermediate_key: rsa.RSAPrivateKey
    p12: Path  # signer key, certificate and chain, protected by P12_PASSWORD
    root_pem: Path
    nss: Path  # an NSS database that trusts the root (pdfsig -nssdir)

    def issue(self, subject: str, public_key: rsa.RSAPublicKey) -> x509.Certificate:
        return _certificate(subject, public_key, (self.intermediate, self.intermediate_key), False)


@pytest.fixture(scope="session", name="test_ca")
def make_test_ca(tmp_path_factory: pytest.TempPathFactory) -> SealCa:
    folder = tmp_path_factory.mktemp("pades-ca")
    root_key, intermediate_key, signer_key = _key(), _key(), _key()
    root = _certificate("lastseen test root CA", root_key.public_key(), None, True, root_key)
    intermediate = _certificate(
        "lastseen test seal CA", intermediate_key.public_key(), (root, root_key), True
    )
    signer = _certificate(
        "Federal Police BXL evidence seal",
        signer_key.public_key(),
        (intermediate, intermediate_key),
        False,
    )
    p12 = folder / "seal.p12"
    p12.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"seal", signer_key, signer, [intermediate, root],
            serialization.BestAvailableEncryption(P12_PASSWORD.encode()),
        )
    )  # fmt: skip
    root_pem = folder / "root.pem"
    root_pem.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    nss = folder / "nss"
    nss.mkdir()
    subprocess.run(["certutil", "-N", "-d", f"sql:{nss}", "--empty-password"], check=True)
    subprocess.run(
        ["certutil", "-A", "-d", f"sql:{nss}", "-n", "lastseen test root", "-t", "C,C,C",
         "-i", str(root_pem)],
        check=True,
    )  # fmt: skip
    return SealCa(folder, root, intermediate, intermediate_key, p12, root_pem, nss)


@dataclass
class Token:
    env: dict[str, str]  # SOFTHSM2_CONF, for every process that loads the module
    subject: str


@pytest.fixture(scope="session", name="softhsm_token")
def make_softhsm_token(test_ca: SealCa) -> Iterator[Token]:
    """A SoftHSM2 token holding a key generated on it, its certificate and the chain."""
    import pkcs11
    from pkcs11 import Attribute, CertificateType, KeyType, ObjectClass

    folder = test_ca.folder / "softhsm"
    (folder / "tokens").mkdir(parents=True)
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\n")
    env = {"SOFTHSM2_CONF": str(conf)}
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", TOKEN, "--pin", PIN,
         "--so-pin", "5678"],
        check=True, capture_output=True, env={**os.environ, **env},
    )  # fmt: skip
    old = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)  # the module reads it when loaded in this process
    try:
        token = pkcs11.lib(SOFTHSM).get_token(token_label=TOKEN)
        subject = "Federal Police BXL token seal"
        with token.open(rw=True, user_pin=PIN) as session:
            public, _ = session.generate_keypair(
                KeyType.RSA, 2048, store=True, label=KEY, id=b"\x01"
            )
            numbers = rsa.RSAPublicNumbers(
                int.from_bytes(public[Attribute.PUBLIC_EXPONENT], "big"),
                int.from_bytes(public[Attribute.MODULUS], "big"),
            )
            cert = test_ca.issue(subject, numbers.public_key())
            for label, certificate, key_id in (
                (KEY, cert, b"\x01"),
                ("seal CA", test_ca.intermediate, b"\x02"),
                ("root CA", test_ca.root, b"\x03"),
            ):
                session.create_object(
                    {
                        Attribute.CLASS: ObjectClass.CERTIFICATE,
                        Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                        Attribute.TOKEN: True,
                        Attribute.LABEL: label,
                        Attribute.ID: key_id,
                        Attribute.SUBJECT: certificate.subject.public_bytes(),
                        Attribute.VALUE: certificate.public_bytes(serialization.Encoding.DER),
                    }
                )
        yield Token(env=env, subject=subject)
    finally:
        if old is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = old
