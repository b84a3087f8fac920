"""Webhook deliveries: recipients acknowledge events; officers watch, and replay dead ones."""
