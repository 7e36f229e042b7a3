from __future__ import annotations

from mmgan.server.metrics import Metrics


def test_render_is_prometheus_text():
    m = Metrics()
    m.requests.inc("GET", "/v1/items/{item_id}", "200")
    m.latency.observe("/healthz", value=0.003)
    m.latency.observe("/healthz", value=0.2)
    m.generated.inc("di\"gits", amount=4)
    text = m.render()
    assert 'mmgan_http_requests_total{method="GET",route="/v1/items/{item_id}",status="200"} 1' in text
    assert 'mmgan_http_request_duration_seconds_bucket{route="/healthz",le="0.005"} 1' in text
    assert 'mmgan_http_request_duration_seconds_bucket{route="/healthz",le="+Inf"} 2' in text
    assert 'mmgan_http_request_duration_seconds_count{route="/healthz"} 2' in text
    assert 'mmgan_generated_images_total{model="di\\"gits"} 4' in text
    assert "# TYPE mmgan_batch_images histogram" in text and text.endswith("\n")
