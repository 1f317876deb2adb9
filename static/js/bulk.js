// Bulk actions (bulk/): the selection bar above the cards and a job's progress page. An enhancement only:
// without JavaScript the bar still posts the ticked things, and the job page shows where the job is on reload.
(function () {
  "use strict";

  // The selection bar: "N selected", or all matching. The page does not count the matching things (bulk.section):
  // the number ("2,143", or "10,000+" past the cap) is fetched once the page is shown and fills "Select all …".
  var bar = document.getElementById("bulk-selection");
  if (bar) {
    var count = bar.querySelector("[data-bulk-count]");
    var all = bar.querySelector("[data-bulk-all]");
    var number = bar.querySelector("[data-bulk-matching]");
    var matching = "";  // until the count arrives
    var everything = bar.getAttribute("data-filtered") === "1" ? "matching" : "of your things";
    var boxes = function () { return document.querySelectorAll('input[name="thing"][form="bulk-selection"]'); };
    var show = function () {
      var ticked = 0;
      boxes().forEach(function (box) { if (box.checked) ticked += 1; });
      if (all && all.checked) {
        count.textContent = matching ? "All " + matching + " selected" : "All " + everything + " selected";
      } else {
        count.textContent = ticked ? ticked.toLocaleString("en") + " selected" : "Tick things below to act on them";
      }
    };
    document.addEventListener("change", function (event) {
      var el = event.target;
      if (el === all || (el instanceof HTMLInputElement && el.name === "thing" && el.getAttribute("form") === "bulk-selection")) show();
    });
    show();
    var countUrl = bar.getAttribute("data-count-url");
    if (countUrl) {
      fetch(countUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
        .then(function (data) {
          matching = String(data.text);
          bar.setAttribute("data-matching", matching);
          if (number) number.textContent = " " + matching;
          show();
        })
        .catch(function () { /* the bar still works without the number: the confirmation counts */ });
    }
  }

  // A job's page: a live bar while it runs (pushed over the page's socket when it can be, polled as well).
  var job = document.getElementById("bulk-job");
  if (!job || job.getAttribute("data-finished") === "1") return;
  var id = Number(job.getAttribute("data-job"));
  var progress = job.querySelector("[data-bulk-progress]");
  var status = job.querySelector("[data-bulk-status]");
  var done = job.querySelector('[data-testid="bulk-done"]');
  var failed = job.querySelector('[data-testid="bulk-failed"]');
  var LABELS = { queued: "Queued", running: "Running", done: "Done", cancelled: "Cancelled", failed: "Failed" };
  var finished = false;

  function update(state) {
    if (finished) return;
    progress.value = state.done + state.failed;
    progress.textContent = Math.round(100 * (state.done + state.failed) / Math.max(state.total, 1)) + "%";
    done.textContent = String(state.done);
    failed.textContent = String(state.failed);
    status.textContent = LABELS[state.status] || state.status;
    job.setAttribute("data-status", state.status);
    if (state.status === "done" || state.status === "cancelled" || state.status === "failed") {
      finished = true;
      location.reload();  // the result lists come from the server
    }
  }

  document.addEventListener("thingstead:live", function (event) {
    var ev = event.detail || {};
    if (ev.kind === "bulk" && ev.job === id) update(ev);
  });

  function poll() {
    fetch(job.getAttribute("data-status-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
      .then(function (data) {
        update({ status: data.status, total: data.total, done: data.done_count, failed: data.failed_count });
      })
      .catch(function () { /* try again at the next tick */ })
      .then(function () { if (!finished) setTimeout(poll, 1000); });
  }
  setTimeout(poll, 500);
})();
