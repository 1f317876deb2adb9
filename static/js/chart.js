// A small dependency-free SVG line chart for a twin's readings (no CDN: served by the app).
// It draws from the #chart-data JSON; live.js updates that JSON and calls thingsteadChart.redraw().
// Values on the y axis at round steps between the lowest and highest reading; dates on the x axis in the page's
// time zone (#readings data-time-zone, the one the table uses) and the table's format (2026-11-24 06:43), times
// when the readings span one day; every point carries a <title> (its time and value) for a tooltip.
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var MUTED = "#6b7280", LINE = "#e5e7eb", ACCENT = "#1d4ed8";

  function zone() {
    var readings = document.getElementById("readings");
    return (readings && readings.getAttribute("data-time-zone")) || "UTC";
  }

  function parts(t) {  // {year, month, day, hour, minute} of a timestamp in the page's time zone
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

  function num(v) {  // as the `num` template filter: 12.5, 120, 0.25
    var text = Number(v).toFixed(4).replace(/0+$/, "").replace(/\.$/, "");
    return text === "-0" || text === "" ? "0" : text;
  }

  function niceStep(span, count) {  // 1, 2 or 5 times a power of ten, giving about `count` steps over `span`
    var raw = span / count, power = Math.pow(10, Math.floor(Math.log10(raw))), unit = raw / power;
    return (unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10) * power;
  }

  function draw() {
    var svg = document.getElementById("chart");
    var source = document.getElementById("chart-data");
    if (!svg || !source) return;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var points = JSON.parse(source.textContent).map(function (p) {
      return { t: Date.parse(p.t), v: p.v };
    });
    if (!points.length) return;
    var unit = svg.getAttribute("data-unit") || "";
    var width = svg.clientWidth || 600, height = svg.clientHeight || 220;
    var left = 44, right = 12, top = 12, bottom = 28;
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    var t0 = points[0].t, t1 = points[points.length - 1].t;
    var vs = points.map(function (p) { return p.v; });
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
    var first = when(t0), last = when(t1);
    svg.setAttribute("aria-label", svg.getAttribute("data-label") + ": " + points.length + " readings from " + first +
      " to " + last + ", lowest " + num(low) + ", highest " + num(high) + (unit ? " " + unit : ""));

    // y axis: a grid line and a value at each round step.
    for (var v = v0; v <= v1 + step / 2; v += step) {
      el("line", { x1: left, y1: y(v), x2: width - right, y2: y(v), stroke: LINE });
      el("text", { x: left - 6, y: y(v) + 4, "font-size": 11, fill: MUTED, "text-anchor": "end" }, num(v));
    }
    // x axis: the first and last time, and one between when there is room. One day: times under one date.
    var oneDay = day(t0) === day(t1);
    var label = oneDay ? clock : day;
    var ticks = t1 > t0 ? [t0, t1] : [t0];
    if (t1 > t0 && width > 320) ticks.splice(1, 0, t0 + (t1 - t0) / 2);
    ticks.forEach(function (t, i) {
      var anchor = ticks.length === 1 ? "start" : i === 0 ? "start" : i === ticks.length - 1 ? "end" : "middle";
      el("text", { x: x(t), y: height - 8, "font-size": 11, fill: MUTED, "text-anchor": anchor }, label(t));
    });
    if (oneDay) el("text", { x: width - right, y: top - 2, "font-size": 11, fill: MUTED, "text-anchor": "end" }, day(t0));

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
