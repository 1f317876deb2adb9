// A group's combined chart: one line per thing, drawn from #group-chart-data ([{name, slug, points: [{t, v}]}]),
// in the frame chart.js uses (chart-kit.js: round steps, dates in the page's time zone from #members data-time-zone).
// Each line gets a colour of its own and a legend entry; every point carries a <title> for a tooltip.
(function () {
  "use strict";
  // Twelve colours distinguishable on white (each at least 3:1 against it, for non-text contrast).
  var COLOURS = ["#1d4ed8", "#b91c1c", "#047857", "#7c3aed", "#c2410c", "#0e7490", "#be185d", "#4d7c0f",
    "#6d28d9", "#92400e", "#0369a1", "#374151"];
  var kit = window.thingsteadChartKit, num = kit.num;

  function draw() {
    var svg = document.getElementById("group-chart-svg");
    var source = document.getElementById("group-chart-data");
    if (!svg || !source) return;
    var series = JSON.parse(source.textContent).map(function (s) {
      return { name: s.name, points: s.points.map(function (p) { return { t: Date.parse(p.t), v: p.v }; }) };
    }).filter(function (s) { return s.points.length; });
    if (!series.length) {
      while (svg.firstChild) svg.removeChild(svg.firstChild);
      return;
    }
    var all = [].concat.apply([], series.map(function (s) { return s.points; }));
    var unit = svg.getAttribute("data-unit") || "";
    var f = kit.frame(svg, all, 260, "members"), x = f.x, y = f.y, el = f.el, when = f.when;
    svg.setAttribute("aria-label", svg.getAttribute("data-label") + " of " + series.length + " things from " +
      when(f.t0) + " to " + when(f.t1) + ", lowest " + num(f.low) + ", highest " + num(f.high) + (unit ? " " + unit : ""));

    var legend = document.getElementById("group-chart-legend");
    if (legend) while (legend.firstChild) legend.removeChild(legend.firstChild);
    series.forEach(function (s, index) {
      var colour = COLOURS[index % COLOURS.length];
      var group = el("g", { "data-series": s.name });
      var d = s.points.map(function (p, i) { return (i ? "L" : "M") + x(p.t).toFixed(1) + " " + y(p.v).toFixed(1); }).join(" ");
      el("path", { d: d, fill: "none", stroke: colour, "stroke-width": 2 }, undefined, group);
      s.points.forEach(function (p) {
        var dot = el("g", { "data-point": "" }, undefined, group);
        el("title", {}, s.name + ", " + when(p.t) + ": " + num(p.v) + (unit ? " " + unit : ""), dot);
        if (s.points.length <= 60) el("circle", { cx: x(p.t), cy: y(p.v), r: 2.5, fill: colour }, undefined, dot);
        el("circle", { cx: x(p.t), cy: y(p.v), r: 7, fill: "transparent" }, undefined, dot);
      });
      if (legend) {
        var item = document.createElement("li");
        var swatch = document.createElement("span");
        swatch.setAttribute("aria-hidden", "true");
        swatch.style.cssText = "display:inline-block;width:1.2em;height:.3em;vertical-align:middle;margin-right:.3em;background:" + colour;
        item.appendChild(swatch);
        item.appendChild(document.createTextNode(s.name));
        legend.appendChild(item);
      }
    });
  }
  window.thingsteadGroupChart = { redraw: draw };
  draw();
})();
