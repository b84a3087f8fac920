"""A self-signed certificate for a name, with the TLS contexts that serve and trust it: for
the tests' TLS receivers (a webhook partner, a mail relay)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ssl
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclasses.dataclass
class Certificate:
    path: Path  # the certificate, PEM (what a client may be told to trust)
    client: ssl.SSLContext  # trusts the certificate
    server: ssl.SSLContext  # serves it, recording the SNI names it is asked for
    server_names: list[str | None]


def certificate_for(name: str, directory: Path) -> Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    (directory / "cert.pem").write_bytes(cert_pem)
    (directory / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    names: list[str | None] = []

    def record(_socket: Any, server_name: str | None, _context: Any) -> None:
        names.append(server_name)

    server.sni_callback = record
    client = ssl.create_default_context(cadata=cert_pem.decode())
    return Certificate(path=directory / "cert.pem", client=client, server=server, server_names=names)
