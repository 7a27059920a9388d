"""WhatsApp Cloud API: webhook parsing and the Graph API client."""
