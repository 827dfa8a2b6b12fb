// kapfast's web page: live figures from the HTTP API, without a page reload. Hand-written, no
// library; every value goes into the page through textContent (never as HTML).
"use strict";

const HEADERS = { "X-Kapfast-UI": "1" }; // a 401 then challenges the browser (kapfast.server.auth)

// Absolute URLs without user info: a page opened as http://user:pass@host/ui/ would otherwise
// resolve relative URLs with the credentials in them, which fetch refuses; the browser sends the
// credentials it cached for the page's realm instead.
function here(path) { return new URL(path, location.origin).href; }

async function api(method, url, body) {
  const init = { method, headers: { ...HEADERS }, credentials: "same-origin", cache: "no-store" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(here(url), init);
  const text = await resp.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
  return { status: resp.status, json };
}

function setText(el, text) { if (el && el.textContent !== text) el.textContent = text; }

// Go's time.Duration.String() for the durations a node shows (under a minute)
function duration(ns) {
  if (typeof ns !== "number") return String(ns);
  if (ns === 0) return "0s";
  const units = [[1e9, "s"], [1e6, "ms"], [1e3, "µs"], [1, "ns"]];
  for (const [size, unit] of units) {
    if (Math.abs(ns) >= size) return (ns / size).toFixed(9).replace(/\.?0+$/, "") + unit;
  }
  return ns + "ns";
}

function statLines(s) {
  s = s || {};
  // buffered_points: kapfast's own statistic (kapfast-node-stats), of the kinds that hold points
  const buffered = s.buffered_points;
  return [
    `in ${s.collected ?? 0} · out ${s.emitted ?? 0}`,
    `errors ${s.errors ?? 0} · groups ${s.working_cardinality ?? 0}`,
    `avg ${duration(s.avg_exec_time_ns ?? 0)}` + (buffered !== undefined ? ` · buffered ${buffered}` : ""),
  ];
}

function taskErrors(task) {
  const nodes = (task.stats && task.stats["node-stats"]) || {};
  return Object.values(nodes).reduce((n, s) => n + (s.errors || 0), 0);
}

function throughput(task) {
  const ts = task.stats && task.stats["task-stats"];
  return task.executing && ts ? Number(ts.throughput || 0).toFixed(1) : "—";
}

function setStatus(el, status) {
  if (!el) return;
  setText(el, status);
  el.classList.remove("enabled", "disabled");
  el.classList.add(status);
}

// --- the tasks list -----------------------------------------------------------------------------
async function refreshTasks() {
  const table = document.getElementById("tasks");
  const q = ["status", "executing", "error", "stats"].map((f) => "fields=" + f).join("&");
  // the rows of this page only (its offset and limit, as the server rendered it)
  const page = `offset=${table.dataset.offset || 0}&limit=${table.dataset.limit || 100}`;
  const { status, json } = await api("GET", `/kapacitor/v1/tasks?${page}&${q}`);
  if (status !== 200 || !json) return;
  for (const t of json.tasks) {
    const row = document.querySelector(`tr[data-task="${CSS.escape(t.id)}"]`);
    if (!row) continue;
    setStatus(row.querySelector('[data-field="status"]'), t.status);
    setText(row.querySelector('[data-field="executing"]'), t.executing ? "yes" : "no");
    setText(row.querySelector('[data-field="throughput"]'), throughput(t));
    setText(row.querySelector('[data-field="errors"]'), String(taskErrors(t)));
    setText(row.querySelector('[data-field="error"]'), t.error || "");
  }
}

// --- a task -------------------------------------------------------------------------------------
const EDGE = /^(\S+) -> (\S+) \[processed="(\d+)"\];$/;

function renderStatsTable(nodeStats, extra) {
  const body = document.querySelector("#node-stats tbody");
  if (!body) return;
  const rows = [];
  for (const [name, values] of Object.entries(nodeStats || {})) {
    const merged = { ...values, ...((extra || {})[name] || {}) };
    const tr = document.createElement("tr");
    const a = document.createElement("td");
    a.textContent = name;
    const b = document.createElement("td");
    b.textContent = Object.keys(merged).sort().map((k) => `${k}=${merged[k]}`).join(", ");
    tr.append(a, b);
    rows.push(tr);
  }
  if (!rows.length) {
    const tr = document.createElement("tr");
    const td = document.createElement("td");
    td.colSpan = 2;
    td.className = "empty";
    td.textContent = "The task is not executing.";
    tr.append(td);
    rows.push(tr);
  }
  body.replaceChildren(...rows);
}

function showTask(task) {
  setStatus(document.getElementById("status"), task.status);
  setText(document.getElementById("executing"), task.executing ? "yes" : "no");
  setText(document.getElementById("throughput"), throughput(task) + " points/s");
  setText(document.getElementById("error"), task.error || "");
  const stats = task.stats || {};
  const nodeStats = stats["node-stats"] || {};
  const extra = stats["kapfast-node-stats"] || {};
  for (const g of document.querySelectorAll("svg.pipeline g.node")) {
    const name = g.dataset.node;
    const lines = statLines(nodeStats[name] && { ...nodeStats[name], ...(extra[name] || {}) });
    g.classList.toggle("has-errors", Boolean(nodeStats[g.dataset.node] && nodeStats[g.dataset.node].errors));
    g.querySelectorAll("text[data-stat]").forEach((t) => setText(t, lines[Number(t.dataset.stat)]));
  }
  const processed = {};
  for (const line of (task.dot || "").split("\n")) {
    const m = EDGE.exec(line.trim());
    if (m) processed[`${m[1]}->${m[2]}`] = m[3];
  }
  for (const t of document.querySelectorAll("svg.pipeline text[data-edge]")) {
    setText(t, processed[t.dataset.edge] !== undefined ? processed[t.dataset.edge] : "");
  }
  renderStatsTable(nodeStats, stats["kapfast-node-stats"]);
}

function cell(tag, text, cls) {
  const el = document.createElement(tag);
  el.textContent = text;
  if (cls) el.className = cls;
  return el;
}

function renderExplain(body) {
  const box = document.getElementById("explain-body");
  const parts = [];
  if (!body.nodes || !body.nodes.length) parts.push(cell("p", "The task has no alert node.", "empty"));
  for (const node of body.nodes || []) {
    parts.push(cell("h3", node.node));
    const table = document.createElement("table");
    table.className = "list explain";
    const head = document.createElement("tr");
    for (const h of ["Group", "Time", "Level", "Deciding expression", "Values", "Sent"]) head.append(cell("th", h));
    table.append(head);
    for (const g of node.groups || []) {
      const tr = document.createElement("tr");
      const values = Object.entries(g.values || {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ");
      const level = (g.previous_level && g.previous_level !== g.level ? g.previous_level + " → " : "") + g.level;
      tr.append(
        cell("td", g.group || "(all)"),
        cell("td", g.time || ""),
        cell("td", level, "level " + g.level),
        cell("td", g.deciding ? `${g.deciding.level}: ${g.deciding.expression}` : "none (OK)"),
        cell("td", values),
        cell("td", g.sent ? "sent" : "not sent: " + (g.reason_text || g.reason || "")),
      );
      table.append(tr);
    }
    if (!(node.groups || []).length) {
      const tr = document.createElement("tr");
      const td = cell("td", "No point seen yet.", "empty");
      td.colSpan = 6;
      tr.append(td);
      table.append(tr);
    }
    parts.push(table);
  }
  box.replaceChildren(...parts);
}

async function refreshExplain(apiUrl) {
  const section = document.getElementById("explain");
  try {
    const { status, json } = await api("GET", apiUrl + "/explain");
    section.hidden = status !== 200 || !json;
    if (!section.hidden) renderExplain(json);
  } catch (e) {
    section.hidden = true;
  }
}

async function refreshTask(apiUrl) {
  const { status, json } = await api("GET", apiUrl);
  if (status === 200 && json) showTask(json);
}

async function setTaskStatus(apiUrl, status) {
  const { status: code, json } = await api("PATCH", apiUrl, { status });
  if (code !== 200) throw new Error((json && json.error) || `HTTP ${code}`);
  showTask(json);
}

function taskButtons(apiUrl) {
  const result = document.getElementById("action-result");
  const run = (label, steps) => async () => {
    setText(result, label + "…");
    try {
      for (const s of steps) await setTaskStatus(apiUrl, s);
      setText(result, label + ": done");
    } catch (e) {
      setText(result, label + " failed: " + e.message);
    }
  };
  document.getElementById("enable").addEventListener("click", run("Enable", ["enabled"]));
  document.getElementById("disable").addEventListener("click", run("Disable", ["disabled"]));
  document.getElementById("reload").addEventListener("click", run("Reload", ["disabled", "enabled"]));
}

// --- pages that re-render on the server (topics, recordings) ------------------------------------
async function refreshMain() {
  const resp = await fetch(here(location.pathname + location.search), { headers: HEADERS, credentials: "same-origin", cache: "no-store" });
  if (resp.status !== 200) return;
  const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
  const main = doc.querySelector("main");
  if (main) document.querySelector("main").replaceChildren(...main.childNodes);
}

// fn now, then ms after each run ends (a slow answer never piles requests up)
function every(ms, fn, now = true) {
  const tick = () => fn().catch(() => {}).finally(() => setTimeout(tick, ms));
  if (now) tick();
  else setTimeout(tick, ms);
}

document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  if (page === "tasks") every(2000, refreshTasks, false);
  if (page === "refresh") every(3000, refreshMain, false);
  if (page === "task") {
    const apiUrl = document.getElementById("task").dataset.api;
    taskButtons(apiUrl);
    every(1500, () => refreshTask(apiUrl));
    every(5000, () => refreshExplain(apiUrl));
  }
});
