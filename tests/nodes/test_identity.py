"""Per-node credentials (issue 17): on main at dabd97c node votes in the exchange were not
authenticated at all (workers share the database's credentials; anyone able to write to Redis
could vote as any node). Each node now has a key; its registered public half is the only one
its votes count under."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from django.utils import timezone
from pytest_django.fixtures import Settings

from engine.identity import public_key_hex
from nodes.identity import node_identity, node_private_key
from nodes.models import Node, NodeStatus
from nodes.services import node_register

pytestmark = pytest.mark.django_db


@pytest.fixture
def host(tmp_path: Path, settings: Settings) -> Path:
    settings.NCRSH_HOME = tmp_path / "host_a"
    return settings.NCRSH_HOME


def test_a_nodes_key_is_kept_for_its_owner_only_and_reused(host: Path) -> None:
    key = node_private_key("node_a")
    path = host / "keys" / "node_a.ed25519.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert public_key_hex(node_private_key("node_a")) == public_key_hex(key)


def test_a_registered_worker_signs_votes_its_peers_verify(host: Path) -> None:
    node_register(node_id="node_a", address="a/cpu", public_key=public_key_hex(node_private_key("node_a")))
    identity = node_identity("node_a")
    message = b"s:r0:votes:node_a\n[]"
    assert identity.verify("node_a", message, identity.sign(message))
    assert not identity.verify("node_a", message + b" ", identity.sign(message))


def test_a_process_without_the_nodes_registered_key_cannot_vote_as_it(host: Path, settings: Settings) -> None:
    node_register(node_id="node_a", address="a/cpu", public_key=public_key_hex(node_private_key("node_a")))
    registered = Node.objects.get(id="node_a").public_key
    settings.NCRSH_HOME = host.parent / "host_b"  # another host, with a key of its own for node_a
    impostor = node_identity("node_a")
    assert Node.objects.get(id="node_a").public_key == registered  # not taken over
    message = b"s:r0:votes:node_a\n[]"
    assert not impostor.verify("node_a", message, impostor.sign(message))


def test_a_node_registered_before_keys_existed_gets_its_hosts_key(host: Path) -> None:
    Node.objects.create(id="node_old", status=NodeStatus.ACTIVE, last_seen=timezone.now())
    identity = node_identity("node_old")
    assert Node.objects.get(id="node_old").public_key == public_key_hex(node_private_key("node_old"))
    assert identity.verify("node_old", b"m", identity.sign(b"m"))
    assert not identity.verify("node_nobody", b"m", identity.sign(b"m"))  # no such node: no key
