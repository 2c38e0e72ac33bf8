"""civicquant: Telegram news channels into an event stream and a digest people trust."""

__version__ = "0.1.0"
