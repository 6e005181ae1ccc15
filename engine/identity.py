"""Node identities: an Ed25519 key per node. A node signs what it votes in the exchange; its
peers count a vote only under a valid signature of the node it claims to come from, so a
process that can write to the exchange (Redis) but holds no node's key cannot vote, nor vote as
another node."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


class Identity(Protocol):
    def sign(self, message: bytes) -> bytes:
        """This node's signature of ``message``."""

    def verify(self, node_id: str, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is ``node_id``'s of ``message`` (False for a node without a key)."""


def new_private_key() -> bytes:
    """A fresh private key, PEM (PKCS8)."""
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("a node key must be an Ed25519 private key")
    return key


def public_key_hex(key: Ed25519PrivateKey) -> str:
    """The public half as 64 hex digits: what the registry stores."""
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


class KeyIdentity:
    """This node's private key, and its peers' public keys as ``public_key(node_id)`` returns
    them (hex, or None when the node has none)."""

    def __init__(self, key: Ed25519PrivateKey, public_key: Callable[[str], str | None]) -> None:
        self.key, self.public_key = key, public_key

    def sign(self, message: bytes) -> bytes:
        return self.key.sign(message)

    def verify(self, node_id: str, message: bytes, signature: bytes) -> bool:
        public = self.public_key(node_id)
        if not public:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(bytes.fromhex(public)).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True
