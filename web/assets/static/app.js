// ulvs web console: live charts over server-sent events, delete
// confirmations. Plain JavaScript, no build step.
"use strict";

(function () {
  // Ask before a delete.
  document.querySelectorAll("form.confirm").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm("Delete? This cannot be undone.")) e.preventDefault();
    });
  });

  var box = document.getElementById("charts");
  if (!box || !window.EventSource) return;
  var NS = "http://www.w3.org/2000/svg";
  var POINTS = 60;
  var dashes = ["", "6 3", "2 3", "8 3 2 3", "12 4", "1 5"];
  var metrics = [
    { key: "cps", title: "connections/s", unit: "" },
    { key: "pps", title: "packets/s (in+out)", unit: "" },
    { key: "bps", title: "bytes/s (in+out)", unit: "B" },
    { key: "active", title: "active connections", unit: "" },
    { key: "inactive", title: "inactive connections", unit: "" }
  ];
  var history = {}; // service id -> dest id -> metric -> [values]
  var built = {};   // service id -> {metric: {svg, legend}}

  function value(d, key) {
    if (key === "pps") return d.inpps + d.outpps;
    if (key === "bps") return d.inbps + d.outbps;
    return d[key];
  }
  function human(n) {
    if (n >= 1e9) return (n / 1e9).toFixed(1) + "G";
    if (n >= 1e6) return (n / 1e6).toFixed(1) + "M";
    if (n >= 1e4) return (n / 1e3).toFixed(1) + "k";
    return String(n);
  }
  function build(svc) {
    var sec = document.createElement("section");
    sec.className = "svc";
    sec.dataset.service = svc.id;
    var h = document.createElement("h3");
    h.textContent = svc.name;
    sec.appendChild(h);
    var totals = document.createElement("p");
    totals.className = "totals";
    sec.appendChild(totals);
    var grid = document.createElement("div");
    grid.className = "svc-charts";
    var parts = {};
    metrics.forEach(function (m) {
      var fig = document.createElement("figure");
      fig.className = "chart";
      fig.dataset.metric = m.key;
      var cap = document.createElement("figcaption");
      cap.textContent = m.title;
      var svg = document.createElementNS(NS, "svg");
      svg.setAttribute("viewBox", "0 0 " + (POINTS - 1) + " 100");
      svg.setAttribute("preserveAspectRatio", "none");
      svg.setAttribute("role", "img");
      svg.setAttribute("aria-label", svc.name + " " + m.title);
      var legend = document.createElement("div");
      legend.className = "legend";
      fig.appendChild(cap); fig.appendChild(svg); fig.appendChild(legend);
      grid.appendChild(fig);
      parts[m.key] = { svg: svg, legend: legend };
    });
    sec.appendChild(grid);
    box.appendChild(sec);
    parts.totals = totals;
    return parts;
  }
  function draw(svc) {
    var parts = built[svc.id] || (built[svc.id] = build(svc));
    var hist = history[svc.id] || (history[svc.id] = {});
    parts.totals.textContent = "Connections since start: " + svc.conns + " (" + svc.active +
      " active, " + svc.inactive + " inactive now); " + svc.cps + " conn/s.";
    metrics.forEach(function (m) {
      var p = parts[m.key];
      while (p.svg.firstChild) p.svg.removeChild(p.svg.firstChild);
      var lines = [];
      var peak = 1;
      (svc.dests || []).forEach(function (d, i) {
        var h = hist[d.id] || (hist[d.id] = {});
        var series = h[m.key] || (h[m.key] = []);
        series.push(value(d, m.key));
        if (series.length > POINTS) series.shift();
        series.forEach(function (v) { if (v > peak) peak = v; });
        lines.push({ d: d, i: i, series: series });
      });
      var text = [];
      lines.forEach(function (l) {
        var pl = document.createElementNS(NS, "polyline");
        var off = POINTS - l.series.length;
        pl.setAttribute("points", l.series.map(function (v, j) {
          return (off + j) + "," + (100 - 95 * v / peak).toFixed(1);
        }).join(" "));
        var dash = dashes[l.i % dashes.length];
        if (dash) pl.setAttribute("stroke-dasharray", dash);
        p.svg.appendChild(pl);
        var style = ["solid", "dashed", "dotted", "dash-dot", "long dash", "sparse dots"][l.i % dashes.length];
        text.push(l.d.name + " (" + style + "): " + human(l.series[l.series.length - 1]) + m.unit);
      });
      text.push("total: " + human(value(svc, m.key)) + m.unit + ", peak shown " + human(peak) + m.unit);
      p.legend.textContent = text.join(" · ");
    });
  }

  var es = new EventSource(box.dataset.events);
  es.addEventListener("stats", function (e) {
    var u = JSON.parse(e.data);
    var wait = document.getElementById("charts-wait");
    if (wait) wait.remove();
    var table = document.getElementById("table");
    if (table) table.textContent = u.table;
    var seen = {};
    u.services.forEach(function (svc) { seen[svc.id] = true; draw(svc); });
    Object.keys(built).forEach(function (id) {
      if (!seen[id]) {
        var el = box.querySelector('section[data-service="' + id + '"]');
        if (el) el.remove();
        delete built[id]; delete history[id];
      }
    });
    box.dataset.updates = String((+box.dataset.updates || 0) + 1);
  });
})();
