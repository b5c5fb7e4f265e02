// Shared helpers: the CSRF token for scripted requests, live counts, job progress.
"use strict";
const Solas = {
  csrf() { return document.querySelector('meta[name="csrf-token"]').content; },
  async post(url, data) {
    const body = new URLSearchParams(data);
    const r = await fetch(url, {method: "POST", body, headers: {"X-CSRF-Token": Solas.csrf()},
                                credentials: "same-origin"});
    return r.json();
  },
  el(tag, attrs = {}, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  },
};

// Pages with live counts poll /status.json.
(function counts() {
  const box = document.getElementById("counts");
  if (!box || !box.dataset.url) return;
  setInterval(async () => {
    try {
      const data = await (await fetch(box.dataset.url)).json();
      for (const node of box.querySelectorAll("[data-count]")) {
        const v = data[node.dataset.count];
        if (v !== undefined && v !== null) node.textContent = v;
      }
    } catch (e) { /* keep the last values */ }
  }, 5000);
})();

// Watchlist pages poll their job's progress until it is ready or failed.
(function progress() {
  const box = document.getElementById("progress");
  if (!box) return;
  const finished = s => s === "ready" || s === "failed";
  if (finished(box.dataset.state)) return;
  const timer = setInterval(async () => {
    const p = await (await fetch(box.dataset.url)).json();
    const bar = box.querySelector("progress");
    bar.max = p.total || Math.max(p.done, 1);
    bar.value = p.done || 0;
    box.querySelector(".state").textContent = p.state;
    box.querySelector(".cones").textContent = p.cones || 0;
    box.querySelector(".hits").textContent = p.hits || 0;
    if (finished(p.state)) { clearInterval(timer); location.reload(); }
  }, 1000);
})();

// Forms marked data-confirm ask before they submit (no inline handlers: the CSP forbids them).
document.addEventListener("submit", e => {
  const form = e.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !confirm(form.dataset.confirm)) {
    e.preventDefault();
  }
});
