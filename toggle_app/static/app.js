// Live numbers, chart and switch without reloads. Without this script the page still works: the
// switch is a plain form POST and the numbers and chart are those of the page load. The server
// formats every text (and the chart's path data); this script only copies them into place.
"use strict";
(function () {
  var form = document.getElementById("mode-form");
  if (!form || !window.fetch) return;
  var csrf = form.elements.csrf.value;
  var every = (Number(document.body.dataset.refresh) || 5) * 1000;
  var chartEvery = (Number(document.body.dataset.chartRefresh) || 30) * 1000;
  var $ = function (id) { return document.getElementById(id); };
  var timer = 0;
  var chartAt = Date.now();

  function render(s) {
    var d = s.display;
    document.querySelectorAll("[data-d]").forEach(function (el) {
      var k = el.getAttribute("data-d");
      if (k in d) el.textContent = d[k];
      if (k in s.tones) el.setAttribute("data-tone", s.tones[k]);
    });
    $("banner").hidden = !d.banner;
    document.querySelector("details.code").hidden = !d.decision_code;
    $("charger-note").hidden = !d.charger_note;
    var sw = $("switch");
    sw.setAttribute("aria-checked", String(s.solar_on));
    sw.value = s.solar_on ? "manual" : "solar";
    form.querySelectorAll(".seg button").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.value === s.effective_mode));
    });
    document.body.classList.toggle("off", !s.solar_on);
    // "Switched to ... acts at its next cycle" is true only until the controller has acted.
    var f = $("flash");
    if (s.mode_applied && f.hasAttribute("data-pending")) f.hidden = true;
  }

  function drawChart(h) {
    var c = h.chart, svg = $("chart");
    svg.querySelectorAll("[data-p]").forEach(function (el) {
      el.setAttribute("d", c.paths[el.getAttribute("data-p")] || "");
    });
    svg.querySelectorAll("[data-c]").forEach(function (el) {
      el.textContent = c.labels[el.getAttribute("data-c")];
    });
    var zero = $("chart-zero");
    zero.setAttribute("y1", c.zero_y);
    zero.setAttribute("y2", c.zero_y);
    svg.setAttribute("aria-label", c.summary);
    $("chart-empty").textContent = c.summary;
    $("chart-empty").hidden = !c.empty;
  }

  function call(url, opts) {
    opts.credentials = "same-origin";
    opts.cache = "no-store";
    return fetch(url, opts).then(function (r) {
      if (r.status === 401) { location.reload(); throw new Error("logged out"); }
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(body.error || "HTTP " + r.status);
        return body;
      });
    });
  }

  function say(text, isError) {
    var f = $("flash");
    f.textContent = text;
    f.classList.toggle("err", !!isError);
    f.toggleAttribute("data-pending", !isError);
    f.hidden = false;
  }

  function refreshChart() {
    if (Date.now() - chartAt < chartEvery) return null;
    chartAt = Date.now();
    return call("/api/history", {}).then(drawChart);
  }

  function refresh() {
    clearTimeout(timer);
    call("/api/status", {}).then(render).then(refreshChart).catch(function (e) {
      $("updated").textContent = "Offline (" + e.message + "), retrying";
    }).then(function () {
      if (!document.hidden) timer = setTimeout(refresh, every);
    });
  }

  form.addEventListener("submit", function (ev) {
    var b = ev.submitter;
    if (!b || !b.value) return; // old browser: let the plain form POST go
    ev.preventDefault();
    form.classList.add("busy");
    call("/api/mode", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ mode: b.value })
    }).then(function (s) { say(s.message); render(s); },
            function (e) { say("Not switched: " + e.message, true); })
      .then(function () { form.classList.remove("busy"); });
  });

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) refresh();
  });
  timer = setTimeout(refresh, every);
})();
