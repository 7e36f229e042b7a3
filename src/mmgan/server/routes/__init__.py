"""One router per resource: generate, search, items, models, health (healthz, metrics, whoami)."""
from . import generate, health, items, models, search

ROUTERS = [health.router, generate.router, search.router, items.router, models.router]
