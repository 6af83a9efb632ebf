"""The gateway's own status: each upstream's health and breaker state."""
