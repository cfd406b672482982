function total(st) { return st.waiting + st.ready + st.processing + st.memory + st.erred; }
// Columns by the longest chain of groups leading to each (self-loops and
// cycles between groups are left out of the layering).
function layers(groups, edges) {
  const layer = new Map(groups.map(g => [g.label, 0]));
  for (let round = 0; round < groups.length; round++) {
    let moved = false;
    for (const e of edges) {
      if (e.from === e.to || !layer.has(e.from) || !layer.has(e.to)) continue;
      const want = layer.get(e.from) + 1;
      if (want > layer.get(e.to) && want < groups.length) { layer.set(e.to, want); moved = true; }
    }
    if (!moved) break;
  }
  return layer;
}
function renderGraph(s) {
  showAge(s);
  const groups = s.functions;
  const edges = s.edges;
  const layer = layers(groups, edges);
  const columns = [];
  for (const g of groups) {
    const c = layer.get(g.label);
    (columns[c] = columns[c] || []).push(g);
  }
  const boxW = 250, boxH = 58, gapX = 90, gapY = 22, pad = 16;
  const where = new Map();
  columns.forEach((col, c) => col.forEach((g, r) => where.set(g.label, [pad + c * (boxW + gapX), pad + r * (boxH + gapY)])));
  const width = Math.max(400, pad * 2 + columns.length * (boxW + gapX) - gapX);
  const height = Math.max(80, pad * 2 + Math.max(0, ...columns.map(c => c.length)) * (boxH + gapY) - gapY);
  const svg = document.getElementById("graph");
  const ns = "http://www.w3.org/2000/svg";
  const make = (tag, attrs, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  svg.setAttribute("viewBox", "0 0 " + width + " " + height);
  svg.setAttribute("height", height);
  const parts = [make("defs", {})];
  parts[0].innerHTML = '<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#778"/></marker>';
  const selfLoops = new Map();
  for (const e of edges) {
    if (!where.has(e.from) || !where.has(e.to)) continue;
    if (e.from === e.to) { selfLoops.set(e.from, e.count); continue; }
    const [x1, y1] = where.get(e.from), [x2, y2] = where.get(e.to);
    const a = [x1 + boxW, y1 + boxH / 2], b = [x2, y2 + boxH / 2];
    const g = make("g", { class: "edge", "data-from": e.from, "data-to": e.to });
    g.append(make("path", { d: "M" + a + " C" + [a[0] + gapX / 2, a[1]] + " " + [b[0] - gapX / 2, b[1]] + " " + b,
                             fill: "none", stroke: "#778", "stroke-width": 1.5, "marker-end": "url(#arrow)" }));
    g.append(make("text", { x: (a[0] + b[0]) / 2, y: (a[1] + b[1]) / 2 - 4, "text-anchor": "middle", "font-size": 11, fill: "#556" }, e.count));
    parts.push(g);
  }
  for (const gr of groups) {
    const [x, y] = where.get(gr.label);
    const st = gr.states, n = total(st);
    const g = make("g", { class: "group", "data-function": gr.label });
    g.append(make("rect", { x, y, width: boxW, height: boxH, rx: 4, fill: "#fff", stroke: "hsl(" + (40 + hue(gr.label) % 280) + ",55%,45%)", "stroke-width": 2 }));
    g.append(make("text", { x: x + 8, y: y + 18, "font-size": 13, "font-weight": "bold" }, gr.label.length > 30 ? gr.label.slice(0, 29) + "…" : gr.label));
    g.append(make("text", { x: x + 8, y: y + 34, "font-size": 11, fill: "#555" },
      n + " tasks: " + st.memory + " held, " + st.processing + " on workers, " + (st.ready + st.waiting) + " waiting" + (st.erred ? ", " + st.erred + " erred" : "")));
    let off = 0;
    for (const [colour, k] of [["#4a9d5b", st.memory], ["#d9483b", st.erred], ["#3d7cc9", st.processing], ["#bbb", st.ready + st.waiting]]) {
      const w = n ? (boxW - 16) * k / n : 0;
      if (w > 0) g.append(make("rect", { x: x + 8 + off, y: y + 42, width: w, height: 8, fill: colour }));
      off += w;
    }
    if (selfLoops.has(gr.label)) {
      g.append(make("text", { x: x + boxW - 8, y: y + 18, "font-size": 11, "text-anchor": "end", fill: "#556" }, "↻ " + selfLoops.get(gr.label)));
    }
    g.append(make("title", {}, gr.label + ": " + n + " tasks"));
    parts.push(g);
  }
  svg.replaceChildren(...parts);
  const inputs = new Map();
  for (const e of edges) {
    if (!inputs.has(e.to)) inputs.set(e.to, []);
    inputs.get(e.to).push(e.from + " (" + e.count + ")");
  }
  const tb = document.querySelector("#groups tbody");
  tb.replaceChildren(...groups.map(gr => {
    const st = gr.states;
    const tr = el("tr", { "data-group": gr.label });
    for (const v of [gr.label, total(st), st.memory, st.processing, st.ready, st.waiting, st.erred, (inputs.get(gr.label) || []).join(", ")]) {
      tr.append(el("td", {}, v));
    }
    return tr;
  }));
  const keep = document.getElementById("graph-note").dataset.keep;
  setText("graph-note", groups.length ? keep : "No computation now: the scheduler holds no task. " + keep);
}
document.getElementById("graph-note").dataset.keep = document.getElementById("graph-note").textContent;
renderGraph(INITIAL.snapshot);
poll(1000, () => api("/api/snapshot?edges=1").then(renderGraph));
