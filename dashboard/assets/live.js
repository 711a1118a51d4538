// Live updates for a running sweep's pages, over Server-Sent Events. Plain module, no
// build step. The sweep page updates its progress, running tasks and finished feed, and
// reloads its summary fragment now and then; a running task's page grows step by step.
// Everything from the server is inserted as text (never as HTML) except the summary
// fragment, which the server renders and escapes.

const main = document.querySelector("main[data-sweep]");
if (main) start(main);

function start(main) {
  const sweep = main.dataset.sweep;
  const task = main.dataset.task || "";
  const base = "/sweeps/" + encodeURIComponent(sweep);
  const params = new URLSearchParams();
  if (task) params.set("task", task);
  if (main.dataset.lastEvent) params.set("after", main.dataset.lastEvent);
  const source = new EventSource(base + "/events?" + params.toString());
  const status = document.getElementById("live-status");
  const say = (text) => { if (status) status.textContent = text; };
  source.onopen = () => say("live");
  source.onerror = () => say(source.readyState === EventSource.CLOSED ? "disconnected" : "reconnecting…");

  let summaryTimer = null;
  const refreshSummary = () => {
    if (task || summaryTimer) return;
    summaryTimer = setTimeout(async () => {
      summaryTimer = null;
      const el = document.getElementById("summary");
      if (!el) return;
      try {
        const r = await fetch(base + "/summary", { credentials: "same-origin" });
        if (r.ok) el.innerHTML = await r.text();
      } catch (_) { /* the next event tries again */ }
    }, 2000);
  };

  source.addEventListener("progress", (e) => {
    const p = JSON.parse(e.data);
    for (const el of document.querySelectorAll("[data-field]")) {
      const k = el.dataset.field;
      if (!(k in p)) continue;
      el.textContent = k === "cost_usd" ? usd(p[k]) : k === "eta_secs" ? eta(p[k]) : String(p[k]);
    }
    const bar = document.getElementById("progress");
    if (bar) { bar.max = Math.max(p.total, 1); bar.value = p.done; }
    const acc = document.getElementById("accuracy");
    if (acc) acc.textContent = p.scored ? (100 * p.correct / p.scored).toFixed(1) + "% (" + p.correct + "/" + p.scored + ")" : "—";
    if (p.link && p.link.state === "retrying") say("reconnecting to the coordinator…");
    refreshSummary();
  });

  source.addEventListener("start", (e) => {
    const t = JSON.parse(e.data);
    if (task) { setState("running (attempt " + t.attempt + " on " + t.worker + ")"); clearSteps(); return; }
    const body = document.querySelector("#running tbody");
    if (!body || body.querySelector(rowSel(t.task_key))) return;
    const tr = document.createElement("tr");
    tr.dataset.task = t.task_key;
    tr.append(cell(link(base + "/tasks/" + encodeURIComponent(t.task_key), t.task_key)),
      cell(t.worker), cell("0", "steps"), cell("0", "tokens"));
    body.append(tr);
  });

  source.addEventListener("step", (e) => {
    const s = JSON.parse(e.data);
    if (!task) {
      const row = document.querySelector("#running " + rowSel(s.task_key));
      if (!row) return;
      const n = row.querySelector('[data-cell="steps"]');
      // Step indices count from 1: the newest one is the number of steps so far.
      if (n) n.textContent = String(s.step.index);
      const tk = row.querySelector('[data-cell="tokens"]');
      if (tk) tk.textContent = String(s.prompt_tokens + s.completion_tokens);
      return;
    }
    const steps = document.getElementById("steps");
    if (!steps) return;
    steps.append(stepBlock(s.step));
    const tok = document.getElementById("tokens");
    if (tok) tok.textContent = String(s.prompt_tokens + s.completion_tokens);
  });

  source.addEventListener("task", (e) => {
    const t = JSON.parse(e.data);
    if (task) {
      if (t.task_key === task) {
        setState("finished: " + t.status + (t.correct === true ? " · correct" : t.correct === false ? " · wrong" : ""));
        const done = document.getElementById("finished-link");
        if (done) done.hidden = false;
      }
      return;
    }
    const row = document.querySelector("#running " + rowSel(t.task_key));
    if (row) row.remove();
    const feed = document.getElementById("feed");
    if (feed) {
      const li = document.createElement("li");
      li.dataset.task = t.task_key;
      li.append(link(base + "/tasks/" + encodeURIComponent(t.task_key), t.task_key),
        document.createTextNode(" · " + t.arm + " · " + t.status +
          (t.correct === true ? " ✓" : t.correct === false ? " ✗" : "") + " · " + usd(t.cost_usd)));
      feed.prepend(li);
      while (feed.children.length > 50) feed.lastElementChild.remove();
    }
    refreshSummary();
  });

  source.addEventListener("end", (e) => {
    const s = JSON.parse(e.data);
    say("sweep " + s.state);
    source.close();
    refreshSummary();
  });
}

function setState(text) {
  const el = document.getElementById("task-state");
  if (el) el.textContent = text;
}

function clearSteps() {
  const steps = document.getElementById("steps");
  if (steps) steps.replaceChildren();
}

function stepBlock(step) {
  // The same structure the server renders for a step (pages/trajectory.rs).
  const div = document.createElement("div");
  div.className = "step";
  div.dataset.index = String(step.index);
  const h = document.createElement("h3");
  h.textContent = "Step " + step.index + (step.parse_error ? " (unparseable reply)" : step.cell_error ? " (cell raised)" : "") + " ";
  const ms = document.createElement("span");
  ms.className = "muted";
  ms.textContent = (step.exec_ms || 0) + " ms";
  h.append(ms);
  div.append(h, heading("Thought"), pre(step.thought || ""));
  if (step.parse_error) { const p = document.createElement("p"); p.className = "err"; p.textContent = "parse error: " + step.parse_error; div.append(p); }
  div.append(heading("Code"), pre(step.code || ""), heading("Observation"), pre(step.observation || ""));
  return div;
}

function heading(text) { const h = document.createElement("h4"); h.textContent = text; return h; }
function pre(text) { const p = document.createElement("pre"); p.textContent = text; return p; }
function cell(text, field) { const td = document.createElement("td"); if (typeof text === "string") td.textContent = text; else td.append(text); if (field) td.dataset.cell = field; return td; }
function link(href, text) { const a = document.createElement("a"); a.href = href; a.textContent = text; return a; }
function rowSel(key) { return 'tr[data-task="' + CSS.escape(key) + '"]'; }
function usd(x) { return x !== 0 && Math.abs(x) < 0.01 ? "$" + x.toFixed(4) : "$" + x.toFixed(2); }
function eta(s) { if (!s) return "—"; if (s >= 3600) return Math.floor(s / 3600) + "h " + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + "m"; if (s >= 60) return Math.floor(s / 60) + "m " + String(s % 60).padStart(2, "0") + "s"; return s + "s"; }
