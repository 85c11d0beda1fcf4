"""`egiz certs create`: a private CA and certificates for OPC UA, HTTPS and MQTT over TLS.

Each leaf certificate carries what OPC UA Basic256Sha256 peers check (Part 6 §6.2.2): an RSA
2048 key, the application URI ``urn:egiz:<name>`` as a URI SAN, DNS/IP SANs for the host, key
usage digitalSignature + nonRepudiation + keyEncipherment + dataEncipherment, and both
serverAuth and clientAuth, so one certificate serves an OPC UA application in either role and
a TLS server (cloud HTTPS, MQTT broker).
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from egiz.contracts.errors import EgizError

DEFAULT_NAMES = ("edge", "simulator", "cloud", "mqtt")


@dataclass(frozen=True)
class Issued:
    """Paths of one issued certificate and its key, and its OPC UA application URI."""

    name: str
    cert: Path
    key: Path
    application_uri: str


def application_uri(name: str) -> str:
    """Return the OPC UA application URI a certificate of ``name`` carries."""
    return f"urn:egiz:{name}"


def _key() -> rsa.RSAPrivateKey:
    # Basic256Sha256 requires RSA keys of 2048..4096 bits.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _write_key(path: Path, key: rsa.RSAPrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)


def _sans(name: str, hosts: list[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = [x509.UniformResourceIdentifier(application_uri(name))]
    for h in dict.fromkeys([*hosts, "localhost", "127.0.0.1", socket.gethostname()]):
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            out.append(x509.DNSName(h))
    return out


def create(
    out: Path, names: tuple[str, ...] = DEFAULT_NAMES, hosts: list[str] | None = None,
    days: int = 825, org: str = "Egiz",
) -> tuple[Path, list[Issued]]:  # fmt: skip
    """Write ``ca.pem`` and ``<name>.pem`` + ``<name>.key.pem`` into ``out``; return the paths."""
    out.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)  # tolerate small clock skew
    ca_key = _key()
    ca_name = x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
         x509.NameAttribute(NameOID.COMMON_NAME, f"{org} CA")]
    )  # fmt: skip
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    ca_path = out / "ca.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    _write_key(out / "ca.key.pem", ca_key)
    issued = []
    for name in names:
        key = _key()
        subject = x509.Name(
            [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
             x509.NameAttribute(NameOID.COMMON_NAME, f"egiz-{name}")]
        )  # fmt: skip
        cert = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(_sans(name, hosts or [])), critical=False)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True,
                                         key_encipherment=True, data_encipherment=True,
                                         key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.CLIENT_AUTH]), False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), False)
            .sign(ca_key, hashes.SHA256())
        )  # fmt: skip
        cert_path, key_path = out / f"{name}.pem", out / f"{name}.key.pem"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key_path, key)
        issued.append(Issued(name, cert_path, key_path, application_uri(name)))
    return ca_path, issued


def register(sub: argparse._SubParsersAction) -> None:
    """Add `egiz certs create` to the command tree."""
    p = sub.add_parser("certs", help="certificates for OPC UA, HTTPS and MQTT over TLS")
    s = p.add_subparsers(dest="certs_cmd", required=True)
    c = s.add_parser(
        "create",
        help="create a private CA and one certificate per name",
        description="Write ca.pem and <name>.pem/<name>.key.pem (keys mode 0600) into --out. "
        "OPC UA application URI of each: urn:egiz:<name>.",
    )
    c.add_argument("--out", default="var/certs", help="output directory")
    c.add_argument("--name", action="append", dest="names", metavar="NAME",
                   help=f"certificate names (default: {', '.join(DEFAULT_NAMES)})")  # fmt: skip
    c.add_argument("--host", action="append", dest="hosts", default=[], metavar="HOST",
                   help="extra DNS name or IP for the SAN (localhost/127.0.0.1 always)")  # fmt: skip
    c.add_argument("--days", type=int, default=825, help="validity in days")
    c.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Create the CA and certificates, print where they are."""
    if args.days < 1:
        raise EgizError("--days must be at least 1")
    names = tuple(args.names or DEFAULT_NAMES)
    for n in names:
        if not n.replace("-", "").isalnum():
            raise EgizError(f"--name {n!r}: use letters, digits and '-'")
    ca, issued = create(Path(args.out), names, args.hosts, args.days)
    print(f"CA          {ca}")
    for i in issued:
        print(f"{i.name:<11} {i.cert}  key {i.key}  OPC UA application URI {i.application_uri}")
    return 0
