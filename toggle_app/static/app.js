// Live numbers and a switch without reloads. Without this script the page still works: the
// switch is a plain form POST and the numbers are those of the page load.
"use strict";
(function () {
  var form = document.getElementById("mode-form");
  if (!form || !window.fetch) return;
  var csrf = form.elements.csrf.value;
  var every = (Number(document.body.dataset.refresh) || 5) * 1000;
  var $ = function (id) { return document.getElementById(id); };
  var timer = 0;

  function render(s) {
    var d = s.display;
    document.querySelectorAll("[data-d]").forEach(function (el) {
      var k = el.getAttribute("data-d");
      if (k in d) el.textContent = d[k];
      if (k in s.tones) el.setAttribute("data-tone", s.tones[k]);
    });
    $("banner").hidden = !d.banner;
    $("charger-note").hidden = !d.charger_note;
    var sw = $("switch");
    sw.setAttribute("aria-checked", String(s.solar_on));
    sw.value = s.solar_on ? "manual" : "solar";
    form.querySelectorAll(".seg button").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.value === s.effective_mode));
    });
    document.body.classList.toggle("off", !s.solar_on);
    $("updated").textContent = "Updated " + new Date().toLocaleTimeString();
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
    f.hidden = false;
  }

  function refresh() {
    clearTimeout(timer);
    call("/api/status", {}).then(render, function (e) {
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
    }).then(function (s) { render(s); say(s.message); },
            function (e) { say("Not switched: " + e.message, true); })
      .then(function () { form.classList.remove("busy"); });
  });

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) refresh();
  });
  timer = setTimeout(refresh, every);
})();
