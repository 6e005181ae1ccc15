"""A session's plan: everything its nodes will be given, typed, validated once, torch-free.

The training start request is turned into a ``SessionPlan`` here and nowhere else
(``SessionPlan.build`` collects every field error into one ``Invalid``); the session row stores
``plan.to_json()`` and every reader gets it back through ``SessionPlan.from_json`` (the
``TrainingSession.plan`` property), so a setting's name, type and default live in one place:
the engine's config classes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.config import (
    PRESETS,
    WIRE_FORMATS,
    AggregatorConfig,
    ModelConfig,
    Policy,
    Strategy,
    TrainConfig,
    make_strategy,
)
from engine.datasets import check_spec
from engine.errors import AggregatorBoundError, DatasetUnavailable
from ncrsh_site.errors import Invalid

# The request's knobs by the engine config they belong to (the API's names are the configs' own).
TRAIN_KNOBS = (
    "batch_size",
    "learning_rate",
    "epochs",
    "max_steps",
    "warmup_steps",
    "grad_clip",
    "weight_decay",
    "log_every",
)
STRATEGY_KNOBS = ("local_steps", "outer_lr", "outer_momentum")
POLICY_KNOBS = (
    "quorum",
    "min_participants",
    "deadline_s",
    "check_loss",
    "kappa",
    "epsilon",
    "voting",
    "require_operator_approval",
)


@dataclass(frozen=True)
class SessionPlan:
    members: tuple[str, ...]
    dataset: str
    model: ModelConfig
    train: TrainConfig
    strategy: Strategy
    policy: Policy
    wire_dtype: str = "float32"
    tokenizer: str = "byte"
    vocab_size: int | None = None  # a bpe tokenizer's target, trained on first use

    @classmethod
    def build(cls, *, members: list[str], request: Mapping[str, Any]) -> SessionPlan:
        """From the start request's validated fields; ``Invalid`` names every field that the
        engine refuses (a preset's shape, a strategy's H, an aggregator's bound…)."""
        fields: dict[str, list[str]] = {}

        def attempt(field: str, build: Any, fallback: Any) -> Any:
            try:
                return build()
            except (KeyError, TypeError, ValueError, AggregatorBoundError, DatasetUnavailable) as exc:
                message = f"unknown preset {exc}" if isinstance(exc, KeyError) else str(exc)
                fields.setdefault(field, []).append(message)
                return fallback

        shape = dict(request.get("model_config") or {})
        preset = shape.pop("preset", "tiny")
        vocab = {"vocab_size": int(request["model_vocab_size"])} if "model_vocab_size" in request else {}
        model = attempt("model_config", lambda: dataclasses.replace(PRESETS[preset](), **shape, **vocab), ModelConfig())
        train = attempt(
            "non_field_errors", lambda: TrainConfig(**{k: request[k] for k in TRAIN_KNOBS if k in request}), None
        )
        strategy = attempt(
            "strategy",
            lambda: make_strategy(
                request.get("strategy", "diloco"), **{k: request[k] for k in STRATEGY_KNOBS if k in request}
            ),
            None,
        )

        def policy() -> Policy:
            aggregator = AggregatorConfig(name=request.get("aggregator", "mean"), f=request.get("aggregator_f", 0))
            aggregator.check(len(members))
            return Policy(aggregator=aggregator, **{k: request[k] for k in POLICY_KNOBS if k in request})

        chosen_policy = attempt("aggregator", policy, None)
        if chosen_policy is not None and chosen_policy.required(len(members)) > len(members):
            fields.setdefault("min_participants", []).append(
                f"at most the {len(members)} members: no round could ever commit"
            )
        attempt("dataset", lambda: check_spec(str(request.get("dataset", ""))), None)
        wire_dtype = str(request.get("wire_dtype", "float32"))
        if wire_dtype not in WIRE_FORMATS:
            fields["wire_dtype"] = [f"one of {', '.join(WIRE_FORMATS)}"]
        if fields:
            raise Invalid(fields)
        return cls(
            members=tuple(members),
            dataset=str(request["dataset"]),
            model=model,
            train=train,
            strategy=strategy,
            policy=chosen_policy,
            wire_dtype=wire_dtype,
            tokenizer=str(request.get("tokenizer", "byte")),
            vocab_size=request.get("vocab_size"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "members": list(self.members),
            "dataset": self.dataset,
            "model_config": self.model.to_dict(),
            "train": dataclasses.asdict(self.train),
            "strategy": dataclasses.asdict(self.strategy),
            "policy": dataclasses.asdict(self.policy),
            "wire_dtype": self.wire_dtype,
            "tokenizer": self.tokenizer,
            "vocab_size": self.vocab_size,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SessionPlan:
        policy = dict(data["policy"])
        return cls(
            members=tuple(data["members"]),
            dataset=str(data["dataset"]),
            model=ModelConfig(**data["model_config"]),
            train=TrainConfig(**data["train"]),
            strategy=Strategy(**data["strategy"]),
            policy=Policy(aggregator=AggregatorConfig(**policy.pop("aggregator")), **policy),
            wire_dtype=str(data.get("wire_dtype", "float32")),
            tokenizer=str(data.get("tokenizer", "byte")),
            vocab_size=data.get("vocab_size"),
        )
