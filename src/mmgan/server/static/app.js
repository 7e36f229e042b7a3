// mmgan web page: generate images or sounds from a prompt, a label, audio (uploaded or recorded) and/or an image;
// search the store.
// Talks only to this server's /v1 API with the key kept in localStorage. No framework, no build step.
"use strict";

const KEY_STORE = "mmgan.apiKey";
const $ = (sel) => document.querySelector(sel);
const state = { models: [], recorded: null, recorder: null };

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
    const what = out.items.length && out.items[0].media_type.startsWith("audio/") ? "clip(s)" : "image(s)";
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
  const b64 = it[it.media_type.split("/")[0] + "_base64"];
  return { type: it.media_type, src: b64 ? `data:${it.media_type};base64,${b64}` : "" };
}

// A card shows an image as <img>, a sound as <audio controls>; the caption says seed, label and id.
function card(file, caption, id, score) {
  const node = $("#card").content.firstElementChild.cloneNode(true);
  const img = node.querySelector("img");
  if (file.type.startsWith("audio/")) {
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
