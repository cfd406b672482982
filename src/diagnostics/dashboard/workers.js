function renderWorkers(s) {
  showAge(s);
  const hosts = s.hosts || [];
  const hb = document.querySelector("#hosts tbody");
  hb.replaceChildren(...hosts.map(h => {
    const tr = el("tr", { "data-host": h.host, "data-ranks": h.ranks.join(" ") });
    for (const v of [h.host, h.ranks.length + " (" + h.ranks.join(", ") + ")", h.threads, bytes(h.memory_limit), bytes(h.memory_used), h.running, h.queued, h.done, h.erred, cpu(h)]) {
      tr.append(el("td", {}, v));
    }
    return tr;
  }));
  setText("scheduler-host", s.scheduler_host || "?");
  // Host by host (in the hosts table's order), by rank within a host.
  const order = new Map(hosts.map((h, i) => [h.host, i]));
  const workers = s.workers.slice().sort((a, b) => (order.get(a.host) - order.get(b.host)) || (a.rank - b.rank));
  const tb = document.querySelector("#workers tbody");
  tb.replaceChildren(...workers.map(w => {
    const tr = el("tr", { "data-rank": w.rank, "data-host": w.host });
    for (const v of [w.rank, w.host, w.pid, w.threads, bytes(w.memory_limit), bytes(w.memory_used), w.running, w.queued, w.done, w.erred, cpu(w)]) {
      tr.append(el("td", {}, v));
    }
    return tr;
  }));
}
renderWorkers(INITIAL.snapshot);
poll(1000, () => api("/api/snapshot").then(renderWorkers));
