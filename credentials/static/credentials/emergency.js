// The rescuer's emergency view (credentials/consumers.py): new readings of the granted kinds appear as they
// arrive, no reload. <section data-emergency-live="/ws/emergency/<token>/"> names the socket; <html
// data-emergency> tells the state ("open", "ended") to tests. Without JavaScript the page still shows the
// readings as of its loading.
(function () {
  "use strict";
  var box = document.querySelector("[data-emergency-live]");
  if (!box || !("WebSocket" in window)) return;
  var path = box.getAttribute("data-emergency-live");
  var root = document.documentElement;
  var ENDED = 4404, ROWS = 10;

  function num(v) {
    var text = Number(v).toFixed(4).replace(/0+$/, "").replace(/\.$/, "");
    return text === "-0" || text === "" ? "0" : text;
  }

  function when(iso) {
    var d = new Date(iso);
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate()) + " " + two(d.getHours()) + ":" + two(d.getMinutes());
  }

  function add(ev) {
    var r = ev.reading;
    var twin = document.querySelector('[data-testid="emergency-twin"][data-twin="' + ev.twin + '"]');
    if (!twin || !r) return;
    var kinds = twin.querySelectorAll('[data-testid="emergency-kind"]'), kind = null;
    for (var i = 0; i < kinds.length; i++) if (kinds[i].getAttribute("data-kind") === r.kind) kind = kinds[i];
    if (!kind) return;
    var text = (num(r.value) + " " + (r.unit || "")).trim();
    var table = kind.querySelector('[data-testid="emergency-readings"]');
    var rows = table.querySelectorAll("tr[data-time]"), t = Date.parse(r.time), before = null;
    for (var j = 0; j < rows.length; j++) {
      if (Date.parse(rows[j].getAttribute("data-time")) <= t) { before = rows[j]; break; }
    }
    if (!before || before === rows[0]) kind.querySelector("[data-latest]").textContent = text;
    var row = document.createElement("tr");
    row.setAttribute("data-time", r.time);
    [when(r.time), text].forEach(function (value) {
      var cell = document.createElement("td");
      cell.textContent = value;
      row.appendChild(cell);
    });
    if (before) before.parentNode.insertBefore(row, before);
    else table.appendChild(row);
    rows = table.querySelectorAll("tr[data-time]");
    if (rows.length > ROWS) rows[rows.length - 1].parentNode.removeChild(rows[rows.length - 1]);
  }

  function ended() {
    root.setAttribute("data-emergency", "ended");
    var banner = document.querySelector('[data-testid="emergency-ended"]');
    if (banner) banner.hidden = false;
  }

  var delay = 1000;
  function connect() {
    var socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + path);
    socket.onopen = function () { root.setAttribute("data-emergency", "open"); delay = 1000; };
    socket.onmessage = function (message) {
      var ev;
      try { ev = JSON.parse(message.data); } catch (e) { return; }
      if (ev.kind === "reading") add(ev);
    };
    socket.onclose = function (event) {
      if (event.code === ENDED) { ended(); return; }
      root.setAttribute("data-emergency", "closed");
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  connect();
})();
