"""Where a round's proposals, votes and decision meet.

An ``Exchange`` is a per-node handle on a shared space of keys with write-once decisions:
``InMemoryExchange`` (nodes as threads of one process) and ``RedisExchange`` (nodes anywhere).
Each handle counts the bytes its node sent and received (an update counts its wire size), and
the seconds it spent waiting for keys its peers had not written yet.

Small values (votes, decisions) are bytes. Proposals are tensors with metadata: the in-memory
exchange hands the packed tensor itself to the receivers (no serialisation, no copy to the host,
whatever the device); Redis moves bytes: a header (wire format, length, metadata, number of
chunks), then the payload in chunks of at most ``CHUNK_BYTES``, each followed by its XXH3-128
checksum under its own key. No Redis value nears its 512 MB limit, and a receiver streams: it
fetches each chunk as soon as its checksum says it has landed, while the proposer is still
sending the next (a chunk that has not landed by the round's deadline makes the proposal late).
The checksum catches corruption on the way at memory speed (a sha256 of a default-size update
costs more than sending it); authenticity is the voting's job.

Round keys are ``<session>:r<index>:<name>`` (see ``rounds.RoundContext``). A round's keys live
until every member has taken its decision (``done``): the last member to finish the round
deletes them. In Redis they also expire (``ttl_s``) as a backstop for members
that never come back.
"""

from engine.exchange.base import Arrival, Exchange
from engine.exchange.memory import InMemoryExchange, MemoryStore
from engine.exchange.redis_exchange import CHUNK_BYTES, BulkReader, RedisExchange

__all__ = ["CHUNK_BYTES", "Arrival", "BulkReader", "Exchange", "InMemoryExchange", "MemoryStore", "RedisExchange"]
