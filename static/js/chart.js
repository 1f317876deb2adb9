// A small dependency-free SVG line chart for a twin's readings (no CDN: served by the app; its frame: chart-kit.js).
// It draws from the #chart-data JSON; live.js updates that JSON and calls thingsteadChart.redraw().
// Values on the y axis at round steps between the lowest and highest reading; dates on the x axis in the page's
// time zone (#readings data-time-zone, the one the table uses) and the table's format (2026-11-24 06:43), times
// when the readings span one day; every point carries a <title> (its time and value) for a tooltip.
(function () {
  "use strict";
  var ACCENT = "#1d4ed8";
  var kit = window.thingsteadChartKit, num = kit.num;

  function draw() {
    var svg = document.getElementById("chart");
    var source = document.getElementById("chart-data");
    if (!svg || !source) return;
    var points = JSON.parse(source.textContent).map(function (p) {
      return { t: Date.parse(p.t), v: p.v };
    });
    if (!points.length) {
      while (svg.firstChild) svg.removeChild(svg.firstChild);
      return;
    }
    var unit = svg.getAttribute("data-unit") || "";
    var f = kit.frame(svg, points, 220, "readings"), x = f.x, y = f.y, el = f.el, when = f.when;
    svg.setAttribute("aria-label", svg.getAttribute("data-label") + ": " + points.length + " readings from " +
      when(f.t0) + " to " + when(f.t1) + ", lowest " + num(f.low) + ", highest " + num(f.high) + (unit ? " " + unit : ""));

    var d = points.map(function (p, i) { return (i ? "L" : "M") + x(p.t).toFixed(1) + " " + y(p.v).toFixed(1); }).join(" ");
    el("path", { d: d, fill: "none", stroke: ACCENT, "stroke-width": 2 });
    // Each point: a dot when there are few, and a wider invisible target with its time and value as a tooltip.
    points.forEach(function (p) {
      var group = el("g", { "data-point": "" });
      el("title", {}, when(p.t) + ": " + num(p.v) + (unit ? " " + unit : ""), group);
      if (points.length <= 60) el("circle", { cx: x(p.t), cy: y(p.v), r: 2.5, fill: ACCENT }, undefined, group);
      el("circle", { cx: x(p.t), cy: y(p.v), r: 7, fill: "transparent" }, undefined, group);
    });
  }
  window.thingsteadChart = { redraw: draw };
  draw();
})();
