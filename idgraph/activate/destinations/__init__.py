"""Senders, one module per destination kind; `sender_for` picks one for a config."""

from __future__ import annotations

from idgraph.activate.config import (
    AudienceDestination,
    Destination,
    FileDestination,
    WebhookDestination,
)
from idgraph.activate.destinations.base import Batch, DeliveredChange, DeliveryFailed, Sender

__all__ = ["Batch", "DeliveredChange", "DeliveryFailed", "Sender", "sender_for"]


def sender_for(dest: Destination) -> Sender:
    """The sender for one destination (reads its secret from the environment now)."""
    if isinstance(dest, WebhookDestination):
        from idgraph.activate.destinations.webhook import WebhookSender

        return WebhookSender(dest)
    if isinstance(dest, FileDestination):
        from idgraph.activate.destinations.files import FileSender

        return FileSender(dest)
    if isinstance(dest, AudienceDestination):
        from idgraph.activate.destinations.audience import AudienceSender

        return AudienceSender(dest)
    raise AssertionError(dest)  # pragma: no cover - the config's union is closed
