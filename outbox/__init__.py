"""Transactional outbox: facts other services must learn, delivered as signed webhooks."""
