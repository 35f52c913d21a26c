"""The identity matcher's model as trained on this hub's own records: each training is an event.

A model is learned from the data (m and u of each comparison level, name frequencies, what the
data says about households and placeholder birthdays), so it belongs in the log like any other
fact: every decision names the model version it was made with, and the model of that version can
be read back - an auditor can redo any decision.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate

from aggregates.identity import matching_model_id

__all__ = ["MatchingModel"]


class MatchingModel(Aggregate):
    class Trained(Aggregate.Event):
        class_version = 1
        model: dict[str, Any]  # MatchModel.to_json(): version, m, u, thresholds, frequencies, ...
        by: str  # who asked: a user's name, or "hub" when it trained itself

        def apply(self, aggregate: MatchingModel) -> None:
            aggregate.model = self.model

    class FirstTrained(Trained, Aggregate.Created):
        class_version = 1

    def __init__(self, model: dict[str, Any], by: str) -> None:
        self.model = model

    @classmethod
    def first(cls, model: dict[str, Any], by: str) -> MatchingModel:
        return cls._create(cls.FirstTrained, id=matching_model_id(), model=model, by=by)

    def retrain(self, model: dict[str, Any], by: str) -> None:
        self.trigger_event(self.Trained, model=model, by=by)
