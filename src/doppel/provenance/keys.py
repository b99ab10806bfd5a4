"""Signing keys for C2PA manifests: a local, untrusted CA and signer made on first use, or the
user's own certificate chain and key.

C2PA rejects a self-signed signing certificate, so the local set is a two-level chain: a CA
(kept only to issue the signer, and given to `doppel verify --trust` by whoever chooses to trust
it) and an EC P-256 signer certificate. Both say "local, untrusted" in their names.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path

from doppel.errors import DoppelError
from doppel.files import atomic_path

CA_FILE = "local-ca.pem"
CHAIN_FILE = "signer-chain.pem"
KEY_FILE = "signer-key.pem"
_ORGANISATION = "doppel local signer (untrusted)"


@dataclass(frozen=True)
class SignerFiles:
    """PEM files: the signer's certificate chain (signer first) and its private key."""

    chain: Path
    key: Path
    ca: Path | None = None

    def read(self) -> tuple[bytes, bytes]:
        try:
            return self.chain.read_bytes(), self.key.read_bytes()
        except OSError as error:
            raise DoppelError(f"cannot read signing certificate or key ({error}): check "
                              "--sign-cert/--sign-key") from None


@dataclass(frozen=True)
class SigningConfig:
    """Who signs the manifests of outputs; signing itself cannot be turned off."""

    sign_cert: Path | None = field(default=None, metadata={
        "help": "PEM certificate chain to sign manifests with, signer first (default: a local, "
                "untrusted signer made in the config directory)", "metavar": "CHAIN.pem"})
    sign_key: Path | None = field(default=None, metadata={
        "help": "PEM private key of --sign-cert", "metavar": "KEY.pem"})

    def __post_init__(self) -> None:
        if (self.sign_cert is None) != (self.sign_key is None):
            raise DoppelError("--sign-cert and --sign-key go together: give both or neither")


def signer_for(config: SigningConfig, config_dir: Path) -> SignerFiles:
    """The user's own signer when given, else the local one in `config_dir`/keys."""
    if config.sign_cert is not None and config.sign_key is not None:
        return SignerFiles(config.sign_cert, config.sign_key)
    return local_signer(Path(config_dir) / "keys")


def local_signer(keys_dir: Path) -> SignerFiles:
    """The local signer in `keys_dir` (the user's config directory), made on first use."""
    keys_dir = Path(keys_dir)
    files = SignerFiles(keys_dir / CHAIN_FILE, keys_dir / KEY_FILE, keys_dir / CA_FILE)
    if files.chain.exists() and files.key.exists() and files.ca.exists():
        return files
    keys_dir.mkdir(parents=True, exist_ok=True)
    ca_pem, chain_pem, key_pem = _make_local_chain()
    for path, data, mode in ((files.key, key_pem, 0o600), (files.ca, ca_pem, None),
                             (files.chain, chain_pem, None)):
        with atomic_path(path, mode=mode) as temp:
            temp.write_bytes(data)
    return files


def _make_local_chain() -> tuple[bytes, bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORGANISATION)])

    def usage(*, sign: bool, issue: bool) -> x509.KeyUsage:
        return x509.KeyUsage(digital_signature=sign, content_commitment=False,
                             key_encipherment=False, data_encipherment=False,
                             key_agreement=False, key_cert_sign=issue, crl_sign=issue,
                             encipher_only=False, decipher_only=False)

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder()
          .subject_name(name("doppel local CA (untrusted)")).issuer_name(name("doppel local CA (untrusted)"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(usage(sign=False, issue=True), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    signer = (x509.CertificateBuilder()
              .subject_name(name("doppel local signer (untrusted)")).issuer_name(ca.subject)
              .public_key(key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(days=1))
              .not_valid_after(now + datetime.timedelta(days=825))
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(usage(sign=True, issue=False), critical=True)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
              .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                  ca_key.public_key()), False)
              .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    ca_pem = ca.public_bytes(pem)
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return ca_pem, signer.public_bytes(pem) + ca_pem, key_pem
