"""Prometheus metrics in the text exposition format, with no extra dependency.

    mmgan_http_requests_total{method,route,status}      counter
    mmgan_http_request_duration_seconds{route}          histogram
    mmgan_generated_images_total{model}                 counter
    mmgan_batch_images{model}                           histogram (images per model call)
    mmgan_queue_images{model}                           gauge (images waiting for the model)
    mmgan_stored_items_total / mmgan_searches_total     counters
Routes are labelled by their template (/v1/items/{item_id}), never by the raw path, so label sets stay bounded.
"""
from __future__ import annotations

import bisect
import threading
import time
from collections import defaultdict

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


def _labels(names: tuple, values: tuple) -> str:
    if not names:
        return ""
    esc = (str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") for v in values)
    return "{" + ",".join(f'{n}="{v}"' for n, v in zip(names, esc)) + "}"


class _Metric:
    def __init__(self, name: str, help: str, labels: tuple = ()):
        self.name, self.help, self.labelnames = name, help, tuple(labels)
        self._lock = threading.Lock()


class Counter(_Metric):
    kind = "counter"

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.values: dict[tuple, float] = defaultdict(float)

    def inc(self, *labels, amount: float = 1.0) -> None:
        with self._lock:
            self.values[tuple(labels)] += amount

    def lines(self) -> list[str]:
        return [f"{self.name}{_labels(self.labelnames, k)} {v:g}" for k, v in sorted(self.values.items())]


class Gauge(Counter):
    kind = "gauge"

    def set(self, *labels, value: float) -> None:
        with self._lock:
            self.values[tuple(labels)] = value


class Histogram(_Metric):
    kind = "histogram"

    def __init__(self, name: str, help: str, labels: tuple = (), buckets: tuple = LATENCY_BUCKETS):
        super().__init__(name, help, labels)
        self.buckets = tuple(buckets)
        self.counts: dict[tuple, list] = {}
        self.sums: dict[tuple, float] = defaultdict(float)

    def observe(self, *labels, value: float) -> None:
        key = tuple(labels)
        with self._lock:
            counts = self.counts.setdefault(key, [0] * (len(self.buckets) + 1))
            counts[bisect.bisect_left(self.buckets, value)] += 1
            self.sums[key] += value

    def lines(self) -> list[str]:
        out = []
        for key, counts in sorted(self.counts.items()):
            acc = 0
            for le, c in zip(self.buckets + (float("inf"),), counts):
                acc += c
                le_txt = "+Inf" if le == float("inf") else f"{le:g}"
                out.append(f"{self.name}_bucket{_labels(self.labelnames + ('le',), key + (le_txt,))} {acc}")
            out.append(f"{self.name}_sum{_labels(self.labelnames, key)} {self.sums[key]:.6g}")
            out.append(f"{self.name}_count{_labels(self.labelnames, key)} {acc}")
        return out


class Metrics:
    """The service's metrics; one instance per app (so tests do not share counters)."""

    def __init__(self):
        self.started = time.time()
        self.requests = Counter("mmgan_http_requests_total", "HTTP requests by method, route and status",
                                ("method", "route", "status"))
        self.latency = Histogram("mmgan_http_request_duration_seconds", "HTTP request latency by route", ("route",))
        self.generated = Counter("mmgan_generated_images_total", "images generated, by model", ("model",))
        self.batch = Histogram("mmgan_batch_images", "images per model call (micro-batching)", ("model",),
                               BATCH_BUCKETS)
        self.queue = Gauge("mmgan_queue_images", "images waiting for the model", ("model",))
        self.stored = Counter("mmgan_stored_items_total", "items written to the store", ())
        self.searches = Counter("mmgan_searches_total", "searches by query modality", ("modality",))
        self.rejected = Counter("mmgan_limit_rejections_total", "requests refused by a limit", ("limit",))

    def all(self) -> list:
        return [self.requests, self.latency, self.generated, self.batch, self.queue, self.stored, self.searches,
                self.rejected]

    def render(self) -> str:
        lines = []
        for m in self.all():
            lines.append(f"# HELP {m.name} {m.help}")
            lines.append(f"# TYPE {m.name} {m.kind}")
            lines.extend(m.lines())
        lines.append("# HELP mmgan_uptime_seconds seconds since the service started")
        lines.append("# TYPE mmgan_uptime_seconds gauge")
        lines.append(f"mmgan_uptime_seconds {time.time() - self.started:.3f}")
        return "\n".join(lines) + "\n"


class MetricsMiddleware:
    """ASGI middleware: count and time every HTTP request by its route template."""

    def __init__(self, app, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(msg):
            if msg["type"] == "http.response.start":
                status["code"] = msg["status"]
            await send(msg)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or ("/static" if scope["path"].startswith("/static/") else "unmatched")
            self.metrics.requests.inc(scope["method"], path, str(status["code"]))
            self.metrics.latency.observe(path, value=time.perf_counter() - t0)
