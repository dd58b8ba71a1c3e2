"""The spec model: what a validated config is made of."""

from .model import (
    Config,
    Deadline,
    EngineSettings,
    Event,
    EventType,
    Flow,
    GeneratorSpec,
    Location,
    OnTime,
    Subscription,
    Task,
    Var,
)

__all__ = ["Config", "Deadline", "EngineSettings", "Event", "EventType", "Flow", "GeneratorSpec",
           "Location", "OnTime", "Subscription", "Task", "Var"]
