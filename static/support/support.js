// A support case's page: read receipts and the thread kept live (static/js/live.js hands us its events).
// Without JavaScript the page works; the thread shows news on the next load and no read receipt goes.
(function () {
  "use strict";
  var page = document.querySelector('[data-testid="case"]');
  if (!page) return;
  var id = page.getAttribute("data-case");
  var readUrl = page.getAttribute("data-read-url");
  var token = document.querySelector('#support-csrf input[name="csrfmiddlewaretoken"]');

  function markRead() {
    if (!readUrl || !token || document.visibilityState === "hidden") return;
    fetch(readUrl, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": token.value } })
      .catch(function () { /* the next visit sends it */ });
  }

  var busy = false, again = false;
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(location.href, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("support-thread");
        var current = document.getElementById("support-thread");
        if (fresh && current) current.parentNode.replaceChild(document.importNode(fresh, true), current);
        markRead();
      })
      .catch(function () { /* the next event or load shows it */ })
      .then(function () { busy = false; if (again) { again = false; refresh(); } });
  }

  document.addEventListener("thingstead:live", function (e) {
    if (e.detail && e.detail.kind === "support" && e.detail.case === id) refresh();
  });
  document.addEventListener("visibilitychange", markRead);
  markRead();
})();
