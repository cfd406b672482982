const MAX_BARS = 5000;
let bars = [];
let lastSeq = 0;
// Each worker's host, and the hosts in order (from the snapshot).
let hostOf = new Map();
let hostOrder = new Map();
function renderCounts(s) {
  showAge(s);
  hostOf = new Map(s.workers.map(w => [w.rank, w.host]));
  hostOrder = new Map((s.hosts || []).map((h, i) => [h.host, i]));
  setText("count-done", s.done_total);
  setText("count-erred", s.erred_total);
  setText("count-processing", s.states.processing);
  setText("count-ready", s.states.ready);
  setText("count-waiting", s.states.waiting);
  setText("count-memory", s.states.memory);
  const fb = document.querySelector("#functions tbody");
  fb.replaceChildren(...s.functions.map(f => {
    const st = f.states;
    const total = st.memory + st.processing + st.ready + st.waiting + st.erred;
    const tr = el("tr", { "data-function": f.label });
    tr.append(el("td", {}, f.label));
    const track = el("div", { class: "track" });
    for (const [cls, n] of [["memory", st.memory], ["erred", st.erred], ["processing", st.processing], ["waiting", st.ready + st.waiting]]) {
      track.append(el("span", { class: cls, style: "width:" + (total ? 100 * n / total : 0) + "%" }));
    }
    const td = el("td"); td.append(track); tr.append(td);
    for (const n of [st.memory, st.processing, st.ready + st.waiting, st.erred]) tr.append(el("td", {}, n));
    return tr;
  }));
  const mb = document.querySelector("#memory tbody");
  mb.replaceChildren(...s.workers.map(w => {
    const tr = el("tr", { "data-rank": w.rank });
    tr.append(el("td", {}, w.rank + " (" + w.host + ")"));
    tr.append(el("td", {}, bytes(w.memory_used) + " in " + w.held + " results"));
    const track = el("div", { class: "track", title: bytes(w.memory_limit) + " limit" });
    track.append(el("span", { class: "memory", style: "width:" + Math.min(100, 100 * w.memory_used / Math.max(1, w.memory_limit)) + "%" }));
    const td = el("td"); td.append(track); tr.append(td);
    tr.append(el("td", { class: "cpu" }, cpu(w)));
    return tr;
  }));
}
function addBars(more) {
  for (const b of more) { bars.push(b); lastSeq = Math.max(lastSeq, b.seq); }
  if (bars.length > MAX_BARS) bars = bars.slice(bars.length - MAX_BARS);
}
function renderStream() {
  const svg = document.getElementById("stream");
  const ns = "http://www.w3.org/2000/svg";
  const lanes = [];
  const byWorker = new Map();
  const sorted = bars.slice().sort((a, b) => a.start_ms - b.start_ms);
  const placed = sorted.map(b => {
    if (!byWorker.has(b.worker)) byWorker.set(b.worker, []);
    const ends = byWorker.get(b.worker);
    let i;
    if (b.thread !== null && b.thread !== undefined) {
      // From task events: the executor thread is the lane.
      i = b.thread;
      while (ends.length <= i) ends.push(0);
    } else {
      // Start times are estimated (arrival less run time): allow a little overlap.
      const slack = Math.max(1, 0.05 * (b.stop_ms - b.start_ms));
      i = ends.findIndex(e => e <= b.start_ms + slack);
      if (i < 0) { i = ends.length; ends.push(0); }
    }
    ends[i] = Math.max(ends[i], b.stop_ms);
    return [b, i];
  });
  // Lanes host by host, then by worker rank: the workers of one host are
  // neighbours, labelled on the left with their rank and host.
  const host = w => hostOf.has(w) ? hostOf.get(w) : "?";
  const hostRank = w => hostOrder.has(host(w)) ? hostOrder.get(host(w)) : hostOrder.size;
  const workers = [...byWorker.keys()].sort((a, b) => (hostRank(a) - hostRank(b)) || (a - b));
  let lane = 0;
  const laneOf = new Map();
  for (const w of workers) {
    laneOf.set(w, lane);
    lane += byWorker.get(w).length;
  }
  const t0 = sorted.length ? Math.min(...sorted.map(b => b.start_ms)) : 0;
  const t1 = sorted.length ? Math.max(...sorted.map(b => b.stop_ms)) : 1;
  const full = svg.clientWidth || 1000, height = 220, h = height / Math.max(1, lane);
  const gutter = 150, width = Math.max(100, full - gutter);
  svg.setAttribute("viewBox", "0 0 " + full + " " + height);
  const labels = laneLabels(workers, laneOf, byWorker, host, h, ns);
  svg.replaceChildren(...labels, ...placed.map(([b, i]) => {
    const r = document.createElementNS(ns, "rect");
    r.setAttribute("class", "bar");
    r.setAttribute("data-key", b.key);
    r.setAttribute("x", gutter + (b.start_ms - t0) / Math.max(1e-3, t1 - t0) * width);
    r.setAttribute("width", Math.max(1, (b.stop_ms - b.start_ms) / Math.max(1e-3, t1 - t0) * width));
    r.setAttribute("y", (laneOf.get(b.worker) + i) * h);
    r.setAttribute("height", Math.max(1, h - 1));
    r.setAttribute("fill", b.erred ? "#b01010" : "hsl(" + (40 + hue(b.function) % 280) + ",55%,55%)");
    const title = document.createElementNS(ns, "title");
    title.textContent = b.function + " " + b.key + " on worker " + b.worker + " (" + host(b.worker) + ")" +
      (b.thread !== null && b.thread !== undefined ? " thread " + b.thread : "") + ": " +
      (b.start_ms / 1000).toFixed(3) + " s to " + (b.stop_ms / 1000).toFixed(3) + " s" + (b.erred ? " (erred)" : "");
    r.append(title);
    return r;
  }));
  setText("stream-count", bars.length);
}
// The labels left of the lanes: "worker 2 · node1" at each worker's lanes
// where they are tall enough to read, else the host at its workers' lanes
// ("node1 · workers 2, 5", or "node1 · 16 workers"); a line between hosts.
function laneLabels(workers, laneOf, byWorker, host, h, ns) {
  const out = [];
  const text = (y, size, s, attrs) => {
    const t = document.createElementNS(ns, "text");
    for (const [k, v] of Object.entries(attrs)) t.setAttribute(k, v);
    t.setAttribute("x", 4);
    t.setAttribute("y", y + size);
    t.setAttribute("font-size", size);
    t.textContent = s;
    out.push(t);
  };
  const groups = [];
  for (const w of workers) {
    const g = groups.length ? groups[groups.length - 1] : null;
    if (g && g.host === host(w)) g.workers.push(w); else groups.push({ host: host(w), workers: [w] });
  }
  const perWorker = workers.every(w => byWorker.get(w).length * h >= 9);
  for (const [gi, g] of groups.entries()) {
    const top = laneOf.get(g.workers[0]) * h;
    if (gi > 0) {
      const line = document.createElementNS(ns, "line");
      line.setAttribute("class", "host-edge");
      line.setAttribute("x1", 0); line.setAttribute("x2", "100%");
      line.setAttribute("y1", top); line.setAttribute("y2", top);
      out.push(line);
    }
    if (perWorker) {
      for (const w of g.workers) {
        const size = Math.min(11, byWorker.get(w).length * h - 1);
        text(laneOf.get(w) * h, size, "worker " + w + " · " + g.host, { class: "lane", "data-worker": w, "data-host": g.host });
      }
    } else {
      const lanes = g.workers.reduce((n, w) => n + byWorker.get(w).length, 0);
      if (lanes * h >= 9) {
        const n = g.workers.length;
        const ranks = n === 1 ? "worker " + g.workers[0] : n <= 4 ? "workers " + g.workers.join(", ") : n + " workers";
        text(top, Math.min(11, lanes * h - 1), g.host + " · " + ranks, { class: "lane-host", "data-host": g.host });
      }
    }
  }
  return out;
}
renderCounts(INITIAL.snapshot);
addBars(INITIAL.stream.bars);
renderStream();
poll(1000, () => Promise.all([
  api("/api/snapshot").then(renderCounts),
  api("/api/stream?since=" + lastSeq).then(s => { addBars(s.bars); renderStream(); }),
]));
