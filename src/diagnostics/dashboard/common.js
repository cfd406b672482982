"use strict";
const tokenQuery = (() => {
  const t = new URLSearchParams(location.search).get("token");
  return t ? "token=" + encodeURIComponent(t) : "";
})();
function api(path) {
  const sep = path.includes("?") ? "&" : "?";
  return fetch(tokenQuery ? path + sep + tokenQuery : path, { cache: "no-store" })
    .then(r => r.ok ? r.json() : Promise.reject(r.status));
}
function bytes(n) {
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}
function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
function cpu(w) { return w.cpu_percent === null || w.cpu_percent === undefined ? "…" : w.cpu_percent.toFixed(0) + "%"; }
function setText(id, v) { const e = document.getElementById(id); if (e) e.textContent = v; }
function hue(label) {
  let h = 0;
  for (const c of label) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return h % 360;
}
function showAge(snapshot) {
  setText("age", snapshot.running ? "live, scheduler time " + (snapshot.at_ms / 1000).toFixed(1) + " s"
                                  : "waiting for workers");
}
function poll(every, f) {
  const tick = () => f().catch(e => setText("age", "no answer (" + e + ")")).finally(() => setTimeout(tick, every));
  setTimeout(tick, every);
}
