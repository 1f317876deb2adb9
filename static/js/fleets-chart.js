// A group's combined chart: one line per thing, drawn from #group-chart-data ([{name, slug, points: [{t, v}]}]),
// in the style of chart.js (same axes, round steps, dates in the page's time zone from #members data-time-zone).
// Each line gets a colour of its own and a legend entry; every point carries a <title> for a tooltip.
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var MUTED = "#6b7280", LINE = "#e5e7eb";
  // Twelve colours distinguishable on white (each at least 3:1 against it, for non-text contrast).
  var COLOURS = ["#1d4ed8", "#b91c1c", "#047857", "#7c3aed", "#c2410c", "#0e7490", "#be185d", "#4d7c0f",
    "#6d28d9", "#92400e", "#0369a1", "#374151"];

  function zone() {
    var holder = document.getElementById("members");
    return (holder && holder.getAttribute("data-time-zone")) || "UTC";
  }
  function parts(t) {
    var out = {};
    try {
      new Intl.DateTimeFormat("en-GB", {
        timeZone: zone(), year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
        hourCycle: "h23"
      }).formatToParts(new Date(t)).forEach(function (p) { out[p.type] = p.value; });
    } catch (e) {
      var iso = new Date(t).toISOString();
      return { year: iso.slice(0, 4), month: iso.slice(5, 7), day: iso.slice(8, 10), hour: iso.slice(11, 13), minute: iso.slice(14, 16) };
    }
    return out;
  }
  function day(t) { var p = parts(t); return p.year + "-" + p.month + "-" + p.day; }
  function clock(t) { var p = parts(t); return p.hour + ":" + p.minute; }
  function when(t) { return day(t) + " " + clock(t); }
  function num(v) {
    var text = Number(v).toFixed(4).replace(/0+$/, "").replace(/\.$/, "");
    return text === "-0" || text === "" ? "0" : text;
  }
  function niceStep(span, count) {
    var raw = span / count, power = Math.pow(10, Math.floor(Math.log10(raw))), unit = raw / power;
    return (unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10) * power;
  }

  function draw() {
    var svg = document.getElementById("group-chart-svg");
    var source = document.getElementById("group-chart-data");
    if (!svg || !source) return;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var series = JSON.parse(source.textContent).map(function (s) {
      return { name: s.name, points: s.points.map(function (p) { return { t: Date.parse(p.t), v: p.v }; }) };
    }).filter(function (s) { return s.points.length; });
    if (!series.length) return;
    var all = [].concat.apply([], series.map(function (s) { return s.points; }));
    var unit = svg.getAttribute("data-unit") || "";
    var width = svg.clientWidth || 600, height = svg.clientHeight || 260;
    var left = 44, right = 12, top = 12, bottom = 28;
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    var ts = all.map(function (p) { return p.t; }), vs = all.map(function (p) { return p.v; });
    var t0 = Math.min.apply(null, ts), t1 = Math.max.apply(null, ts);
    var low = Math.min.apply(null, vs), high = Math.max.apply(null, vs);
    var step = niceStep(high - low || Math.abs(high) || 1, 4);
    var v0 = Math.floor(low / step) * step, v1 = Math.ceil(high / step) * step;
    if (v0 === v1) { v0 -= step; v1 += step; }
    var span = t1 - t0 || 1;
    function x(t) { return left + (t - t0) / span * (width - left - right); }
    function y(v) { return height - bottom - (v - v0) / (v1 - v0) * (height - top - bottom); }
    function el(name, attrs, text, parent) {
      var node = document.createElementNS(NS, name);
      for (var key in attrs) node.setAttribute(key, attrs[key]);
      if (text !== undefined) node.textContent = text;
      (parent || svg).appendChild(node);
      return node;
    }
    svg.setAttribute("aria-label", svg.getAttribute("data-label") + " of " + series.length + " things from " +
      when(t0) + " to " + when(t1) + ", lowest " + num(low) + ", highest " + num(high) + (unit ? " " + unit : ""));
    for (var v = v0; v <= v1 + step / 2; v += step) {
      el("line", { x1: left, y1: y(v), x2: width - right, y2: y(v), stroke: LINE });
      el("text", { x: left - 6, y: y(v) + 4, "font-size": 11, fill: MUTED, "text-anchor": "end" }, num(v));
    }
    var oneDay = day(t0) === day(t1);
    var label = oneDay ? clock : day;
    var ticks = t1 > t0 ? [t0, t1] : [t0];
    if (t1 > t0 && width > 320) ticks.splice(1, 0, t0 + (t1 - t0) / 2);
    ticks.forEach(function (t, i) {
      var anchor = ticks.length === 1 ? "start" : i === 0 ? "start" : i === ticks.length - 1 ? "end" : "middle";
      el("text", { x: x(t), y: height - 8, "font-size": 11, fill: MUTED, "text-anchor": anchor }, label(t));
    });
    if (oneDay) el("text", { x: width - right, y: top - 2, "font-size": 11, fill: MUTED, "text-anchor": "end" }, day(t0));

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
