"""ncrsh-Swarm: cooperative training of transformer language models across many machines."""
