"""Serving a classroom: this machine's LAN addresses and a self-signed HTTPS certificate.

Phones give web pages their camera only over HTTPS (or on localhost), so `digitcam serve --lan`
needs a certificate. It is made once, on first start, in the per-user data folder and reused
while it covers the current addresses and has not expired.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import ipaddress
import logging
import os
import socket
import struct
from pathlib import Path

log = logging.getLogger(__name__)

SIOCGIFADDR = 0x8915  # Linux ioctl: an interface's IPv4 address
CERT_DAYS = 825  # the longest validity Apple devices accept for a TLS server certificate


def data_dir() -> Path:
    """$DIGITCAM_HOME, else $XDG_DATA_HOME/digitcam, else ~/.local/share/digitcam."""
    if os.environ.get("DIGITCAM_HOME"):
        return Path(os.environ["DIGITCAM_HOME"])
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "digitcam"


def lan_addresses() -> list[str]:
    """IPv4 addresses of this machine's non-loopback interfaces, read locally (no packet sent)."""
    found: list[str] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            try:
                request = struct.pack("256s", name.encode()[:15])
                raw = fcntl.ioctl(probe.fileno(), SIOCGIFADDR, request)[20:24]
            except OSError:  # interface without an IPv4 address
                continue
            address = socket.inet_ntoa(raw)
            if not ipaddress.ip_address(address).is_loopback and address not in found:
                found.append(address)
    # Private (home, school) networks first: those are what phones in the room can reach.
    return sorted(found, key=lambda a: not ipaddress.ip_address(a).is_private)


def ensure_certificate(addresses: list[str], folder: Path | None = None) -> tuple[Path, Path]:
    """(cert.pem, key.pem) in the data folder, made anew if missing, expired or not covering `addresses`."""
    folder = folder or data_dir()
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    if cert_path.is_file() and key_path.is_file() and _still_good(cert_path, addresses):
        return cert_path, key_path
    folder.mkdir(parents=True, exist_ok=True)
    cert_pem, key_pem = _self_signed(addresses)
    key_path.touch(mode=0o600)
    key_path.write_bytes(key_pem)
    cert_path.write_bytes(cert_pem)
    log.info("made a self-signed certificate for %s in %s", ", ".join(addresses) or "localhost", folder)
    return cert_path, key_path


def _still_good(cert_path: Path, addresses: list[str]) -> bool:
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    covered = {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    fresh = cert.not_valid_after_utc > dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    return fresh and set(addresses) <= covered


def _self_signed(addresses: list[str]) -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "digitcam on this network")])
    ips = [ipaddress.ip_address(a) for a in ["127.0.0.1", *addresses]]
    alt = x509.SubjectAlternativeName([x509.DNSName("localhost"), *(x509.IPAddress(ip) for ip in ips)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=CERT_DAYS))
            .add_extension(alt, critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem
