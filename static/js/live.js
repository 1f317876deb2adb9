// Live pages: one WebSocket per signed-in page (twins/consumers.py), no dependencies.
// <body data-live="/ws/..."> names the socket. Everything here is an enhancement: without JavaScript or
// WebSockets the pages work as before and show the news on the next load. <html data-live> tells the state
// ("open", "closed", "refused") to tests and styles.
(function () {
  "use strict";
  var path = document.body.getAttribute("data-live");
  if (!path || !("WebSocket" in window)) return;
  var root = document.documentElement;
  var readings = document.getElementById("readings");
  var thing = readings ? readings.getAttribute("data-thing") : null;
  var CHART_LIMIT = 500, TABLE_LIMIT = 20;

  function num(v) {  // as the `num` template filter: 12.5, 120, 0.25
    var text = Number(v).toFixed(4).replace(/0+$/, "").replace(/\.$/, "");
    return text === "-0" || text === "" ? "0" : text;
  }

  function when(iso) {  // as the template's date:"Y-m-d H:i" in the server's time zone
    var zone = (readings && readings.getAttribute("data-time-zone")) || "UTC";
    var parts = {};
    try {
      new Intl.DateTimeFormat("en-GB", {
        timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
        hourCycle: "h23"
      }).formatToParts(new Date(iso)).forEach(function (p) { parts[p.type] = p.value; });
    } catch (e) {
      return iso.slice(0, 16).replace("T", " ");
    }
    return parts.year + "-" + parts.month + "-" + parts.day + " " + parts.hour + ":" + parts.minute;
  }

  function setBadge(count) {
    var link = document.querySelector(".inbox-link");
    if (!link) return;
    var badge = link.querySelector('[data-testid="unread-count"]');
    if (!count) { if (badge) badge.parentNode.removeChild(badge); return; }
    if (!badge) {
      badge = document.createElement("span");
      badge.className = "badge";
      badge.setAttribute("data-testid", "unread-count");
      link.appendChild(document.createTextNode(" "));
      link.appendChild(badge);
    }
    badge.textContent = String(count);
  }

  function updateCard(ev) {
    var card = document.querySelector('[data-testid="card"][data-thing="' + ev.thing + '"] [data-live-latest]');
    if (card && ev.latest) card.textContent = num(ev.reading.value) + " " + ev.reading.unit + " · just now";
  }

  function addRow(r) {
    var table = readings.querySelector('[data-testid="readings"]');
    if (!table) {
      table = document.createElement("table");
      table.setAttribute("data-testid", "readings");
      table.innerHTML = "<tr><th>When</th><th>Value</th><th>Kind</th></tr>";
      var empty = readings.querySelector("[data-live-empty]");
      if (empty) empty.parentNode.replaceChild(table, empty); else readings.appendChild(table);
    }
    var row = document.createElement("tr");
    row.setAttribute("data-time", r.time);
    [when(r.time), num(r.value) + " " + r.unit, r.kind].forEach(function (text, i) {
      var cell = document.createElement("td");
      if (i === 2) cell.className = "muted";
      cell.textContent = text;
      row.appendChild(cell);
    });
    // Newest first, as rendered: before the first row that is older (a late reading goes lower down).
    var t = Date.parse(r.time), rows = table.querySelectorAll("tr[data-time]"), before = null;
    for (var i = 0; i < rows.length; i++) {
      if (Date.parse(rows[i].getAttribute("data-time")) <= t) { before = rows[i]; break; }
    }
    if (before) before.parentNode.insertBefore(row, before);
    else if (rows.length < TABLE_LIMIT) (rows.length ? rows[0].parentNode : table).appendChild(row);
    rows = table.querySelectorAll("tr[data-time]");
    if (rows.length > TABLE_LIMIT) rows[rows.length - 1].parentNode.removeChild(rows[rows.length - 1]);
  }

  function addPoint(r) {
    if (r.kind !== readings.getAttribute("data-reading-kind")) return;
    var data = document.getElementById("chart-data");
    if (!data) {
      var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      svg.setAttribute("class", "chart");
      svg.setAttribute("id", "chart");
      svg.setAttribute("role", "img");
      svg.setAttribute("aria-label", "Chart of " + r.kind);
      data = document.createElement("script");
      data.type = "application/json";
      data.id = "chart-data";
      data.textContent = "[]";
      var heading = readings.querySelector("h2");
      readings.insertBefore(data, heading ? heading.nextSibling : readings.firstChild);
      readings.insertBefore(svg, data);
    }
    var points = JSON.parse(data.textContent);
    points.push({ t: r.time, v: r.value });
    points.sort(function (a, b) { return Date.parse(a.t) - Date.parse(b.t); });
    data.textContent = JSON.stringify(points.slice(-CHART_LIMIT));
    if (window.thingsteadChart) window.thingsteadChart.redraw();
  }

  // Notes and scans: the server renders them; fetch this page again and swap those sections in place.
  var refreshing = null;
  function refresh(ids) {
    if (refreshing) { refreshing.push.apply(refreshing, ids); return; }
    refreshing = ids.slice();
    setTimeout(function () {
      var wanted = refreshing;
      fetch(location.href, { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html");
          wanted.forEach(function (id) {
            var next = fresh.getElementById(id), current = document.getElementById(id);
            if (!next) { if (current) current.parentNode.removeChild(current); return; }
            if (current) { current.parentNode.replaceChild(document.importNode(next, true), current); return; }
            var previous = next.previousElementSibling, anchor = previous && previous.id && document.getElementById(previous.id);
            if (anchor) anchor.parentNode.insertBefore(document.importNode(next, true), anchor.nextSibling);
          });
        })
        .catch(function () { /* the next page load shows it */ })
        .then(function () { refreshing = null; });
    }, 200);
  }

  function handle(ev) {
    // Features' pages listen for their own kinds (a bulk job's progress: static/js/bulk.js).
    document.dispatchEvent(new CustomEvent("thingstead:live", { detail: ev }));
    if (typeof ev.unread === "number") setBadge(ev.unread);
    if (ev.kind === "reading" && ev.reading) {
      updateCard(ev);
      if (readings && ev.thing === thing) { addRow(ev.reading); addPoint(ev.reading); }
    } else if (ev.kind === "note" && readings && ev.thing === thing) {
      refresh(["journal"]);
    } else if (ev.kind === "scan" && readings && path.indexOf("/ws/twins/") === 0) {
      refresh(["scans"]);
    } else if (ev.kind === "agent" && readings && ev.thing === thing) {
      refresh(["agent"]);
    }
  }

  var delay = 1000;
  function connect() {
    var socket;
    try {
      socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + path);
    } catch (e) {
      return;
    }
    socket.onopen = function () { delay = 1000; root.setAttribute("data-live", "open"); };
    socket.onmessage = function (message) {
      var ev;
      try { ev = JSON.parse(message.data); } catch (e) { return; }
      handle(ev);
    };
    socket.onclose = function (event) {
      // 4000–4999: the server refused us (signed out, not our thing): retrying would not help. Except 4503: live
      // updates are unavailable for now (core/live.py CLOSE_UNAVAILABLE), so try again with the backoff.
      if (event.code >= 4000 && event.code < 5000 && event.code !== 4503) {
        root.setAttribute("data-live", "refused");
        return;
      }
      root.setAttribute("data-live", "closed");
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 60000);
    };
  }
  connect();
})();
