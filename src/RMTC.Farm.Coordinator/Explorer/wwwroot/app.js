// RMTC Explorer: plain DOM, no framework, nothing fetched but this coordinator's own /explorer/api.
// Text from runs (names, paths, users) is only ever set as text nodes, never as HTML.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const main = document.getElementById("main");
const params = new URLSearchParams(location.search);

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    // Styles through the CSSOM: the Content-Security-Policy refuses a style attribute, not a property set in script.
    if (k === "class") el.className = v; else if (k === "style") el.style.cssText = v; else if (k.startsWith("on")) el.addEventListener(k.slice(2), v); else el.setAttribute(k, v);
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) el.setAttribute(k, v);
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
  return el;
}
const short = d => d ? d.slice(0, 12) + "…" : "";
const digest = (d, href) => d ? h("a", { class: "digest", href: href || "lineage.html?digest=" + d, title: d }, short(d)) : h("span", { class: "muted" }, "—");
// ISO 8601 in the viewer's zone, the zone written out: "2026-12-07 05:02:02 UTC+01:00".
const when = t => {
  if (!t) return "—";
  const d = new Date(t), off = -d.getTimezoneOffset(), p = n => String(Math.trunc(n)).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} UTC${off < 0 ? "−" : "+"}${p(Math.abs(off) / 60)}:${p(Math.abs(off) % 60)}`;
};
const plural = (n, one, many) => `${n} ${n === 1 ? one : many || one + "s"}`;
const stateEl = st => h("span", { class: "state-" + st }, st);
function kv(pairs) { return h("dl", { class: "kv" }, pairs.filter(p => p).flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "—")])); }

async function api(path) {
  const r = await fetch("api/" + path);
  const body = await r.json().catch(() => ({ error: r.status + " " + r.statusText }));
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}
function fail(e) { main.replaceChildren(h("p", { class: "error", id: "error" }, e.message)); }
function done(...nodes) { main.replaceChildren(...nodes.flat(Infinity).filter(n => n !== null && n !== undefined && n !== false)); document.body.dataset.ready = "true"; }

// ---- runs list: filters, order and paging are done by the coordinator; the URL holds them, so a view can be shared.
const RUN_FILTERS = ["q", "user", "state", "show", "dataset", "recipe", "from", "to", "sort", "order", "page"];
async function runsPage() {
  const f = RUN_FILTERS.reduce((o, k) => (o[k] = params.get(k) || "", o), {});
  const query = new URLSearchParams(Object.entries(f).filter(([, v]) => v)).toString();
  const { runs, total, page, pages } = await api("runs" + (query ? "?" + query : ""));
  const link = changes => "?" + new URLSearchParams(Object.entries({ ...f, ...changes }).filter(([, v]) => v)).toString();
  const form = h("form", { class: "filters" },
    h("input", { name: "q", placeholder: "run name or id", value: f.q }),
    h("input", { name: "user", placeholder: "submitted by", value: f.user }),
    h("select", { name: "state" }, ["", "queued", "running", "succeeded", "failed", "cancelled"].map(v => h("option", { value: v, selected: v === f.state }, v || "any state"))),
    h("input", { name: "show", placeholder: "show", value: f.show }),
    h("input", { name: "dataset", placeholder: "dataset", value: f.dataset }),
    h("input", { name: "recipe", placeholder: "recipe", value: f.recipe }),
    h("label", {}, "from ", h("input", { name: "from", type: "date", value: f.from })),
    h("label", {}, "to ", h("input", { name: "to", type: "date", value: f.to })),
    h("input", { type: "hidden", name: "sort", value: f.sort }), h("input", { type: "hidden", name: "order", value: f.order }),
    h("button", { type: "submit" }, "Filter"));
  // A column heading sorts by it; a second click turns the order round.
  const sorted = f.sort || "submitted";
  const heading = (label, key) => key
    ? h("th", {}, h("a", { class: "sort", href: link({ sort: key, order: sorted === key && (f.order || (key === "submitted" ? "desc" : "asc")) === "asc" ? "desc" : "asc", page: "" }) }, label, sorted === key ? (f.order === "asc" || (!f.order && key !== "submitted") ? " ▲" : " ▼") : ""))
    : h("th", {}, label);
  const rows = runs.map(r => h("tr", { "data-run": r.runId },
    h("td", {}, h("a", { class: "run-link", href: "run.html?id=" + r.runId }, r.name), h("div", { class: "digest muted" }, r.runId)),
    h("td", {}, stateEl(r.state)), h("td", {}, r.show || h("span", { class: "muted" }, "—")), h("td", {}, r.submittedBy), h("td", {}, when(r.submittedAt)),
    h("td", {}, r.recipe), h("td", {}, r.dataset), h("td", {}, r.licence), h("td", {}, `${r.rounds}/${r.plannedRounds ?? "?"}`), h("td", {}, digest(r.model))));
  // The count and the page links above the table (what a supervisor reads first) and again below it.
  const pagerOf = id => h("p", { id, class: "pager" }, `${plural(total, "run")} · page ${page} of ${pages} `,
    page > 1 ? h("a", { href: link({ page: String(page - 1) }) }, "← previous") : null, " ",
    page < pages ? h("a", { href: link({ page: String(page + 1) }) }, "next →") : null);
  const pager = pagerOf("pager");
  done(h("h1", {}, "Runs"), form,
    runs.length ? [pagerOf("pager-top"), h("table", { id: "runs" }, h("tr", {}, heading("Run", "name"), heading("State", "state"), heading("Show"), heading("By"), heading("Submitted", "submitted"),
      heading("Recipe", "recipe"), heading("Dataset", "dataset"), heading("Licence"), heading("Rounds"), heading("Model")), rows), pager]
      : h("p", { class: "muted" }, "No runs match. Submit one with `rmtc submit JOB.yaml`, or run `rmtc demo --explore`."));
}

// ---- run page
// One chart per quantity, its axes titled: x the round, y what is measured (with its unit).
function roundChart(id, title, unit, series, nRounds) {
  const all = series.flatMap(x => x.points);
  if (!all.length) return null;
  const W = 560, H = 220, L = 70, B = 42, T = 12, R = 130;
  // The axis spans the data (padded), not zero to max: late rounds often differ in the third digit.
  const hi = Math.max(...all.map(p => p.v)), lo = Math.min(...all.map(p => p.v)), pad = (hi - lo) * 0.1 || Math.abs(hi) * 0.05 || 1;
  const max = hi + pad, min = lo - pad;
  const n = Math.max(nRounds, 1);
  const x = r => L + (n === 1 ? (W - L - R) / 2 : (r - 1) * (W - L - R) / (n - 1));
  const y = v => T + (H - T - B) * (1 - (v - min) / ((max - min) || 1));
  const svg = s("svg", { width: W, height: H, id, role: "img", "aria-label": title },
    s("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#999" }), s("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#999" }),
    s("text", { x: L - 6, y: y(max) + 4, "text-anchor": "end" }, max.toPrecision(4)), s("text", { x: L - 6, y: y(min) + 4, "text-anchor": "end" }, min.toPrecision(4)),
    s("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle", class: "axis-title" }, "round"),
    s("text", { x: 14, y: (T + H - B) / 2, "text-anchor": "middle", class: "axis-title", transform: `rotate(-90 14 ${(T + H - B) / 2})` }, unit));
  for (let r = 1; r <= n; r++) svg.append(s("text", { x: x(r), y: H - B + 16, "text-anchor": "middle" }, String(r)));
  series.forEach((sr, i) => {
    if (!sr.points.length) return;
    svg.append(s("polyline", { points: sr.points.map(p => `${x(p.round)},${y(p.v)}`).join(" "), fill: "none", stroke: sr.colour, "stroke-width": 2, "stroke-dasharray": sr.dash || null }));
    for (const p of sr.points) svg.append(s("circle", { cx: x(p.round), cy: y(p.v), r: 4, fill: sr.colour, class: sr.cls }, s("title", {}, `${sr.name}, round ${p.round}: ${p.v}`)));
    svg.append(s("line", { x1: W - R + 12, y1: T + 8 + i * 18, x2: W - R + 30, y2: T + 8 + i * 18, stroke: sr.colour, "stroke-width": 2, "stroke-dasharray": sr.dash || null }),
      s("text", { x: W - R + 35, y: T + 12 + i * 18 }, sr.name));
  });
  return svg;
}

function lossChart(rounds) {
  const n = Math.max(...rounds.map(r => r.round), 1);
  const training = rounds.filter(r => r.meanLoss !== null && r.meanLoss !== undefined).map(r => ({ round: r.round, v: r.meanLoss }));
  const heldOut = rounds.filter(r => r.evaluation).map(r => ({ round: r.round, v: r.evaluation.loss }));
  return roundChart("loss-chart", "training and held-out loss per round", "loss",
    [{ name: "training (mean)", colour: "#0b62c4", points: training, cls: "training" }, { name: "held out", colour: "#e16f24", dash: "5 3", points: heldOut, cls: "held-out" }], n)
    || h("p", { class: "muted" }, "No merged round yet.");
}

// Accuracy (labelled data) or PSNR (images), whichever the run's evaluation measures; nothing without an evaluation split.
function metricChart(rounds) {
  const n = Math.max(...rounds.map(r => r.round), 1);
  const acc = rounds.filter(r => r.evaluation?.accuracy != null).map(r => ({ round: r.round, v: 100 * r.evaluation.accuracy }));
  const psnr = rounds.filter(r => r.evaluation?.psnr != null).map(r => ({ round: r.round, v: r.evaluation.psnr }));
  if (acc.length) return [h("h2", {}, "Held-out accuracy per round"), roundChart("metric-chart", "held-out accuracy per round", "accuracy (%)", [{ name: "held out", colour: "#2da44e", points: acc }], n)];
  if (psnr.length) return [h("h2", {}, "Held-out PSNR per round"), roundChart("metric-chart", "held-out PSNR per round", "PSNR (dB)", [{ name: "held out", colour: "#2da44e", points: psnr }], n)];
  return null;
}

function taskLabel(t) { return t.kind === "prepare" ? "prep" : "eval r" + t.round; }
function taskName(t) { return t.kind === "prepare" ? "preparation" : "evaluation of round " + t.round; }

function timeline(rounds, tasks) {
  const attempts = rounds.flatMap(r => r.attempts.map(a => ({ ...a, round: r.round, label: `r${r.round}s${a.shard}`, what: `round ${r.round} shard ${a.shard}` })))
    .concat((tasks || []).flatMap(t => t.attempts.map(a => ({ ...a, label: taskLabel(t), what: taskName(t) }))));
  if (!attempts.length) return h("p", { class: "muted" }, "No shard attempts yet.");
  const agents = [...new Set(attempts.map(a => a.agent))].sort();
  const t0 = Math.min(...attempts.map(a => Date.parse(a.startedAt)));
  const t1 = Math.max(...attempts.map(a => Date.parse(a.endedAt || a.startedAt)), t0 + 1);
  const W = 900, L = 130, row = 26, H = agents.length * row + 30;
  const x = t => L + (W - L - 10) * (t - t0) / (t1 - t0);
  // killed: stopped by a wrangler and queued again; retried: a result taken back out of the round to train again.
  const colour = { succeeded: "#2da44e", failed: "#cf222e", expired: "#bf8700", refused: "#8250df", cancelled: "#8c959f", running: "#0b62c4", preempted: "#e16f24", killed: "#953800", retried: "#57606a" };
  const svg = s("svg", { width: W, height: H, id: "timeline", role: "img", "aria-label": "shard attempts per agent" });
  agents.forEach((ag, i) => svg.append(s("text", { x: 4, y: i * row + 18 }, ag)));
  for (const a of attempts) {
    const i = agents.indexOf(a.agent), x0 = x(Date.parse(a.startedAt)), x1 = x(Date.parse(a.endedAt || a.startedAt));
    svg.append(s("g", {}, s("rect", { x: x0, y: i * row + 5, width: Math.max(3, x1 - x0), height: row - 8, fill: colour[a.outcome] || "#999" }),
      s("title", {}, `${a.what} attempt ${a.attempt}: ${a.outcome}${a.stoppedBy ? " by " + a.stoppedBy : ""}${a.error ? " (" + a.error + ")" : ""}, ${((Date.parse(a.endedAt || a.startedAt) - Date.parse(a.startedAt)) / 1000).toFixed(1)} s`),
      x1 - x0 > 40 ? s("text", { x: x0 + 3, y: i * row + 18, fill: "#fff" }, a.label) : null));
  }
  // The end label ends where the last bar ends.
  svg.append(s("text", { x: L, y: H - 6 }, "0 s"), s("text", { x: x(t1), y: H - 6, "text-anchor": "end" }, ((t1 - t0) / 1000).toFixed(1) + " s"));
  return svg;
}

function heldOut(e) {
  if (!e) return "—";
  const metric = e.accuracy != null ? `, accuracy ${(100 * e.accuracy).toFixed(1)} %` : e.psnr != null ? `, PSNR ${e.psnr.toFixed(2)} dB` : "";
  return `loss ${e.loss.toFixed(5)}${metric} (${e.samples} samples)`;
}

function closureTable(c) {
  if (!c) return h("p", { class: "muted" }, "No licence closure recorded (manifest from before closures).");
  return h("div", { id: "closure" }, kv([["Licences", c.licences.join(", ")], ["Owners", c.owners.join(", ")], ["Consent", c.consents.join(", ")], ["Sources", c.sources.join(", ")]]),
    Object.keys(c.rights).length ? h("table", {}, h("tr", {}, h("th", {}, "CAWG assertion"), h("th", {}, "Decision (most restrictive)")),
      Object.entries(c.rights).map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", {}, v)))) : null);
}

function verification(v) {
  return h("span", { id: "verification", class: v.intact ? "ok" : "bad" },
    v.intact ? `chain intact (${v.events} events${v.sealed ? ", sealed" : ", not sealed yet"})` : "chain BROKEN: " + v.problems.join("; "));
}

async function runPage() {
  const id = params.get("id");
  if (!id) throw new Error("no run given: open a run from the runs list");
  const r = await api("runs/" + encodeURIComponent(id));
  done(h("h1", {}, "Run ", r.name, " ", stateEl(r.state)),
    h("div", { class: "card" }, kv([["Run id", h("code", {}, r.runId)], ["Submitted", `${when(r.submittedAt)} by ${r.submittedBy}`], ["Finished", when(r.finishedAt)],
      r.error ? ["Error", h("span", { class: "error" }, r.error)] : null,
      ["Recipe", r.recipe], r.modelFile ? ["Model file", h("span", { id: "model-file" }, `${r.modelFile.file} (licence ${r.modelFile.licence}${r.modelFile.origin ? "; " + r.modelFile.origin : ""}) `, digest(r.modelFile.digest))] : null,
      ["Dataset", h("span", {}, `${r.dataset} (${r.datasetSamples} samples, ${r.datasetLicence}) `, digest(r.datasetDigest))],
      ["Initial weights", digest(r.initialWeights)],
      ["Model", r.model ? h("span", {}, h("a", { id: "model-lineage", class: "digest", href: "lineage.html?digest=" + r.model, title: r.model }, r.model), " · ", h("a", { id: "report-link", href: "report.html?run=" + r.runId }, "provenance report")) : "not yet"],
      ["Verification", verification(r.verification)]])),
    h("h2", {}, "Loss per round"), lossChart(r.rounds), metricChart(r.rounds),
    h("h2", {}, "Shard and task attempts per agent"), h("div", { class: "graph" }, timeline(r.rounds, r.tasks)),
    h("h2", {}, "Rounds and merged digests"),
    h("table", { id: "rounds" }, h("tr", {}, ["Round", "Mean loss", "Held out", "Merge", "Input", "Merged results", "Output"].map(t => h("th", {}, t))),
      r.rounds.map(x => h("tr", {}, h("td", {}, x.round), h("td", {}, x.meanLoss?.toFixed(5) ?? "—"), h("td", {}, heldOut(x.evaluation)), h("td", {}, x.strategy), h("td", {}, digest(x.input)),
        h("td", {}, x.merged.map(m => h("div", {}, digest(m)))), h("td", {}, digest(x.output))))),
    h("h2", {}, "Licence closure"), closureTable(r.licenceClosure),
    r.derivations.length ? [h("h2", {}, "Exports and inferences"), h("table", {}, h("tr", {}, ["Kind", "Format", "Variant", "Outputs", "By", "At"].map(t => h("th", {}, t))),
      r.derivations.map(d => h("tr", {}, h("td", {}, d.kind), h("td", {}, d.format), h("td", {}, digest(d.variant)), h("td", {}, d.outputs.map(o => h("div", {}, digest(o)))), h("td", {}, d.by), h("td", {}, when(d.at)))))] : null);
}

// ---- lineage graph
const COLUMNS = ["inference", "export", "model", "run", "round", "shard", "dataset", "licence"];
function column(kind) { return COLUMNS.indexOf(kind === "weights" ? "shard" : kind === "asset" ? "licence" : kind); }

function detailCard(n) {
  const d = n.detail || {};
  const rows = Object.entries(d).filter(([k]) => k !== "rights" && k !== "runId").map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : typeof v === "object" && v !== null ? JSON.stringify(v) : String(v ?? "—")]);
  const rights = d.rights && Object.keys(d.rights).length ? h("table", {}, h("tr", {}, h("th", {}, "CAWG"), h("th", {}, "decision")), Object.entries(d.rights).map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", {}, v)))) : null;
  return h("div", { class: "card detail", id: "detail", "data-kind": n.kind },
    h("h2", {}, n.label), n.digest ? h("div", { class: "digest" }, n.digest) : null, kv(rows), rights,
    h("p", {}, n.href ? h("a", { id: "detail-open", href: n.href }, n.kind === "asset" ? "impact of withdrawing this asset" : n.kind === "run" ? (n.digest || n.detail ? "show its rounds and shard results" : "open") : "lineage of this node") : null,
      d.runId ? [" · ", h("a", { href: "report.html?run=" + d.runId }, "provenance report")] : null,
      n.kind === "dataset" && n.digest ? [" · ", h("a", { href: "./?dataset=" + encodeURIComponent(n.label.replace(/^dataset /, "").split(" ")[0]) }, "runs on this dataset")] : null));
}

async function lineagePage() {
  const d = params.get("digest");
  if (!d) throw new Error("no digest given: open a model, dataset or asset from a run page");
  const g = await api("lineage/" + encodeURIComponent(d) + "?" + new URLSearchParams([...params].filter(([k]) => k !== "digest")).toString());
  const all = COLUMNS.map(() => []);
  for (const n of g.nodes) all[column(n.kind)].push(n);
  // Only columns that hold nodes: a model with no exports starts at the model.
  const names = COLUMNS.filter((_, i) => all[i].length), cols = all.filter(c => c.length);
  const NW = 190, NH = 30, GX = 28, GY = 12, pos = {};
  const rows = Math.max(1, ...cols.map(c => c.length));
  const W = cols.length * (NW + GX), H = rows * (NH + GY) + 40;
  const fill = { inference: "#fbefff", export: "#fff8c5", model: "#dafbe1", run: "#e7ecf9", round: "#ddf4ff", shard: "#eef1f4", weights: "#eef1f4", dataset: "#ffebe9", licence: "#fff1e5", asset: "#f6f8fa" };
  const svg = s("svg", { width: W, height: H, id: "lineage-graph", role: "img", "aria-label": "lineage graph" });
  names.forEach((c, i) => svg.append(s("text", { x: i * (NW + GX) + 4, y: 14, fill: "#667" }, c === "shard" ? "shard results / initial weights" : c === "licence" ? "licence / assets" : c)));
  cols.forEach((c, i) => c.forEach((n, j) => pos[n.id] = { x: i * (NW + GX) + 2, y: 24 + j * (NH + GY) + (rows - c.length) * (NH + GY) / 2 }));
  for (const e of g.edges) {
    const a = pos[e.from], b = pos[e.to]; if (!a || !b) continue;
    const path = a.x === b.x ? `M${a.x + NW},${a.y + NH / 2} C${a.x + NW + 30},${a.y + NH / 2} ${b.x + NW + 30},${b.y + NH / 2} ${b.x + NW},${b.y + NH / 2}`
      : `M${a.x + NW},${a.y + NH / 2} C${a.x + NW + GX / 2},${a.y + NH / 2} ${b.x - GX / 2},${b.y + NH / 2} ${b.x},${b.y + NH / 2}`;
    svg.append(s("path", { class: "edge", d: path }));
  }
  const side = h("div", {}, h("p", { class: "muted" }, "Select a node to see its digest, licence and CAWG decisions."));
  for (const n of g.nodes) {
    const p = pos[n.id];
    const node = s("g", { class: "node" + (n.focus ? " focus" : ""), "data-kind": n.kind, "data-id": n.id, transform: `translate(${p.x},${p.y})`, tabindex: 0 },
      s("rect", { width: NW, height: NH, fill: fill[n.kind] || "#fff" }), s("text", { x: 6, y: 19, class: "label" }, n.label), s("title", {}, n.label + (n.digest ? "\n" + n.digest : "")));
    node.addEventListener("click", () => { svg.querySelectorAll(".selected").forEach(x => x.classList.remove("selected")); node.classList.add("selected"); side.replaceChildren(detailCard(n)); });
    svg.append(node);
  }
  const pager = g.pages > 1 ? [" · page ", g.page, " of ", g.pages, " ", g.previous ? h("a", { href: g.previous }, "← newer runs") : null, " ", g.next ? h("a", { href: g.next }, "older runs →") : null] : null;
  done(h("h1", {}, "Lineage of ", h("code", {}, g.digest)),
    h("p", { id: "run-count" }, h("strong", {}, plural(g.totalRuns, "run")), pager,
      g.totalRuns > 1 ? h("span", { class: "muted" }, " · each run is one node: select it, then open its rounds and shard results") : null),
    // A few runs are listed by name too; many are their nodes (a list of hundreds reads as a wall).
    g.totalRuns <= 5 ? h("p", {}, g.runs.map((r, i) => [i ? ", " : "", h("a", { href: "run.html?id=" + r.runId }, r.runId), " (", r.name, ", ", stateEl(r.state), ")"])) : null,
    h("div", { class: "layout" }, h("div", { class: "graph" }, svg), side));
  // Labels are cut to their box as drawn, never spilling over it: the full text is in the node's tooltip and card.
  for (const t of svg.querySelectorAll("text.label")) {
    const full = t.textContent;
    for (let n = full.length; n > 1 && t.getComputedTextLength() > NW - 12; n--) t.textContent = full.slice(0, n - 1) + "…";
  }
  const focus = g.nodes.find(n => n.focus); if (focus) svg.querySelector(`[data-id="${CSS.escape(focus.id)}"]`)?.dispatchEvent(new Event("click"));
}

// ---- impact view
async function impactPage() {
  const a = params.get("asset");
  if (!a) throw new Error("no asset given: open an asset from a lineage graph or a provenance report");
  const r = await api("impact/" + encodeURIComponent(a));
  done(h("h1", {}, "Impact of withdrawing asset ", h("code", {}, short(r.asset))),
    h("p", {}, h("span", { class: "digest" }, r.asset), " — ", h("strong", { id: "affected-count" }, `${r.affected.length} model${r.affected.length === 1 ? "" : "s"} affected`)),
    r.affected.map(x => h("div", { class: "card affected", "data-run": x.runId },
      h("h2", {}, h("a", { href: "run.html?id=" + x.runId }, x.name), " ", stateEl(x.state)),
      kv([["Run id", h("code", { class: "run-id" }, x.runId)], ["Asset path", x.assetPath], ["Dataset", x.dataset], ["Model", digest(x.model)]]),
      h("p", {}, "Retrain without this asset: save the spec as ", h("code", {}, x.specFile), " (", h("a", { href: x.specHref, download: x.specFile }, "download"), "), then run"),
      h("pre", { class: "command" }, x.command), h("details", {}, h("summary", {}, "retrain spec"), h("pre", {}, x.retrainSpec)))));
}

// ---- provenance report (prints cleanly: see @media print in app.css)
async function reportPage() {
  const id = params.get("run");
  if (!id) throw new Error("no run given: open the report from a run page");
  const [r, { assets }] = await Promise.all([api("runs/" + encodeURIComponent(id)), api("runs/" + encodeURIComponent(id) + "/assets")]);
  const full = x => h("code", {}, x ?? "—");
  const field = (id, x) => h("code", { id }, x || "—");
  // A list of digests: one per line, numbered, so a reader can point at one ("merged result 3").
  const digests = (list, what) => h("ol", { class: "digests" }, list.map(d => h("li", { title: what }, h("code", {}, d))));
  // Every printed page names the run and its page number (CSS page-margin boxes; set through the CSSOM, which the
  // Content-Security-Policy allows where an inline style would not be).
  const css = v => '"' + String(v).replace(/[\\"]/g, "\\$&").replace(/[\n\r]/g, " ") + '"';
  document.styleSheets[0].insertRule(`@page { @top-left { content: ${css("Provenance report · run " + r.runId)}; } }`, document.styleSheets[0].cssRules.length);
  done(h("h1", {}, "Provenance report: ", r.name),
    h("p", { class: "no-print" }, h("button", { onclick: () => print() }, "Print / save as PDF")),
    h("p", { class: "muted" }, `Generated ${when(new Date().toISOString())} from the coordinator's lineage store.`),
    h("h2", {}, "Summary"), kv([["Model sha256", full(r.model)], ["Run", full(r.runId)], ["State", r.state], ["Submitted", `${when(r.submittedAt)} by ${r.submittedBy}`], ["Finished", when(r.finishedAt)],
      ["Recipe", r.recipe], ["Initial weights", full(r.initialWeights)], ["Event chain", verification(r.verification)]]),
    // A reviewer reads the rights decision first: what the model was trained from and on what terms.
    h("h2", {}, "Licence closure (everything the model was trained from)"), closureTable(r.licenceClosure),
    Object.keys(r.datasetRights).length ? h("table", {}, h("tr", {}, h("th", {}, "CAWG assertion"), h("th", {}, "Dataset decision")), Object.entries(r.datasetRights).map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", {}, v)))) : null,
    h("h2", {}, "Dataset"), kv([["Name", r.dataset], ["Path", r.datasetPath], ["sha256", full(r.datasetDigest)], ["Samples", r.datasetSamples], ["Licence", r.datasetLicence], ["Owner", r.datasetOwner], ["Consent", r.datasetConsent],
      ["Excluded assets", r.spec?.excludeAssets?.length ? r.spec.excludeAssets.join(", ") : "none"]]),
    h("h2", {}, "Code"), kv([["rmtc version", field("code-rmtc", r.code?.rmtcVersion)], ["Runtime", field("code-runtime", r.code?.runtime)], ["OS", field("code-os", r.code?.os)],
      ["TorchSharp version", field("code-torchsharp", r.code?.torchSharpVersion)],
      ...(r.modelFile ? [["Model file (TorchScript)", r.modelFile.file], ["Model file sha256", field("code-model", r.modelFile.digest)],
        ["Model file licence", r.modelFile.licence], ["Model file origin", r.modelFile.origin || "—"]] : [])]),
    // Seeds arrive as strings of digits (JSON numbers would lose digits past 2^53 in JavaScript) and are shown as sent.
    h("h2", {}, "Seeds"), kv([["Run seed (job spec)", field("seed-run", r.seeds?.run)], ["Initial weights seed", field("seed-init", r.seeds?.init)],
      ["Shard plan seed", field("seed-shard-plan", r.seeds?.shardPlan)]]),
    // Per round, what a reader compares (losses, seeds, which results were merged, by short digest); every digest in
    // full is in the appendix, one per line.
    h("h2", {}, "Rounds"), h("table", { id: "report-rounds" }, h("tr", {}, ["Round", "Mean loss", "Held out", "Shard seeds", "Merged results", "Output"].map(t => h("th", {}, t))),
      r.rounds.map(x => h("tr", { "data-round": x.round }, h("td", {}, x.round), h("td", {}, x.meanLoss?.toFixed(6) ?? "—"), h("td", {}, heldOut(x.evaluation)),
        h("td", {}, (x.shards || []).map(p => h("div", {}, `shard ${p.shard}: `, h("code", { class: "shard-seed", "data-shard": p.shard }, p.seed)))),
        h("td", {}, digests(x.merged.map(m => m.slice(0, 16) + "…"), "merged result")), h("td", {}, h("code", { title: x.output }, (x.output || "—").slice(0, 16) + (x.output ? "…" : "")))))),
    r.derivations.length ? [h("h2", {}, "Exports and inferences"), h("table", {}, h("tr", {}, ["Kind", "Variant", "Inputs", "Outputs", "By", "At"].map(t => h("th", {}, t))),
      r.derivations.map(d => h("tr", {}, h("td", {}, d.kind + " " + d.format), h("td", {}, full(d.variant)), h("td", {}, d.inputs.map(i => h("div", {}, full(i)))), h("td", {}, d.outputs.map(o => h("div", {}, full(o)))), h("td", {}, d.by), h("td", {}, when(d.at)))))] : null,
    // Signed where the findings end, before the appendix: a long source list must not push the signature to its end.
    h("div", { class: "print-only sign-off", id: "sign-off" }, h("h2", {}, "Review"),
      h("p", {}, `Run ${r.runId}, model ${r.model ?? "(none)"}`),
      h("p", {}, "Reviewed by: ______________________   Date: ____________   Decision: ____________")),
    h("h2", { class: "appendix" }, "Appendix A: every round's digests in full"), h("table", { id: "round-digests", class: "compact" }, h("tr", {}, ["Round", "Input", "Merged results", "Output"].map(t => h("th", {}, t))),
      r.rounds.map(x => h("tr", {}, h("td", {}, x.round), h("td", {}, full(x.input)), h("td", {}, digests(x.merged, "merged result")), h("td", {}, full(x.output))))),
    h("h2", {}, `Appendix B: sources (${assets.length} assets)`), h("table", { id: "assets", class: "compact" }, h("tr", {}, h("th", {}, "Path"), h("th", {}, "sha256")),
      assets.map(x => h("tr", {}, h("td", {}, x.path), h("td", {}, h("a", { class: "digest", href: "impact.html?asset=" + x.sha256 }, x.sha256))))));
}

// ---- farm view: server-sent events, no reload
function farmView(f) {
  return h("div", { id: "farm" },
    h("p", {}, `${plural(f.agentsConnected, "agent")} connected · ${plural(f.shardsQueued, "shard")} queued · ${f.shardsRunning} running · updated ${when(f.at)}`),
    h("table", { id: "agents" }, h("tr", {}, ["Agent", "Host", "Connected", "GPUs", "Running"].map(t => h("th", {}, t))),
      f.agents.map(a => h("tr", { "data-agent": a.id }, h("td", {}, a.id), h("td", {}, a.hostname), h("td", { class: a.connected ? (a.yielded ? "warn" : "ok") : "bad", title: a.yielded || "" }, a.connected ? (a.yielded ? "yielded to render" : "yes") : "no"),
        h("td", {}, a.gpus.length ? a.gpus.map(g => h("span", { class: "gpu" }, `${g.index}: ${g.name}${g.simulated ? " (simulated)" : ""} `,
          h("span", { class: "meter", title: `${g.utilisation ?? "?"} %` }, h("span", { style: `width:${g.utilisation ?? 0}%` })), ` ${g.utilisation ?? "?"} % · ${g.memoryUsedMiB ?? "?"}/${g.memoryTotalMiB ?? "?"} MiB`)) : h("span", { class: "muted" }, "none reported")),
        h("td", {}, a.running.length ? a.running.map(l => h("div", { class: "lease" }, h("a", { href: "run.html?id=" + l.runId }, l.name), ` ${l.what}`,
          l.phase ? ` · ${l.phase}` : "", l.epoch ? ` · epoch ${l.epoch}` : "",
          l.done != null ? [" ", h("span", { class: "meter", title: `${(100 * l.done).toFixed(0)} %` }, h("span", { style: `width:${(100 * l.done).toFixed(0)}%` })), ` ${(100 * l.done).toFixed(0)} %`] : "",
          ` · ${l.seconds.toFixed(0)} s`)) : h("span", { class: "muted" }, "idle"))))),
    h("h2", {}, "Live runs"), f.runs.length ? h("table", {}, h("tr", {}, ["Run", "Round", "Queued", "Running", "Done"].map(t => h("th", {}, t))),
      f.runs.map(r => h("tr", {}, h("td", {}, h("a", { href: "run.html?id=" + r.runId }, r.name)), h("td", {}, `${r.round}/${r.rounds}`), h("td", {}, r.queued), h("td", {}, r.running), h("td", {}, r.done))))
      : h("p", { class: "muted" }, "No run is queued or running."));
}

async function farmPage() {
  done(h("h1", {}, "Farm"), farmView(await api("farm")));
  const events = new EventSource("api/farm/events");
  events.addEventListener("farm", e => { document.getElementById("farm").replaceWith(farmView(JSON.parse(e.data))); document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1); });
}

const pages = { runs: runsPage, run: runPage, lineage: lineagePage, impact: impactPage, report: reportPage, farm: farmPage };
(pages[document.body.dataset.page] || runsPage)().catch(e => { fail(e); document.body.dataset.ready = "error"; });
