// What a thing's chart (chart.js) and a group's (fleets-chart.js) share, served by the app (no CDN): times in the
// page's time zone in the table's format (2026-11-24 06:43), values as the `num` template filter writes them, and
// the frame: a grid line and value at each round step on the y axis, the first and last time (and one between when
// there is room) on the x axis, times under one date when the points span one day.
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var MUTED = "#6b7280", LINE = "#e5e7eb";

  function num(v) {  // as the `num` template filter: 12.5, 120, 0.25
    var text = Number(v).toFixed(4).replace(/0+$/, "").replace(/\.$/, "");
    return text === "-0" || text === "" ? "0" : text;
  }

  function niceStep(span, count) {  // 1, 2 or 5 times a power of ten, giving about `count` steps over `span`
    var raw = span / count, power = Math.pow(10, Math.floor(Math.log10(raw))), unit = raw / power;
    return (unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10) * power;
  }

  // Formatters of times in the zone named by the element `zoneHolder`'s data-time-zone (UTC without one).
  function clockIn(zoneHolder) {
    var holder = document.getElementById(zoneHolder);
    var zone = (holder && holder.getAttribute("data-time-zone")) || "UTC";
    function parts(t) {  // {year, month, day, hour, minute} of a timestamp in that zone
      var out = {};
      try {
        new Intl.DateTimeFormat("en-GB", {
          timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
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
    return { day: day, clock: clock, when: function (t) { return day(t) + " " + clock(t); } };
  }

  // Clears `svg` and draws the frame for `points` ([{t: ms, v}], not empty). Returns what the caller draws with:
  // x(t), y(v), el(name, attrs, text, parent), when(t), and the span (t0, t1, low, high).
  function frame(svg, points, height, zoneHolder) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var times = clockIn(zoneHolder);
    var width = svg.clientWidth || 600;
    height = svg.clientHeight || height;
    var left = 44, right = 12, top = 12, bottom = 28;
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    var ts = points.map(function (p) { return p.t; }), vs = points.map(function (p) { return p.v; });
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
    for (var v = v0; v <= v1 + step / 2; v += step) {
      el("line", { x1: left, y1: y(v), x2: width - right, y2: y(v), stroke: LINE });
      el("text", { x: left - 6, y: y(v) + 4, "font-size": 11, fill: MUTED, "text-anchor": "end" }, num(v));
    }
    var oneDay = times.day(t0) === times.day(t1);
    var label = oneDay ? times.clock : times.day;
    var ticks = t1 > t0 ? [t0, t1] : [t0];
    if (t1 > t0 && width > 320) ticks.splice(1, 0, t0 + (t1 - t0) / 2);
    ticks.forEach(function (t, i) {
      var anchor = ticks.length === 1 ? "start" : i === 0 ? "start" : i === ticks.length - 1 ? "end" : "middle";
      el("text", { x: x(t), y: height - 8, "font-size": 11, fill: MUTED, "text-anchor": anchor }, label(t));
    });
    if (oneDay) el("text", { x: width - right, y: top - 2, "font-size": 11, fill: MUTED, "text-anchor": "end" }, times.day(t0));
    return { x: x, y: y, el: el, when: times.when, t0: t0, t1: t1, low: low, high: high };
  }

  window.thingsteadChartKit = { frame: frame, num: num };
})();
