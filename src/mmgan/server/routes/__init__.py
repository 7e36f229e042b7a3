"""One router per resource: generate, text (caption, transcribe), search, items, models, health (healthz, metrics,
whoami)."""
from . import generate, health, items, models, search, text

ROUTERS = [health.router, generate.router, text.router, search.router, items.router, models.router]
