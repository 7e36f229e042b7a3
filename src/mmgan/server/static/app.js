// mmgan web page: generate images, sounds or captions from a prompt, a label, audio (uploaded or recorded) and/or an
// image; live subtitles from the microphone for a recogniser; search the store.
// Talks only to this server's /v1 API with the key kept in localStorage. No framework, no build step.
"use strict";

const KEY_STORE = "mmgan.apiKey";
const $ = (sel) => document.querySelector(sel);
const state = { models: [], recorded: null, recorder: null, live: null };

// ---- API ------------------------------------------------------------------------------------------------
function apiKey() { return localStorage.getItem(KEY_STORE) || ""; }

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (apiKey()) headers["Authorization"] = "Bearer " + apiKey();
  const res = await fetch(path, Object.assign({}, options, { headers }));
  const type = res.headers.get("content-type") || "";
  const body = type.includes("json") ? await res.json() : await res.text();
  if (!res.ok) throw new Error(errorText(res.status, body));
  return body;
}

function errorText(status, body) {
  if (body && Array.isArray(body.detail)) {   // validation errors: name the field
    return `${status}: ` + body.detail.map((e) => `${(e.loc || []).filter((l) => l !== "body").join(".")}: ${e.msg}`).join("; ");
  }
  if (body && body.detail) return `${status}: ${body.detail}`;
  return `${status}: ${typeof body === "string" ? body.slice(0, 200) : "request failed"}`;
}

function setStatus(el, text, isError = false) {
  el.textContent = text;
  el.classList.toggle("error", isError);
}

// ---- key -------------------------------------------------------------------------------------------------
async function refreshKey() {
  $("#api-key").value = apiKey();
  if (!apiKey()) { $("#whoami").textContent = "enter a key (mmgan keys create --role generator)"; return; }
  try {
    const me = await api("/v1/whoami");
    $("#whoami").textContent = `role: ${me.role}${me.name ? " (" + me.name + ")" : ""}`;
    await loadModels();
  } catch (e) {
    $("#whoami").textContent = e.message;
  }
}

$("#key-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  localStorage.setItem(KEY_STORE, $("#api-key").value.trim());
  refreshKey();
});

// ---- models ------------------------------------------------------------------------------------------------
async function loadModels() {
  const data = await api("/v1/models");
  state.models = data.models;
  const sel = $("#model");
  const previous = sel.value;
  sel.replaceChildren(...data.models.map((m) => new Option(m.name, m.name)));
  sel.value = data.models.some((m) => m.name === previous) ? previous : (data.default || "");
  showModel();
}

function currentModel() { return state.models.find((m) => m.name === $("#model").value); }

function showModel() {
  const m = currentModel();
  if (!m) return;
  $("#model-info").textContent = `${m.family || ""} ${m.resolution ? m.resolution + "px" : ""} · conditioned on ${m.modalities.join(", ") || "nothing"}`;
  for (const row of document.querySelectorAll("[data-modality]")) {
    const takes = m.modalities.includes(row.dataset.modality);
    row.hidden = !takes;
    for (const input of row.querySelectorAll("input, select, textarea, button")) input.disabled = !takes;
  }
  const label = $("#label");
  label.replaceChildren(new Option("(none)", ""), ...m.class_names.map((name, i) => new Option(`${i}: ${name}`, String(i))));
  $("#subtitles-panel").hidden = !m.transcribes;
  if (!m.transcribes && state.live) stopLive();
}

$("#model").addEventListener("change", showModel);

// ---- audio recording: MediaRecorder, then decoded and re-encoded as 16 kHz mono WAV (what the server reads) ----
$("#record").addEventListener("click", async () => {
  const btn = $("#record");
  if (state.recorder) { state.recorder.stop(); return; }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (e) {
    setStatus($("#gen-status"), "cannot record: " + e.message, true);
    return;
  }
  const chunks = [];
  const rec = new MediaRecorder(stream);
  rec.ondataavailable = (ev) => { if (ev.data.size) chunks.push(ev.data); };
  rec.onstop = async () => {
    stream.getTracks().forEach((t) => t.stop());
    state.recorder = null;
    btn.textContent = "● Record";
    btn.setAttribute("aria-pressed", "false");
    try {
      const wav = await toWav(new Blob(chunks, { type: rec.mimeType }));
      state.recorded = new File([wav], "recording.wav", { type: "audio/wav" });
      $("#audio-preview").src = URL.createObjectURL(wav);
      $("#audio-preview").hidden = false;
      $("#audio-clear").hidden = false;
      $("#audio-file").value = "";
    } catch (e) {
      setStatus($("#gen-status"), "cannot decode the recording: " + e.message, true);
    }
  };
  state.recorder = rec;
  rec.start();
  btn.textContent = "■ Stop";
  btn.setAttribute("aria-pressed", "true");
});

$("#audio-clear").addEventListener("click", () => {
  state.recorded = null;
  $("#audio-preview").hidden = true;
  $("#audio-clear").hidden = true;
});

async function toWav(blob, rate = 16000) {
  const buf = await blob.arrayBuffer();
  const ctx = new AudioContext();
  const decoded = await ctx.decodeAudioData(buf);
  ctx.close();
  const frames = Math.max(1, Math.ceil(decoded.duration * rate));
  const off = new OfflineAudioContext(1, frames, rate);
  const src = off.createBufferSource();
  src.buffer = decoded;
  src.connect(off.destination);
  src.start();
  const pcm = (await off.startRendering()).getChannelData(0);
  return encodeWav(pcm, rate);
}

function encodeWav(samples, rate) {
  const out = new DataView(new ArrayBuffer(44 + samples.length * 2));
  const text = (at, s) => [...s].forEach((c, i) => out.setUint8(at + i, c.charCodeAt(0)));
  text(0, "RIFF"); out.setUint32(4, 36 + samples.length * 2, true); text(8, "WAVE");
  text(12, "fmt "); out.setUint32(16, 16, true); out.setUint16(20, 1, true); out.setUint16(22, 1, true);
  out.setUint32(24, rate, true); out.setUint32(28, rate * 2, true); out.setUint16(32, 2, true); out.setUint16(34, 16, true);
  text(36, "data"); out.setUint32(40, samples.length * 2, true);
  samples.forEach((s, i) => out.setInt16(44 + i * 2, Math.max(-1, Math.min(1, s)) * 0x7fff, true));
  return new Blob([out], { type: "audio/wav" });
}

// ---- generate ----------------------------------------------------------------------------------------------
$("#generate-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const m = currentModel();
  const form = new FormData();
  form.append("model", $("#model").value);
  form.append("n", $("#n").value || "1");
  if ($("#seed").value) form.append("seed", $("#seed").value);
  if (m && m.modalities.includes("text") && $("#prompt").value.trim()) form.append("text", $("#prompt").value.trim());
  if (m && m.modalities.includes("label") && $("#label").value !== "") form.append("label", $("#label").value);
  if (m && m.modalities.includes("audio")) {
    const audio = $("#audio-file").files[0] || state.recorded;
    if (audio) form.append("audio", audio, audio.name || "audio.wav");
  }
  if (m && m.modalities.includes("image") && $("#image-file").files[0]) form.append("image", $("#image-file").files[0]);
  const btn = $("#generate");
  btn.disabled = true;
  setStatus($("#gen-status"), "generating…");
  try {
    const out = await api("/v1/generate", { method: "POST", body: form });
    const cards = out.items.map((it) => card(media(it), describe(it.provenance, it.id), it.id));
    $("#gallery").prepend(...cards);
    const type = out.items.length ? out.items[0].media_type : "";
    const what = type.startsWith("audio/") ? "clip(s)" : type.startsWith("video/") ? "video(s)"
      : type.startsWith("text/") ? "caption(s)" : "image(s)";
    setStatus($("#gen-status"), `${out.items.length} ${what} from ${out.model}, seed ${out.seed}, in ${Math.round(out.elapsed_ms)} ms` +
      (out.stored ? " · stored" : "") + (out.store_note ? " · " + out.store_note : ""));
  } catch (e) {
    setStatus($("#gen-status"), e.message, true);
  } finally {
    btn.disabled = false;
  }
});

function describe(prov, id) {
  const c = (prov && prov.conditions) || {};
  const parts = [];
  if (c.label !== undefined) {
    const m = state.models.find((x) => x.name === prov.model);
    parts.push(m && m.class_names[c.label] ? m.class_names[c.label] : `label ${c.label}`);
  }
  if (c.text) parts.push(`“${c.text}”`);
  if (c.audio_sha256) parts.push("audio");
  if (c.image_sha256) parts.push("image");
  parts.push(`seed ${prov.seed}#${prov.index}`);
  if (id) parts.push(id.slice(0, 8));
  return parts.join(" · ");
}

// A generated item's file as {type, src}: the API names the inline file <kind>_base64 (image_base64,
// audio_base64), kind being the first part of its media_type (the page asks for files inline).
function media(it) {
  if (it.media_type.startsWith("text/")) return { type: it.media_type, text: it.text || "" };   // captions: words
  const b64 = it[it.media_type.split("/")[0] + "_base64"];
  return { type: it.media_type, src: b64 ? `data:${it.media_type};base64,${b64}` : "" };
}

// A card shows an image as <img>, a sound as <audio controls>, a video as <video controls>; the caption says
// seed, label and id.
function card(file, caption, id, score) {
  const node = $("#card").content.firstElementChild.cloneNode(true);
  const img = node.querySelector("img");
  if (file.type.startsWith("text/")) {
    const words = document.createElement("p");
    words.className = "caption-text";
    words.textContent = file.text;
    img.replaceWith(words);
  } else if (file.type.startsWith("video/")) {
    const video = document.createElement("video");
    video.controls = true;
    video.loop = true;
    video.preload = "metadata";
    video.title = caption;
    video.src = file.src;
    img.replaceWith(video);
  } else if (file.type.startsWith("audio/")) {
    const audio = document.createElement("audio");
    audio.controls = true;
    audio.preload = "metadata";
    audio.title = caption;
    audio.src = file.src;
    img.replaceWith(audio);
  } else {
    img.src = file.src;
    img.alt = caption;
  }
  node.querySelector("figcaption").textContent = (score !== undefined ? score.toFixed(3) + " · " : "") + caption;
  const like = node.querySelector(".like");
  if (id) {
    node.dataset.id = id;
    like.addEventListener("click", () => search({ id }));
  } else {
    like.remove();
  }
  return node;
}

// ---- subtitles: a recording, or the microphone live ----------------------------------------------------------
// Live: the microphone's samples are gathered in the page (ScriptProcessor); a phrase is sent to /v1/transcribe as a
// 16 kHz WAV when a pause follows speech (or after MAX_PHRASE seconds), and its segments are added with their times
// in the session. Everything stays in this page and the server.
const LIVE = { pause: 0.35, maxPhrase: 8, level: 0.01 };

function clock(seconds) {
  const m = Math.floor(seconds / 60), s = seconds - 60 * m;
  return `${m}:${s.toFixed(1).padStart(4, "0")}`;
}

function addSubtitles(segments, offset) {
  const list = $("#subtitles");
  for (const seg of segments) {
    const li = document.createElement("li");
    const time = document.createElement("span");
    time.className = "time";
    time.textContent = `${clock(offset + seg.start)}–${clock(offset + seg.end)}`;
    li.append(time, document.createTextNode(seg.text || "…"));
    list.append(li);
  }
}

async function transcribe(wav, name) {
  const form = new FormData();
  form.append("model", $("#model").value);
  form.append("beam", $("#sub-beam").value || "0");
  form.append("audio", wav, name);
  return api("/v1/transcribe", { method: "POST", body: form });
}

$("#sub-file").addEventListener("change", async () => {
  const file = $("#sub-file").files[0];
  if (!file) return;
  setStatus($("#sub-status"), "transcribing…");
  try {
    const out = await transcribe(file, file.name);
    $("#subtitles").replaceChildren();
    addSubtitles(out.segments, 0);
    $("#srt-link").href = URL.createObjectURL(new Blob([out.srt], { type: "application/x-subrip" }));
    $("#vtt-link").href = URL.createObjectURL(new Blob([out.vtt], { type: "text/vtt" }));
    $("#sub-downloads").hidden = false;
    setStatus($("#sub-status"), `${out.segments.length} segment(s) of ${out.seconds.toFixed(1)} s in ${Math.round(out.elapsed_ms)} ms ` +
      `(real-time factor ${out.rtf.toFixed(3)})`);
  } catch (e) {
    setStatus($("#sub-status"), e.message, true);
  }
});

$("#live").addEventListener("click", () => (state.live ? stopLive() : startLive()));

async function startLive() {
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (e) {
    setStatus($("#sub-status"), "cannot use the microphone: " + e.message, true);
    return;
  }
  const ctx = new AudioContext();
  const src = ctx.createMediaStreamSource(stream);
  const proc = ctx.createScriptProcessor(4096, 1, 1);
  const live = { stream, ctx, src, proc, phrase: [], voiced: 0, quiet: 0, heard: 0, start: 0, sent: 0, done: 0 };
  proc.onaudioprocess = (ev) => {
    const x = new Float32Array(ev.inputBuffer.getChannelData(0));
    const rms = Math.sqrt(x.reduce((a, v) => a + v * v, 0) / x.length);
    const dt = x.length / ctx.sampleRate;
    if (!live.phrase.length) live.start = live.heard;
    live.heard += dt;
    live.phrase.push(x);
    if (rms > LIVE.level) { live.voiced += dt; live.quiet = 0; } else { live.quiet += dt; }
    const length = live.phrase.length * dt;
    if (!live.voiced && live.quiet > LIVE.pause) { live.phrase = []; live.quiet = 0; return; }   // silence: drop
    if ((live.voiced && live.quiet >= LIVE.pause) || length >= LIVE.maxPhrase) sendPhrase(live);
  };
  src.connect(proc);
  proc.connect(ctx.destination);
  state.live = live;
  $("#live").textContent = "■ Stop";
  $("#live").setAttribute("aria-pressed", "true");
  $("#subtitles").replaceChildren();
  $("#sub-downloads").hidden = true;
  setStatus($("#sub-status"), "listening…");
}

async function sendPhrase(live) {
  const parts = live.phrase, offset = live.start;
  live.phrase = []; live.voiced = 0; live.quiet = 0;
  const n = parts.reduce((a, p) => a + p.length, 0);
  const pcm = new Float32Array(n);
  let at = 0;
  for (const p of parts) { pcm.set(p, at); at += p.length; }
  live.sent += 1;
  try {
    const out = await transcribe(encodeWav(downsample(pcm, live.ctx.sampleRate, 16000), 16000), "phrase.wav");
    addSubtitles(out.segments, offset);
    live.done += 1;
    setStatus($("#sub-status"), `live: ${live.done} phrase(s) transcribed, last in ${Math.round(out.elapsed_ms)} ms`);
  } catch (e) {
    setStatus($("#sub-status"), e.message, true);
  }
}

function downsample(x, from, to) {
  if (from === to) return x;
  const out = new Float32Array(Math.floor(x.length * to / from));
  for (let i = 0; i < out.length; i++) {
    const t = i * from / to, j = Math.floor(t), f = t - j;
    out[i] = (x[j] || 0) * (1 - f) + (x[j + 1] || 0) * f;
  }
  return out;
}

function stopLive() {
  const live = state.live;
  state.live = null;
  if (!live) return;
  if (live.voiced) sendPhrase(live);
  live.proc.disconnect();
  live.src.disconnect();
  live.stream.getTracks().forEach((t) => t.stop());
  live.ctx.close();
  $("#live").textContent = "● Live subtitles";
  $("#live").setAttribute("aria-pressed", "false");
  setStatus($("#sub-status"), `stopped: ${live.done} of ${live.sent} phrase(s) transcribed`);
}

// ---- search --------------------------------------------------------------------------------------------------
$("#search-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const file = $("#search-file").files[0];
  const text = $("#search-text").value.trim();
  if (file) search({ file });
  else if (text) search({ text });
  else setStatus($("#search-status"), "type a query or pick an image or audio file", true);
});

async function search({ text, id, file }) {
  const form = new FormData();
  if (text) form.append("text", text);
  if (id) form.append("id", id);
  if (file) form.append(file.type.startsWith("audio") ? "audio" : "image", file);
  form.append("k", $("#search-k").value || "8");
  form.append("inline", "true");
  if ($("#search-this-model").checked && $("#model").value) form.append("filters", JSON.stringify({ model: $("#model").value }));
  setStatus($("#search-status"), "searching…");
  try {
    const out = await api("/v1/search", { method: "POST", body: form });
    $("#results").replaceChildren(...out.hits.map((h) => card(
      { type: "image/png", src: h.image_base64 ? "data:image/png;base64," + h.image_base64 : "" },
      describe(h.item.provenance, h.id), h.id, h.score)));
    setStatus($("#search-status"), `${out.hits.length} nearest item(s) by ${out.query}`);
  } catch (e) {
    setStatus($("#search-status"), e.message, true);
  }
}

refreshKey();
