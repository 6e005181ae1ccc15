from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from ncrsh_site.config import ConfigError
from ncrsh_site.keys import create_keypair, load_keypair


def test_created_keys_load_and_the_private_one_is_owner_only(tmp_path: Path) -> None:
    create_keypair(tmp_path / "k.pem", tmp_path / "k.pub")
    private, public = load_keypair(tmp_path / "k.pem", tmp_path / "k.pub", None)
    assert private.startswith("-----BEGIN PRIVATE KEY-----")
    assert public.startswith("-----BEGIN PUBLIC KEY-----")
    assert (tmp_path / "k.pem").stat().st_mode & 0o077 == 0


def test_an_encrypted_private_key_opens_with_jwt_secret_as_its_passphrase(tmp_path: Path) -> None:
    create_keypair(tmp_path / "k.pem", tmp_path / "k.pub")
    key = serialization.load_pem_private_key((tmp_path / "k.pem").read_bytes(), password=None)
    (tmp_path / "k.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"your_secret_key"),
        )
    )
    private, _ = load_keypair(tmp_path / "k.pem", tmp_path / "k.pub", "your_secret_key")
    assert "ENCRYPTED" not in private
    with pytest.raises(ConfigError, match="NCRSH_JWT_PRIVATE_KEY_FILE"):
        load_keypair(tmp_path / "k.pem", tmp_path / "k.pub", "wrong")
