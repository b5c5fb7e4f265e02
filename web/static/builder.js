// Filter builder: schema browser, column autocompletion and running the filter.
"use strict";
(function builder() {
  const form = document.getElementById("filter-form");
  if (!form) return;
  const browser = document.getElementById("schema-browser");
  const tree = document.getElementById("schema-tree");
  let words = [];
  let lastField = form.querySelector("textarea[name=selected]");

  function insert(text) {
    const f = lastField;
    const start = f.selectionStart ?? f.value.length, end = f.selectionEnd ?? f.value.length;
    const before = f.value.slice(0, start);
    const sep = before && !/[\s,(]$/.test(before) ? (f.name === "selected" ? ", " : " ") : "";
    f.value = before + sep + text + f.value.slice(end);
    f.focus();
    f.selectionStart = f.selectionEnd = start + sep.length + text.length;
  }

  function render(tables, filter) {
    tree.textContent = "";
    for (const t of tables) {
      const cols = t.columns.filter(c => !filter || (t.name + "." + c.name).toLowerCase().includes(filter));
      if (!cols.length) continue;
      const d = Solas.el("details");
      if (filter || t.name === "objects") d.open = true;
      d.append(Solas.el("summary", {title: t.doc}, `${t.name} (${t.spec_name})`));
      for (const c of cols) {
        const div = Solas.el("div", {class: "col", title: `${c.type}  ${c.definition || c.doc}`}, c.name);
        div.addEventListener("click", () => insert(`${t.name}.${c.name}`));
        d.append(div);
      }
      tree.append(d);
    }
  }

  fetch(browser.dataset.url).then(r => r.json()).then(schema => {
    render(schema.tables, "");
    document.getElementById("schema-search").addEventListener("input",
      e => render(schema.tables, e.target.value.trim().toLowerCase()));
    words = schema.tables.flatMap(t => t.columns.map(c => ({word: `${t.name}.${c.name}`, doc: c.definition || c.doc})));
    const fns = ["ABS", "ROUND", "GREATEST", "LEAST", "IF", "IFNULL", "COALESCE", "CONCAT",
                 "JSON_EXTRACT", "NOW", "UNIX_TIMESTAMP", "mjdnow", "jdnow", "flux2mag"];
    words = words.concat(fns.map(f => ({word: f + "(", doc: "function"})));
  });

  // Autocompletion: the word before the cursor against table.column names.
  const box = Solas.el("div", {class: "completions", id: "completions"});
  box.hidden = true;
  document.body.append(box);
  let choices = [], active = 0, field = null;

  function currentWord(f) {
    const m = /[A-Za-z_][A-Za-z0-9_.]*$/.exec(f.value.slice(0, f.selectionStart));
    return m ? m[0] : "";
  }
  function close() { box.hidden = true; choices = []; }
  function show(f) {
    const word = currentWord(f).toLowerCase();
    if (word.length < 2) return close();
    choices = words.filter(w => w.word.toLowerCase().includes(word) &&
                                (w.word.toLowerCase().startsWith(word) || w.word.toLowerCase().split(".")[1]?.startsWith(word))).slice(0, 30);
    if (!choices.length) return close();
    active = 0; field = f;
    box.textContent = "";
    choices.forEach((c, i) => {
      const d = Solas.el("div", {title: c.doc, "data-i": i}, c.word);
      d.addEventListener("mousedown", e => { e.preventDefault(); accept(i); });
      box.append(d);
    });
    box.children[0].classList.add("active");
    const r = f.getBoundingClientRect();
    box.style.left = `${r.left + window.scrollX}px`;
    box.style.top = `${r.bottom + window.scrollY}px`;
    box.hidden = false;
  }
  function accept(i) {
    const f = field, word = currentWord(f), pos = f.selectionStart;
    f.value = f.value.slice(0, pos - word.length) + choices[i].word + f.value.slice(pos);
    f.selectionStart = f.selectionEnd = pos - word.length + choices[i].word.length;
    close(); f.focus();
  }
  for (const f of form.querySelectorAll("[data-complete]")) {
    f.addEventListener("focus", () => { lastField = f; });
    f.addEventListener("input", () => show(f));
    f.addEventListener("blur", () => setTimeout(close, 150));
    f.addEventListener("keydown", e => {
      if (box.hidden) return;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        box.children[active].classList.remove("active");
        active = (active + (e.key === "ArrowDown" ? 1 : choices.length - 1)) % choices.length;
        box.children[active].classList.add("active");
      } else if (e.key === "Enter" || e.key === "Tab") { e.preventDefault(); accept(active); }
      else if (e.key === "Escape") close();
    });
  }

  // Run on demand.
  const status = document.getElementById("run-status");
  const results = document.getElementById("results");
  document.getElementById("run-filter").addEventListener("click", async () => {
    status.textContent = "running…";
    results.textContent = "";
    const data = {selected: form.selected.value, tables: form.tables.value,
                  conditions: form.conditions.value};
    let answer;
    try { answer = await Solas.post("/filters/run", data); }
    catch (e) { status.textContent = ""; results.append(Solas.el("p", {class: "error"}, String(e))); return; }
    if (answer.error) {
      status.textContent = "";
      results.append(Solas.el("p", {class: "error", id: "run-error"}, answer.error));
      return;
    }
    status.textContent = `${answer.rows.length} rows in ${answer.seconds} s` +
      (answer.limited ? " (first 1,000 shown)" : "");
    const table = Solas.el("table", {class: "list", id: "result-table"});
    const head = Solas.el("tr");
    answer.columns.forEach(c => head.append(Solas.el("th", {}, c)));
    table.append(head);
    const link = answer.columns.indexOf(answer.object_key);
    for (const row of answer.rows) {
      const tr = Solas.el("tr");
      row.forEach((v, i) => {
        const td = Solas.el("td");
        if (i === link && v !== null) td.append(Solas.el("a", {href: results.dataset.objectLink + v}, String(v)));
        else td.textContent = v === null ? "" : String(v);
        tr.append(td);
      });
      table.append(tr);
    }
    results.append(table);
  });
})();
