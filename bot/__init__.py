"""WhatsApp Cloud API commerce bot."""

__version__ = "0.1.0"
