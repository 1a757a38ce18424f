// app.js: the peerd demo page. It connects to the store peer over a data
// channel with /peerd.js, calls Go functions, publishes dropped files as a
// gzipped tar in resumable chunks, and lists the published bundles.
import * as peerd from "/peerd.js";
import { tarStream, tarSize } from "./tar.js";

const $ = (id) => document.getElementById(id);
const WRITE_CHUNK = 1 << 20; // bytes per store.write
const WRITE_WINDOW = 4; // writes in flight

let cfg = { signal: "/signal", room: "public" };
let pair = null;
let retry = 0;
let busy = false;
let selection = null; // { files: [{path, file}], name }

// ---------------------------------------------------------------- helpers

function fmtSize(n) {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let i = -1;
  do {
    n /= 1024;
    i++;
  } while (n >= 1024 && i < units.length - 1);
  return `${n < 10 ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
}

function fmtAgo(iso) {
  const t = Date.parse(iso);
  if (!t) return "";
  const s = Math.max(0, (Date.now() - t) / 1000);
  if (s < 45) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(t).toLocaleDateString();
}

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

function errText(e) {
  if (e instanceof peerd.RemoteError) return e.remoteMessage;
  return e && e.message ? e.message : String(e);
}

// sanitize turns anything into a valid bundle name (a-z 0-9 . _ -).
function sanitize(s) {
  let n = s.toLowerCase().replace(/\.[a-z0-9]{1,5}$/, "").replace(/[^a-z0-9._-]+/g, "-").replace(/^[^a-z0-9]+/, "").replace(/-+$/, "");
  return (n || "site").slice(0, 64);
}

// ---------------------------------------------------------------- connection

function setStatus(state, text) {
  $("status").dataset.state = state;
  $("status-text").textContent = text;
}

function setEnabled(on) {
  $("call-btn").disabled = !on;
  $("refresh-btn").disabled = !on;
  $("publish-btn").disabled = !on || !selection || busy || !$("bundle-name").validity.valid;
}

async function loadConfig() {
  try {
    const r = await fetch("/config.json", { cache: "no-store" });
    if (r.ok) cfg = { ...cfg, ...(await r.json()) };
  } catch (_) {
    /* defaults */
  }
}

async function connect() {
  setStatus("connecting", "Connecting…");
  try {
    pair = await peerd.connect({ signaling: cfg.signal, room: cfg.room, connectTimeout: 15000 });
  } catch (e) {
    pair = null;
    setStatus("error", "Offline");
    $("foot-peer").textContent = errText(e);
    const wait = Math.min(30, 2 ** retry++) * 1000;
    setTimeout(connect, wait);
    return;
  }
  retry = 0;
  setStatus("connected", "Connected");
  $("foot-peer").textContent = `Data channel to peer ${pair.peer.slice(0, 8)} in room “${cfg.room}”`;
  setEnabled(true);
  refresh();
  pair.closed.then(() => {
    pair = null;
    setEnabled(false);
    setStatus("error", "Disconnected");
    $("foot-peer").textContent = "Connection lost; reconnecting…";
    setTimeout(connect, 1000);
  });
}

// ---------------------------------------------------------------- calls

const methods = {
  "demo.add": {
    inputs: () => [el("input", { type: "number", id: "arg-a", value: "2", step: "any", "aria-label": "a" }), el("input", { type: "number", id: "arg-b", value: "3", step: "any", "aria-label": "b" })],
    args: () => [Number($("arg-a").value), Number($("arg-b").value)],
  },
  "demo.echo": {
    inputs: () => [el("input", { type: "text", id: "arg-v", value: '{"hello": "peerd"}', "aria-label": "value (JSON or text)" })],
    args: () => {
      const v = $("arg-v").value;
      try {
        return [JSON.parse(v)];
      } catch (_) {
        return [v];
      }
    },
  },
  "demo.countdown": {
    inputs: () => [el("input", { type: "number", id: "arg-n", value: "5", min: "0", max: "100", "aria-label": "n" })],
    args: (tick) => [Number($("arg-n").value), tick],
  },
  "sys.info": { inputs: () => [], args: () => [] },
};

function renderArgs() {
  const m = methods[$("call-method").value];
  $("call-args").replaceChildren(...m.inputs());
}

function showResult(value, ms, ticks) {
  const out = $("call-result");
  const text = typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value, null, 2);
  const parts = [el("span", { class: "meta" }, `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`)];
  if (ticks && ticks.length) parts.push(el("span", { class: "ticks" }, `${ticks.join(" · ")}  →  `));
  parts.push(el("span", { class: "value" }, text));
  out.replaceChildren(...parts);
}

async function call(ev) {
  ev.preventDefault();
  if (!pair) return;
  const name = $("call-method").value;
  const m = methods[name];
  const ticks = [];
  const out = $("call-result");
  const tick = (i) => {
    ticks.push(i);
    out.replaceChildren(el("span", { class: "ticks" }, ticks.join(" · ")));
  };
  $("call-btn").disabled = true;
  const t0 = performance.now();
  try {
    const res = await pair.remote.$call(name, ...m.args(tick));
    showResult(res, performance.now() - t0, ticks);
  } catch (e) {
    out.replaceChildren(el("span", { class: "err" }, errText(e)));
  } finally {
    $("call-btn").disabled = !pair;
  }
}

// ---------------------------------------------------------------- selection

// readEntry walks a dropped FileSystemEntry into [{path, file}].
async function readEntry(entry, out) {
  if (entry.isFile) {
    const file = await new Promise((res, rej) => entry.file(res, rej));
    out.push({ path: entry.fullPath.replace(/^\/+/, ""), file });
    return;
  }
  if (!entry.isDirectory) return;
  const reader = entry.createReader();
  for (;;) {
    const batch = await new Promise((res, rej) => reader.readEntries(res, rej));
    if (!batch.length) break;
    for (const e of batch) await readEntry(e, out);
  }
}

function select(files) {
  files = files.filter((f) => f.path && !f.path.split("/").some((p) => p === "" || p === "." || p === ".."));
  if (!files.length) return;
  // One folder at the top: its content becomes the site's root.
  const tops = new Set(files.map((f) => f.path.split("/")[0]));
  let name;
  if (tops.size === 1 && files.every((f) => f.path.includes("/"))) {
    const top = [...tops][0];
    name = top;
    files = files.map((f) => ({ path: f.path.slice(top.length + 1), file: f.file }));
  } else {
    // Loose files: named after the first one that is not an index page.
    const named = files.find((f) => !/^index\.html?$/i.test(f.path.split("/").pop())) || files[0];
    name = named.path.split("/").pop();
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  selection = { files };
  const total = files.reduce((n, f) => n + f.file.size, 0);
  $("pending-summary").textContent = `${files.length} file${files.length === 1 ? "" : "s"} · ${fmtSize(total)}`;
  $("bundle-name").value = sanitize(name);
  $("pending").hidden = false;
  $("pub-message").hidden = true;
  $("progress").hidden = true;
  setEnabled(!!pair);
}

function clearSelection() {
  selection = null;
  $("pending").hidden = true;
  $("file-input").value = "";
  $("dir-input").value = "";
  setEnabled(!!pair);
}

async function onDrop(ev) {
  ev.preventDefault();
  $("drop").classList.remove("over");
  if (busy) return;
  const items = [...(ev.dataTransfer.items || [])].filter((i) => i.kind === "file");
  const entries = items.map((i) => (i.webkitGetAsEntry ? i.webkitGetAsEntry() : null));
  const out = [];
  if (entries.length && entries.every(Boolean)) {
    for (const e of entries) await readEntry(e, out);
  } else {
    for (const f of ev.dataTransfer.files) out.push({ path: f.name, file: f });
  }
  select(out);
}

function onInput(ev) {
  if (busy) return;
  const out = [...ev.target.files].map((f) => ({ path: f.webkitRelativePath || f.name, file: f }));
  select(out);
}

// ---------------------------------------------------------------- publishing

function progress(frac, stage, detail = "") {
  const p = $("progress");
  p.hidden = false;
  delete p.dataset.done;
  delete p.dataset.failed;
  $("progress-fill").style.width = `${Math.max(0, Math.min(1, frac)) * 100}%`;
  $("progress-stage").textContent = stage;
  $("progress-detail").textContent = detail;
}

function message(kind, ...parts) {
  const m = $("pub-message");
  m.className = `message ${kind}`;
  m.replaceChildren(...parts);
  m.hidden = false;
}

// pack makes the gzipped tar of files, reporting tar bytes produced.
async function pack(files, onBytes) {
  let n = 0;
  const count = new TransformStream({
    transform(chunk, ctrl) {
      n += chunk.byteLength;
      onBytes(n);
      ctrl.enqueue(chunk);
    },
  });
  const gz = tarStream(files).pipeThrough(count).pipeThrough(new CompressionStream("gzip"));
  return new Response(gz).blob();
}

async function sha256hex(blob) {
  const d = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// upload sends archive with begin / pipelined write / commit.
async function upload(remote, name, archive, sum, mtime, onProgress) {
  const up = await remote.store.begin(name, archive.size, sum, mtime);
  let next = up.offset;
  let acked = up.offset;
  onProgress(acked);
  const inflight = new Set();
  while (next < archive.size || inflight.size) {
    while (next < archive.size && inflight.size < WRITE_WINDOW) {
      const off = next;
      const len = Math.min(WRITE_CHUNK, archive.size - off);
      next += len;
      const w = remote.store.write(up.id, off, archive.slice(off, off + len)).then(() => {
        acked += len;
        onProgress(acked);
        inflight.delete(w);
      });
      w.catch(() => {}); // the race below reports the first failure
      inflight.add(w);
    }
    await Promise.race(inflight);
  }
  return remote.store.commit(up.id);
}

async function publish() {
  if (!pair || !selection || busy) return;
  const name = $("bundle-name").value;
  if (!$("bundle-name").validity.valid) return;
  busy = true;
  setEnabled(true);
  $("pub-message").hidden = true;
  const files = selection.files;
  const mtime = new Date(Math.max(...files.map((f) => f.file.lastModified || 0), 0) || Date.now()).toISOString();
  try {
    const est = Math.max(1, tarSize(files));
    progress(0, "Packing");
    const archive = await pack(files, (n) => progress(0.2 * Math.min(1, n / est), "Packing", fmtSize(n)));
    progress(0.2, "Checksumming", fmtSize(archive.size));
    const sum = await sha256hex(archive);
    const t0 = performance.now();
    const info = await upload(pair.remote, name, archive, sum, mtime, (done) => {
      const s = (performance.now() - t0) / 1000;
      const rate = s > 0.2 ? ` · ${fmtSize(done / s)}/s` : "";
      progress(0.22 + 0.78 * (done / Math.max(1, archive.size)), `Uploading ${Math.floor((100 * done) / Math.max(1, archive.size))}%`, `${fmtSize(done)} of ${fmtSize(archive.size)}${rate}`);
    });
    progress(1, "Published", `${info.files} files · ${fmtSize(info.unpacked)}`);
    $("progress").dataset.done = "";
    message("ok", "Published ", el("a", { href: `/sites/${info.name}/`, target: "_blank", rel: "noopener" }, `/sites/${info.name}/`));
    clearSelection();
    refresh();
  } catch (e) {
    $("progress").dataset.failed = "";
    $("progress-stage").textContent = "Failed";
    message("err", errText(e));
  } finally {
    busy = false;
    setEnabled(!!pair);
  }
}

// ---------------------------------------------------------------- bundles

async function refresh() {
  if (!pair) return;
  let list;
  try {
    list = await pair.remote.store.list();
  } catch (e) {
    $("bundles").replaceChildren(el("li", { class: "empty err" }, errText(e)));
    return;
  }
  list.sort((a, b) => (a.published < b.published ? 1 : -1));
  if (!list.length) {
    $("bundles").replaceChildren(el("li", { class: "empty muted" }, "Nothing published yet."));
    return;
  }
  $("bundles").replaceChildren(
    ...list.map((b) =>
      el(
        "li",
        { "data-name": b.name },
        el(
          "div",
          { class: "info" },
          el("a", { class: "name", href: `/sites/${b.name}/`, target: "_blank", rel: "noopener" }, b.name),
          el("span", { class: "sub" }, `${b.files} file${b.files === 1 ? "" : "s"} · ${fmtSize(b.unpacked)} · published ${fmtAgo(b.published)}`),
        ),
        el(
          "div",
          { class: "actions" },
          el("a", { class: "open", href: `/sites/${b.name}/`, target: "_blank", rel: "noopener" }, "Open ↗"),
          el("button", { type: "button", class: "ghost danger", title: `Delete ${b.name}`, onclick: () => remove(b.name) }, "Delete"),
        ),
      ),
    ),
  );
}

async function remove(name) {
  if (!pair || !confirm(`Delete ${name}?`)) return;
  try {
    await pair.remote.store.delete(name);
  } catch (e) {
    message("err", errText(e));
  }
  refresh();
}

// ---------------------------------------------------------------- wiring

function wire() {
  $("call-method").addEventListener("change", renderArgs);
  $("call-form").addEventListener("submit", call);
  renderArgs();
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", onDrop);
  drop.addEventListener("click", (e) => {
    if (!e.target.closest("label")) $("file-input").click();
  });
  drop.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      $("file-input").click();
    }
  });
  $("file-input").addEventListener("change", onInput);
  $("dir-input").addEventListener("change", onInput);
  $("clear-btn").addEventListener("click", clearSelection);
  $("bundle-name").addEventListener("input", () => setEnabled(!!pair));
  $("publish-btn").addEventListener("click", publish);
  $("refresh-btn").addEventListener("click", refresh);
  // Dropping outside the zone must not navigate away.
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());
}

wire();
await loadConfig();
connect();

// For scripts and tests: the page's state.
window.peerdApp = {
  get pair() {
    return pair;
  },
  get busy() {
    return busy;
  },
  select,
  publish,
  refresh,
};
