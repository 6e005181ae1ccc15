class EngineError(Exception):
    """Base of the engine's errors; each message says what to change."""


class DatasetUnavailable(EngineError):
    """The dataset spec names nothing that can be read here (or is not allowed)."""


class CheckpointCorrupt(EngineError):
    """A checkpoint's bytes do not match its hash, or are not a safetensors file."""


class AggregatorBoundError(EngineError):
    """The aggregator cannot tolerate this many faulty nodes among this many proposals."""


class ModelDivergence(EngineError):
    """Two nodes hold different global weights for the same round: never silently merged."""


class TokenizerUnavailable(EngineError):
    """The tokenizer spec names nothing that can be loaded here."""


class DatasetCorrupt(EngineError):
    """A prepared dataset's files do not match its manifest."""
