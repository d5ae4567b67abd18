// The advisor's web page: upload a table, pick its target, run a job, watch it, read the report.
// Every string that comes from a file, the user or the server is put in with textContent (never
// innerHTML), so a column named <script> shows as text. The report is shown in a sandboxed
// iframe (no scripts) from the HTML the server rendered, which escapes it too.
"use strict";

const GUESSED_TARGETS = ["target", "label", "labels", "y", "class", "outcome"];
const DELIMITERS = [",", ";", "\t", "|"];
const $ = (id) => document.getElementById(id);
let currentJob = null;
let pollTimer = null;

function token() {
  return $("token").value.trim();
}

function headers(extra) {
  const h = Object.assign({}, extra || {});
  if (token()) h["Authorization"] = "Bearer " + token();
  return h;
}

async function api(method, path, body, extraHeaders) {
  const response = await fetch(path, { method, body, headers: headers(extraHeaders) });
  const type = response.headers.get("content-type") || "";
  if (!response.ok) {
    let message = "HTTP " + response.status;
    if (type.includes("application/json")) {
      try { message = (await response.json()).error || message; } catch (e) { /* keep it */ }
    }
    if (response.status === 401) message += " Enter the server's token above.";
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return type.includes("application/json") ? response.json() : response.text();
}

function showError(where, error) {
  $(where).textContent = error ? String(error.message || error) : "";
}

// --- the table's header -------------------------------------------------------------------

function splitLine(line, delimiter) {
  const fields = [];
  let field = "", quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') { field += '"'; i++; }
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === delimiter) { fields.push(field); field = ""; }
    else field += ch;
  }
  fields.push(field);
  return fields;
}

function headerOf(text) {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/).filter((l) => l.length).slice(0, 20);
  if (!lines.length) return null;
  let best = null;
  for (const d of DELIMITERS) {
    const counts = lines.map((l) => splitLine(l, d).length);
    if (counts[0] < 2) continue;
    const consistent = counts.filter((c) => c === counts[0]).length;
    if (!best || consistent > best.consistent || (consistent === best.consistent && counts[0] > best.n)) {
      best = { d, consistent, n: counts[0] };
    }
  }
  return splitLine(lines[0], best ? best.d : ",").map((c) => c.trim());
}

function isBinary(bytes) {
  const magic = [[0x1f, 0x8b], [0x42, 0x5a, 0x68], [0xfd, 0x37, 0x7a], [0x50, 0x4b, 0x03, 0x04], [0x50, 0x41, 0x52, 0x31]];
  if (magic.some((m) => m.every((b, i) => bytes[i] === b))) return true;
  return bytes.includes(0);
}

async function columnsOf(file) {
  const head = new Uint8Array(await file.slice(0, 65536).arrayBuffer());
  if (!isBinary(head)) {
    const text = new TextDecoder("utf-8").decode(head);
    const cut = text.lastIndexOf("\n") > 0 ? text.slice(0, text.lastIndexOf("\n")) : text;
    const columns = headerOf(cut);
    if (columns && columns.length) return { columns, guess: null, note: "" };
  }
  // Compressed or Parquet: the server reads it (the same reader as the jobs) and profiles it.
  const form = new FormData();
  form.append("file", file, file.name);
  const profile = await api("POST", "/v1/profile", form);
  const columns = [...profile.target_columns, ...profile.feature_names];
  return { columns, guess: profile.target_columns[0],
           note: `${profile.n_rows_total.toLocaleString()} rows; ${profile.target} looks ${profile.task}` };
}

function guessTarget(columns) {
  for (const name of GUESSED_TARGETS) {
    const hit = columns.find((c) => c.toLowerCase() === name);
    if (hit !== undefined) return hit;
  }
  return columns[columns.length - 1];
}

async function onFile() {
  showError("error", null);
  const file = $("file").files[0];
  const select = $("target");
  select.replaceChildren();
  select.disabled = true;
  $("run").disabled = true;
  $("file-info").textContent = "";
  if (!file) return;
  try {
    const { columns, guess, note } = await columnsOf(file);
    const chosen = guess || guessTarget(columns);
    for (const name of columns) {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = name;
      option.selected = name === chosen;
      select.appendChild(option);
    }
    select.disabled = false;
    $("run").disabled = false;
    $("file-info").textContent = `${file.name}: ${columns.length} columns` + (note ? ` · ${note}` : "");
  } catch (error) {
    showError("error", error);
  }
}

// --- jobs ------------------------------------------------------------------------------------

async function onSubmit(event) {
  event.preventDefault();
  showError("error", null);
  const file = $("file").files[0];
  if (!file) { showError("error", "Choose a table first."); return; }
  const form = new FormData();
  form.append("file", file, file.name);
  form.append("target", $("target").value);
  form.append("domain", $("domain").value);
  form.append("budget", $("budget").value);
  form.append("validate", $("validate").checked ? "true" : "false");
  const key = (window.crypto && crypto.randomUUID) ? crypto.randomUUID()
    : String(Date.now()) + Math.random().toString(16).slice(2);
  $("run").disabled = true;
  try {
    const job = await api("POST", "/v1/jobs", form, { "Idempotency-Key": key });
    follow(job.id);
    refreshJobs();
  } catch (error) {
    showError("error", error);
  } finally {
    $("run").disabled = false;
  }
}

function follow(id) {
  currentJob = id;
  clearTimeout(pollTimer);
  $("job-section").hidden = false;
  $("job-id").textContent = id;
  $("job-error").textContent = "";
  $("downloads").hidden = true;
  const frame = $("report");
  frame.classList.remove("shown");
  frame.removeAttribute("srcdoc");
  poll(id);
}

async function poll(id) {
  if (id !== currentJob) return;
  let job;
  try {
    // Long polling: the server answers when the job's state or progress changes.
    job = await api("GET", "/v1/jobs/" + encodeURIComponent(id) + "?wait=15");
  } catch (error) {
    $("job-error").textContent = error.message;
    pollTimer = setTimeout(() => poll(id), 2000);
    return;
  }
  if (id !== currentJob) return;
  const p = job.progress;
  $("state").textContent = job.state;
  $("phase").textContent = p.total ? `${p.phase} ${p.done}/${p.total}` : p.phase;
  $("progress").max = Math.max(p.total, 1);
  $("progress").value = job.state === "succeeded" ? Math.max(p.total, 1) : p.done;
  $("cancel").hidden = !(job.state === "queued" || job.state === "running");
  $("job-error").textContent = job.state === "failed" || job.state === "cancelled" ? (job.error || "") : "";
  if (job.state === "succeeded") {
    await showReport(id);
    refreshJobs();
  } else if (job.state === "queued" || job.state === "running") {
    pollTimer = setTimeout(() => poll(id), 100);
  } else {
    refreshJobs();
  }
}

async function showReport(id) {
  try {
    const html = await api("GET", `/v1/jobs/${encodeURIComponent(id)}/report.html`);
    if (id !== currentJob) return;
    const frame = $("report");
    frame.srcdoc = html;  // a sandboxed frame: the page's HTML, escaped by the server, no scripts
    frame.classList.add("shown");
    $("downloads").hidden = false;
  } catch (error) {
    $("job-error").textContent = error.message;
  }
}

async function download(format) {
  const id = currentJob;
  try {
    const response = await fetch(`/v1/jobs/${encodeURIComponent(id)}/report.${format}`, { headers: headers() });
    if (!response.ok) throw new Error("HTTP " + response.status);
    const url = URL.createObjectURL(await response.blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = `report-${id}.${format}`;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (error) {
    $("job-error").textContent = error.message;
  }
}

async function onCancel() {
  if (!currentJob) return;
  try {
    await api("POST", `/v1/jobs/${encodeURIComponent(currentJob)}/cancel`);
  } catch (error) {
    $("job-error").textContent = error.message;
  }
  poll(currentJob);
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

async function refreshJobs() {
  let list;
  try {
    list = await api("GET", "/v1/jobs?limit=20");
  } catch (error) {
    return;  // e.g. a token not entered yet: the form's own calls say so
  }
  const rows = list.jobs.map((job) => {
    const tr = document.createElement("tr");
    const p = job.progress;
    tr.append(cell(new Date(job.created_at).toLocaleString()), cell(job.filename), cell(job.target),
              cell(job.state, "state-" + job.state), cell(p.total ? `${p.phase} ${p.done}/${p.total}` : p.phase));
    const td = document.createElement("td");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Show";
    button.addEventListener("click", () => follow(job.id));
    td.appendChild(button);
    tr.appendChild(td);
    return tr;
  });
  $("jobs").tBodies[0].replaceChildren(...rows);
}

document.addEventListener("DOMContentLoaded", () => {
  $("token").value = sessionStorage.getItem("advisor-token") || "";
  $("token").addEventListener("change", () => {
    sessionStorage.setItem("advisor-token", token());
    refreshJobs();
  });
  $("file").addEventListener("change", onFile);
  $("job-form").addEventListener("submit", onSubmit);
  $("cancel").addEventListener("click", onCancel);
  for (const button of $("downloads").querySelectorAll("button")) {
    button.addEventListener("click", () => download(button.dataset.format));
  }
  refreshJobs();
  setInterval(refreshJobs, 5000);
});
