// A small dependency-free SVG line chart for a twin's readings (no CDN: served by the app).
// It draws from the #chart-data JSON; live.js updates that JSON and calls thingsteadChart.redraw().
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  function draw() {
    var svg = document.getElementById("chart");
    var source = document.getElementById("chart-data");
    if (!svg || !source) return;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var points = JSON.parse(source.textContent).map(function (p) {
      return { t: Date.parse(p.t), v: p.v };
    });
    if (!points.length) return;
    var width = svg.clientWidth || 600, height = svg.clientHeight || 220, pad = 32;
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    var t0 = points[0].t, t1 = points[points.length - 1].t;
    var vs = points.map(function (p) { return p.v; });
    var v0 = Math.min.apply(null, vs), v1 = Math.max.apply(null, vs);
    if (v0 === v1) { v0 -= 1; v1 += 1; }
    if (t0 === t1) { t0 -= 1; t1 += 1; }
    function x(t) { return pad + (t - t0) / (t1 - t0) * (width - 2 * pad); }
    function y(v) { return height - pad - (v - v0) / (v1 - v0) * (height - 2 * pad); }
    function el(name, attrs, text) {
      var node = document.createElementNS(NS, name);
      for (var key in attrs) node.setAttribute(key, attrs[key]);
      if (text !== undefined) node.textContent = text;
      svg.appendChild(node);
      return node;
    }
    el("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, stroke: "#e5e7eb" });
    el("line", { x1: pad, y1: pad, x2: pad, y2: height - pad, stroke: "#e5e7eb" });
    el("text", { x: 2, y: pad, "font-size": 11, fill: "#6b7280" }, String(Math.round(v1 * 100) / 100));
    el("text", { x: 2, y: height - pad, "font-size": 11, fill: "#6b7280" }, String(Math.round(v0 * 100) / 100));
    el("text", { x: pad, y: height - 8, "font-size": 11, fill: "#6b7280" }, new Date(t0).toLocaleDateString());
    el("text", { x: width - pad, y: height - 8, "font-size": 11, fill: "#6b7280", "text-anchor": "end" }, new Date(t1).toLocaleDateString());
    var d = points.map(function (p, i) { return (i ? "L" : "M") + x(p.t).toFixed(1) + " " + y(p.v).toFixed(1); }).join(" ");
    el("path", { d: d, fill: "none", stroke: "#1d4ed8", "stroke-width": 2 });
    if (points.length <= 60) {
      points.forEach(function (p) { el("circle", { cx: x(p.t), cy: y(p.v), r: 2.5, fill: "#1d4ed8" }); });
    }
  }
  window.thingsteadChart = { redraw: draw };
  draw();
})();
