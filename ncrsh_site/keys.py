"""RS256 key pair for JWT signing: load from PEM files, or create them in development."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ncrsh_site.config import ConfigError


def create_keypair(private_path: Path, public_path: Path) -> None:
    """Write a fresh 2048-bit RSA key pair; the private key is readable by its owner only."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_path.parent.mkdir(parents=True, exist_ok=True)
    public_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_pem)
    public_path.write_bytes(public_pem)


def load_keypair(private_path: Path, public_path: Path, passphrase: str | None) -> tuple[str, str]:
    """Return (private PEM, public PEM) as unencrypted text, checking that they belong together.

    An encrypted private key is decrypted with ``passphrase`` here, once, because the JWT
    library takes an unencrypted PEM.
    """
    for variable, path in (
        ("NCRSH_JWT_PRIVATE_KEY_FILE", private_path),
        ("NCRSH_JWT_PUBLIC_KEY_FILE", public_path),
    ):
        if not path.is_file():
            raise ConfigError(f"{variable}: no such file {path}")
    try:
        private_key = serialization.load_pem_private_key(
            private_path.read_bytes(), password=passphrase.encode() if passphrase else None
        )
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"NCRSH_JWT_PRIVATE_KEY_FILE: cannot load {private_path}: {exc}") from None
    if not isinstance(private_key, rsa.RSAPrivateKey) or private_key.key_size < 2048:
        raise ConfigError("NCRSH_JWT_PRIVATE_KEY_FILE: RS256 needs an RSA key of at least 2048 bits")
    try:
        public_key = serialization.load_pem_public_key(public_path.read_bytes())
    except ValueError as exc:
        raise ConfigError(f"NCRSH_JWT_PUBLIC_KEY_FILE: cannot load {public_path}: {exc}") from None
    if not isinstance(public_key, rsa.RSAPublicKey) or (
        public_key.public_numbers() != private_key.public_key().public_numbers()
    ):
        raise ConfigError("NCRSH_JWT_PUBLIC_KEY_FILE: the public key does not match the private key")
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private_pem.decode(), public_pem.decode()
