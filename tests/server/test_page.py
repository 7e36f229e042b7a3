"""The web page, end to end in headless Chromium (Debian's chromium driven by Playwright): enter the key, pick a
label, generate, see the images (or, for an audio model, hear the clips), search, record audio with MediaRecorder.
Skips when chromium or playwright is absent (`.ci/run` installs chromium when it runs as root)."""
from __future__ import annotations

import os
import shutil

import pytest

from .conftest import LiveServer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--use-fake-ui-for-media-stream",
         "--use-fake-device-for-media-stream"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")


def open_page(tmp_path, bypass_csp: bool, extra_flags: tuple[str, ...] = ()):
    """(page, errors): a headless Chromium page; errors collects uncaught exceptions and Content-Security-Policy
    refusals (console errors)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True,
                                                   args=FLAGS + list(extra_flags), viewport={"width": 1200, "height": 900},
                                                   bypass_csp=bypass_csp)
        try:
            page = ctx.pages[0] if ctx.pages else ctx.new_page()
            page.set_default_timeout(30_000)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
            yield page, errors
        finally:
            ctx.close()


@pytest.fixture
def browser_page(tmp_path):
    yield from open_page(tmp_path, bypass_csp=True)    # lets wait_for_function evaluate strings


@pytest.fixture
def strict_page(tmp_path):
    """The page under the server's own Content-Security-Policy (no wait_for_function with strings here)."""
    yield from open_page(tmp_path, bypass_csp=False)


@pytest.fixture
def store_app(tiny_run, keyring, keys, tmp_path):
    """The page against the real store (Milvus Lite): text search goes through BM25 over captions."""
    pytest.importorskip("milvus_lite")
    from mmgan.server import Settings, create_app

    return create_app(Settings(runs={"digits": str(tiny_run)}, keys_file=keyring.path, store=str(tmp_path / "store")))


def test_page_generate_and_search(store_app, keys, browser_page, tmp_path):
    page, errors = browser_page
    with LiveServer(store_app) as srv:
        page.goto(srv.url + "/")
        assert "API key" in page.inner_text("header")
        page.fill("#api-key", keys["generator"])
        page.click("#save-key")
        page.wait_for_function("document.querySelector('#whoami').textContent.includes('generator')")
        # the key is kept for the next visit
        page.reload()
        page.wait_for_function("document.querySelector('#model').options.length > 0")
        assert page.input_value("#api-key") == keys["generator"]
        assert page.is_hidden("#prompt")                     # this model takes labels only
        page.select_option("#label", label="3: three")
        page.fill("#n", "4")
        page.fill("#seed", "7")
        page.click("#generate")
        page.wait_for_selector("#gallery .card:nth-child(4) img")
        imgs = page.eval_on_selector_all("#gallery img", "els => els.map(e => [e.naturalWidth, e.src.slice(0, 22)])")
        assert imgs == [[16, "data:image/png;base64,"]] * 4
        assert "stored" in page.inner_text("#gen-status")
        assert "three" in page.inner_text("#gallery .card figcaption")
        # more like this: the other stored images, nearest first
        first_id = page.get_attribute("#gallery .card", "data-id")
        page.click("#gallery .card .like")
        page.wait_for_selector("#results .card img")
        ids = page.eval_on_selector_all("#results .card", "els => els.map(e => e.dataset.id)")
        assert len(ids) == 3 and first_id not in ids
        # a text query shows the nearest stored items: the four threes, not the seven
        page.select_option("#label", label="7: seven")
        page.fill("#n", "1")
        page.click("#generate")
        page.wait_for_selector("#gallery .card:nth-child(5) img")
        page.fill("#search-text", "three")
        page.click("#search-go")
        page.wait_for_function("document.querySelector('#search-status').textContent.includes('by text')")
        captions = page.eval_on_selector_all("#results figcaption", "els => els.map(e => e.textContent)")
        assert len(captions) == 4 and all("three" in c for c in captions)
        shot = tmp_path / "page.png"
        page.screenshot(path=str(shot), full_page=True)
        if os.environ.get("MMGAN_SCREENSHOT"):
            shutil.copy(shot, os.environ["MMGAN_SCREENSHOT"])
        # a viewer may search but not generate: the page shows the 403 message
        page.fill("#api-key", keys["viewer"])
        page.click("#save-key")
        page.wait_for_function("document.querySelector('#whoami').textContent.includes('viewer')")
        page.click("#generate")
        page.wait_for_selector("#gen-status.error")
        assert "403" in page.inner_text("#gen-status") and "generator" in page.inner_text("#gen-status")
    assert errors == []


def test_page_records_audio_as_wav(app, keys, browser_page):
    """MediaRecorder (Chromium's fake microphone) -> decoded -> 16 kHz mono WAV, the format the server reads."""
    page, errors = browser_page
    with LiveServer(app) as srv:
        page.goto(srv.url + "/")
        info = page.evaluate("""async () => {
            const stream = await navigator.mediaDevices.getUserMedia({audio: true});
            const rec = new MediaRecorder(stream); const chunks = [];
            rec.ondataavailable = (e) => chunks.push(e.data);
            const done = new Promise((r) => rec.onstop = r);
            rec.start(); await new Promise((r) => setTimeout(r, 600)); rec.stop(); await done;
            stream.getTracks().forEach((t) => t.stop());
            const wav = new DataView(await (await toWav(new Blob(chunks, {type: rec.mimeType}))).arrayBuffer());
            const tag = String.fromCharCode(...[0, 1, 2, 3].map((i) => wav.getUint8(i)));
            return {tag, rate: wav.getUint32(24, true), channels: wav.getUint16(22, true), bytes: wav.byteLength,
                    mime: rec.mimeType};
        }""")
    assert info["tag"] == "RIFF" and info["rate"] == 16000 and info["channels"] == 1
    assert info["bytes"] > 44 + 2 * 16000 * 0.3          # about 0.6 s of 16-bit samples
    assert errors == []


def test_page_plays_generated_sounds(tiny_audio_run, keyring, keys, strict_page):
    """An audio model's items are <audio controls> players of the inline WAV, which the page's own CSP lets play
    and Chromium decodes (a duration), captioned with label and seed; the memory store's pixel embedder cannot
    keep clips, and the status says so."""
    from mmgan.server import Settings, create_app

    page, errors = strict_page
    app = create_app(Settings(runs={"tones": str(tiny_audio_run)}, keys_file=keyring.path, store="memory"))
    with LiveServer(app) as srv:
        page.goto(srv.url + "/")
        page.fill("#api-key", keys["generator"])
        page.click("#save-key")
        page.wait_for_selector("#label option:nth-child(3)", state="attached")        # (none), 0: high, 1: low
        page.select_option("#label", label="0: high")
        page.fill("#n", "2")
        page.fill("#seed", "5")
        page.click("#generate")
        page.wait_for_selector("#gallery .card:nth-child(2) audio")
        assert page.eval_on_selector_all("#gallery img", "els => els.length") == 0
        clips = page.eval_on_selector_all("#gallery audio", """els => Promise.all(els.map((a) => new Promise((ok) => {
            const done = () => ok([a.src.slice(0, 22), a.duration, a.controls, a.closest(".card").textContent]);
            if (a.readyState >= 1) done(); else { a.onloadedmetadata = done; a.onerror = done; setTimeout(done, 15000); }
        })))""")
        assert [c[0] for c in clips] == ["data:audio/wav;base64,"] * 2
        assert all(0.4 < c[1] < 0.6 and c[2] for c in clips), clips           # the 0.5 s clips, decoded
        assert all("high" in c[3] and "seed 5#" in c[3] for c in clips)
        status = page.inner_text("#gen-status")
        assert "2 clip(s)" in status and "not stored" in status and "--embedder" in status
    assert errors == []


def spoken_chirps(path, sr: int = 16000):
    """What the fake microphone says, over and over: two chirps, each followed by a pause."""
    import numpy as np
    import soundfile as sf

    parts = []
    for k in (0, 1):
        t = np.arange(int(0.4 * sr)) / sr
        parts += [0.3 * np.sin(2 * np.pi * (300 + 400 * k) * t) * np.hanning(len(t)), np.zeros(int(0.8 * sr))]
    sf.write(path, np.concatenate(parts).astype(np.float32), sr, subtype="PCM_16")
    return path


def test_page_captions_an_image_and_shows_live_subtitles(text_runs, keyring, keys, tmp_path):
    """Text out on the page, under its own CSP: a captioner's items are captions (words, not pictures); a
    recogniser shows the Subtitles panel, whose Live button sends each phrase heard by the (fake) microphone to
    /v1/transcribe and lists it with its times; a recording picked as a file gives SRT and WebVTT downloads."""
    from mmgan.data import load_dataset
    from mmgan.modalities.pixels import to_pil
    from mmgan.server import Settings, create_app

    talk = spoken_chirps(tmp_path / "mic.wav")
    to_pil(load_dataset("shapes", split="heldout", n=1).columns["image"][0]).save(tmp_path / "shape.png")
    app = create_app(Settings(runs={"cap": str(text_runs / "cap"), "asr": str(text_runs / "asr")},
                              keys_file=keyring.path, store="memory"))
    for page, errors in open_page(tmp_path, bypass_csp=False,
                                  extra_flags=(f"--use-file-for-fake-audio-capture={talk}",)):
        with LiveServer(app) as srv:
            page.goto(srv.url + "/")
            page.fill("#api-key", keys["generator"])
            page.click("#save-key")
            page.wait_for_selector("#model option:nth-child(2)", state="attached")
            page.select_option("#model", "cap")
            assert page.is_hidden("#subtitles-panel") and page.is_visible("#image-file")
            page.set_input_files("#image-file", str(tmp_path / "shape.png"))
            page.fill("#n", "3")
            page.click("#generate")
            page.wait_for_selector("#gallery .card:nth-child(3) .caption-text")
            assert page.eval_on_selector_all("#gallery img", "els => els.length") == 0
            assert "3 caption(s)" in page.inner_text("#gen-status")

            page.select_option("#model", "asr")
            assert page.is_visible("#subtitles-panel")
            page.click("#live")
            page.wait_for_selector("#subtitles li:nth-child(2)", timeout=40_000)
            page.click("#live")
            assert page.get_attribute("#live", "aria-pressed") == "false"
            lines = page.eval_on_selector_all("#subtitles li .time", "els => els.map(e => e.textContent)")
            assert all("–" in t and t.startswith("0:") for t in lines), lines
            assert "transcribed" in page.inner_text("#sub-status")

            page.set_input_files("#sub-file", str(talk))
            page.wait_for_selector("#sub-downloads:not([hidden])")
            assert page.get_attribute("#srt-link", "href").startswith("blob:")
            assert "2 segment(s)" in page.inner_text("#sub-status")
        assert errors == []
