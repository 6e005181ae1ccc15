"""Each node's key (engine.identity): kept on the node's host under NCRSH_HOME/keys, readable by
its owner only; its public half is the node's registered credential (Node.public_key), set when
its worker registers. A node signs its exchange votes with it and counts its peers' only under
their registered keys."""

from __future__ import annotations

import logging
import os

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings

from engine.identity import KeyIdentity, load_private_key, new_private_key, public_key_hex
from nodes.models import Node

logger = logging.getLogger(__name__)


def node_private_key(node_id: str) -> Ed25519PrivateKey:
    """This host's key for ``node_id``, created on first use (0600)."""
    path = settings.NCRSH_HOME / "keys" / f"{node_id}.ed25519.pem"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process of this host made it meanwhile
            pass
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(new_private_key())
    return load_private_key(path.read_bytes())


def registered_key(node_id: str) -> str | None:
    return Node.objects.filter(id=node_id).values_list("public_key", flat=True).first() or None


def node_identity(node_id: str) -> KeyIdentity:
    """The identity a run of ``node_id`` votes with: this host's key, registered for the node if
    it has none yet (a node created before keys existed). A node registered with another key
    (its worker moved hosts) keeps that one: this process's votes then do not count."""
    key = node_private_key(node_id)
    mine = public_key_hex(key)
    Node.objects.filter(id=node_id, public_key="").update(public_key=mine)
    if registered_key(node_id) != mine:
        logger.warning("%s is registered with another key than this host's: its votes here will not count", node_id)
    return KeyIdentity(key, registered_key)
