function renderWorkers(s) {
  showAge(s);
  const tb = document.querySelector("#workers tbody");
  tb.replaceChildren(...s.workers.map(w => {
    const tr = el("tr", { "data-rank": w.rank });
    for (const v of [w.rank, w.host, w.pid, w.threads, bytes(w.memory_limit), bytes(w.memory_used), w.running, w.queued, w.done, w.erred, cpu(w)]) {
      tr.append(el("td", {}, v));
    }
    return tr;
  }));
}
renderWorkers(INITIAL.snapshot);
poll(1000, () => api("/api/snapshot").then(renderWorkers));
