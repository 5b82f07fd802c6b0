// Status that updates without reloading: every pending capture request is polled until it is
// stored (or failed). The session cookie authenticates these calls like the page itself.
(function () {
  "use strict";
  var PENDING = { queued: true, running: true };
  var INTERVAL = 700;

  function text(el, value) { if (el) { el.textContent = value == null ? "" : String(value); } }

  function updateRow(row, data) {
    row.setAttribute("data-status", data.status);
    var badge = row.querySelector(".status");
    badge.className = "status " + data.status;
    text(badge, data.status);
    var cap = data.capture;
    if (!cap) { return; }
    var status = row.querySelector("td.http");
    text(status, cap.http_status);
    if (!row.querySelector(".outcome")) {
      var outcome = document.createElement("span");
      outcome.className = "outcome";
      badge.after(" ", outcome);
    }
    text(row.querySelector(".outcome"), cap.outcome);
    if (cap.screenshot_sha256 && !row.querySelector("td.thumb img")) {
      var link = row.querySelector("td.thumb a");
      var img = document.createElement("img");
      img.alt = "screenshot of report " + data.id;
      img.src = "/api/captures/" + data.id + "/screenshot";
      link.className = "";
      link.appendChild(img);
    }
  }

  function poll(el) {
    var id = el.getAttribute("data-report");
    fetch("/api/captures/" + id, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (data) {
        if (PENDING[data.status]) { setTimeout(function () { poll(el); }, INTERVAL); return; }
        if (el.getAttribute("data-page") === "capture") { window.location.reload(); return; }
        updateRow(el, data);
      })
      .catch(function () { setTimeout(function () { poll(el); }, INTERVAL * 3); });
  }

  document.querySelectorAll("[data-report]").forEach(function (el) {
    if (PENDING[el.getAttribute("data-status")]) { setTimeout(function () { poll(el); }, INTERVAL); }
  });
})();
