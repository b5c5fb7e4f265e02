// Interactive light curve (SVG): flux or magnitude per band; detections with error bars,
// forced photometry as open circles, non-detections as downward triangles (limits).
// Drag horizontally to zoom in time, "reset zoom" to go back; hover for values.
"use strict";
(function lightcurve() {
  const host = document.getElementById("lightcurve");
  if (!host) return;
  const points = JSON.parse(document.getElementById(host.dataset.pointsId).textContent);
  const colours = {u: "#6a3d9a", g: "#1a9850", r: "#d73027", i: "#f46d43", z: "#8c510a",
                   y: "#4d4d4d", "?": "#999"};
  const NS = "http://www.w3.org/2000/svg";
  const pad = {l: 64, r: 16, t: 14, b: 40};
  let mode = "flux", zoom = null;
  const tip = Solas.el("div", {class: "tip"});
  tip.hidden = true;
  host.append(tip);

  function svgEl(tag, attrs) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  }
  function value(p) {
    if (mode === "flux") return {y: p.flux, err: p.fluxerr};
    if (p.kind === "nondetection") return {y: p.limit_mag, err: null};
    return {y: p.mag, err: p.magerr};
  }
  function shown() {
    const forced = document.getElementById("lc-forced").checked;
    const limits = document.getElementById("lc-limits").checked;
    return points.filter(p => (p.kind !== "forced" || forced) &&
      (p.kind !== "nondetection" || limits) && value(p).y !== null &&
      (!zoom || (p.mjd >= zoom[0] && p.mjd <= zoom[1])));
  }
  function ticks(lo, hi, n) {
    const step0 = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(step0 || 1)));
    const step = [1, 2, 5, 10].map(m => m * mag).find(s => s >= step0) || mag;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) out.push(+v.toPrecision(12));
    return out;
  }
  function draw() {
    host.querySelector("svg")?.remove();
    const W = host.clientWidth, H = host.clientHeight;
    const svg = svgEl("svg", {viewBox: `0 0 ${W} ${H}`});
    host.prepend(svg);
    const pts = shown();
    if (!pts.length) {
      const t = svgEl("text", {x: W / 2, y: H / 2, "text-anchor": "middle"});
      t.textContent = "no points";
      svg.append(t);
      return;
    }
    const xs = pts.map(p => p.mjd);
    const ys = pts.flatMap(p => { const v = value(p); return v.err ? [v.y - v.err, v.y + v.err] : [v.y]; });
    let [x0, x1] = zoom || [Math.min(...xs), Math.max(...xs)];
    if (x1 === x0) { x0 -= 1; x1 += 1; }
    let y0 = Math.min(...ys), y1 = Math.max(...ys);
    if (y1 === y0) { y0 -= 1; y1 += 1; }
    const margin = (y1 - y0) * 0.05; y0 -= margin; y1 += margin;
    const sx = x => pad.l + (x - x0) / (x1 - x0) * (W - pad.l - pad.r);
    const sy = mode === "mag" ? (y => pad.t + (y - y0) / (y1 - y0) * (H - pad.t - pad.b))
                              : (y => H - pad.b - (y - y0) / (y1 - y0) * (H - pad.t - pad.b));
    const axis = svgEl("g", {stroke: "#888", "font-size": 11, fill: "#333"});
    axis.append(svgEl("line", {x1: pad.l, y1: H - pad.b, x2: W - pad.r, y2: H - pad.b}));
    axis.append(svgEl("line", {x1: pad.l, y1: pad.t, x2: pad.l, y2: H - pad.b}));
    for (const t of ticks(x0, x1, 6)) {
      const l = svgEl("text", {x: sx(t), y: H - pad.b + 16, "text-anchor": "middle", stroke: "none"});
      l.textContent = t; axis.append(l);
      axis.append(svgEl("line", {x1: sx(t), y1: H - pad.b, x2: sx(t), y2: H - pad.b + 4}));
    }
    for (const t of ticks(y0, y1, 6)) {
      const l = svgEl("text", {x: pad.l - 6, y: sy(t) + 4, "text-anchor": "end", stroke: "none"});
      l.textContent = t; axis.append(l);
      axis.append(svgEl("line", {x1: pad.l - 4, y1: sy(t), x2: W - pad.r, y2: sy(t), stroke: "#eee"}));
    }
    const xl = svgEl("text", {x: (W + pad.l) / 2, y: H - 6, "text-anchor": "middle", stroke: "none"});
    xl.textContent = "MJD"; axis.append(xl);
    const yl = svgEl("text", {x: 14, y: H / 2, transform: `rotate(-90 14 ${H / 2})`, "text-anchor": "middle", stroke: "none"});
    yl.textContent = mode === "flux" ? "flux (nJy)" : "AB magnitude"; axis.append(yl);
    svg.append(axis);
    const layer = svgEl("g", {});
    for (const p of pts) {
      const v = value(p), c = colours[p.band] || "#999", x = sx(p.mjd), y = sy(v.y);
      if (v.err) layer.append(svgEl("line", {x1: x, x2: x, y1: sy(v.y - v.err), y2: sy(v.y + v.err), stroke: c}));
      let mark;
      if (p.kind === "nondetection") {
        const d = mode === "mag" ? -1 : 1;
        mark = svgEl("path", {d: `M${x - 4},${y - 3 * d} L${x + 4},${y - 3 * d} L${x},${y + 4 * d} Z`, fill: "none", stroke: c, opacity: 0.6});
      } else {
        mark = svgEl("circle", {cx: x, cy: y, r: p.kind === "forced" ? 3 : 4,
                               fill: p.kind === "forced" ? "none" : c, stroke: c});
      }
      mark.classList.add("lc-point");
      mark.addEventListener("mouseenter", () => {
        tip.textContent = `${p.band} ${p.kind} MJD ${p.mjd.toFixed(4)} ` +
          (mode === "flux" ? `${v.y.toFixed(1)}±${(v.err || 0).toFixed(1)} nJy`
                           : `${v.y.toFixed(3)}${v.err ? "±" + v.err.toFixed(3) : " (limit)"} mag`);
        tip.style.left = `${x + 8}px`; tip.style.top = `${y - 24}px`; tip.hidden = false;
      });
      mark.addEventListener("mouseleave", () => { tip.hidden = true; });
      layer.append(mark);
    }
    svg.append(layer);
    const legend = svgEl("g", {"font-size": 12});
    [...new Set(pts.map(p => p.band))].forEach((b, i) => {
      legend.append(svgEl("circle", {cx: W - pad.r - 60 + i * 0, cy: pad.t + 8 + i * 16, r: 4, fill: colours[b] || "#999"}));
      const t = svgEl("text", {x: W - pad.r - 50, y: pad.t + 12 + i * 16}); t.textContent = b; legend.append(t);
    });
    svg.append(legend);
    // drag to zoom
    let start = null;
    const band = svgEl("rect", {y: pad.t, height: H - pad.t - pad.b, fill: "#ffb34755", width: 0});
    svg.append(band);
    const toX = e => (e.offsetX - pad.l) / (W - pad.l - pad.r) * (x1 - x0) + x0;
    svg.addEventListener("mousedown", e => { start = e.offsetX; band.setAttribute("x", start); band.setAttribute("width", 0); });
    svg.addEventListener("mousemove", e => {
      if (start === null) return;
      band.setAttribute("x", Math.min(start, e.offsetX)); band.setAttribute("width", Math.abs(e.offsetX - start));
    });
    svg.addEventListener("mouseup", e => {
      if (start !== null && Math.abs(e.offsetX - start) > 5) {
        const a = toX({offsetX: start}), b = toX(e);
        zoom = [Math.min(a, b), Math.max(a, b)];
      }
      start = null; draw();
    });
  }
  for (const r of document.querySelectorAll("input[name=lc-mode]"))
    r.addEventListener("change", e => { mode = e.target.value; draw(); });
  document.getElementById("lc-forced").addEventListener("change", draw);
  document.getElementById("lc-limits").addEventListener("change", draw);
  document.getElementById("lc-reset").addEventListener("click", () => { zoom = null; draw(); });
  window.addEventListener("resize", draw);
  draw();
})();
