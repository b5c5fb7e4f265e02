// Live feed: one WebSocket, newest matches on top (at most 500 rows kept).
"use strict";
(function live() {
  const table = document.getElementById("live-table");
  if (!table) return;
  const state = document.getElementById("live-state");
  const body = table.querySelector("tbody");
  let delay = 500;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}${table.dataset.socket}`);
    ws.onopen = () => { state.textContent = "connected"; state.dataset.state = "open"; delay = 500; };
    ws.onclose = () => {
      state.textContent = "disconnected, reconnecting…"; state.dataset.state = "closed";
      setTimeout(connect, delay); delay = Math.min(delay * 2, 10000);
    };
    ws.onmessage = e => {
      const m = JSON.parse(e.data);
      if (m.hello) return;
      const tr = Solas.el("tr", {class: "new live-row", "data-object": m.object_key});
      tr.append(Solas.el("td", {}, m.UTC || ""));
      const f = Solas.el("td");
      f.append(Solas.el("a", {href: `/filters/${m.filter_id}`}, m.filter_name || `filter ${m.filter_id}`));
      tr.append(f);
      const o = Solas.el("td");
      o.append(Solas.el("a", {href: `/objects/${m.object_key}`, class: "live-object"}, m.object_key));
      tr.append(o);
      const values = Object.entries(m.row || {}).map(([k, v]) => `${k}=${v}`).join("  ");
      tr.append(Solas.el("td", {class: "values"}, values));
      body.prepend(tr);
      while (body.children.length > 500) body.lastChild.remove();
    };
  }
  connect();
})();
