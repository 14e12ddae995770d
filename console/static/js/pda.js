/* Handheld pages (console/pda.py): keep the one scan input focused, sound and vibrate for right
 * and wrong, and send each action with an id made on this device; when the network drops the
 * answer, send the same action again with the same id until it gets through (the API answers a
 * known id with its stored answer, so nothing is done twice and nobody scans again). */
(function () {
  "use strict";

  function newId() {
    var bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes);
    return "pda-" + Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function beep(ok) {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { return; }
    try {
      var audio = new Context();
      var tones = ok ? [[1046, 0, 0.12]] : [[220, 0, 0.18], [196, 0.24, 0.3]];
      tones.forEach(function (tone) {
        var osc = audio.createOscillator();
        var gain = audio.createGain();
        osc.type = ok ? "sine" : "square";
        osc.frequency.value = tone[0];
        gain.gain.value = 0.2;
        osc.connect(gain);
        gain.connect(audio.destination);
        osc.start(audio.currentTime + tone[1]);
        osc.stop(audio.currentTime + tone[2]);
      });
    } catch (e) { /* no sound: the colour says it */ }
    if (navigator.vibrate) { navigator.vibrate(ok ? 60 : [120, 80, 120]); }
  }

  function focusScan() {
    var input = document.querySelector("[data-scan]");
    if (input && document.activeElement !== input) { input.focus(); }
  }

  function say(text) {
    var net = document.getElementById("net");
    if (!net) { return; }
    net.textContent = text;
    net.hidden = !text;
  }

  function send(form, body, attempt) {
    return fetch(form.action, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      redirect: "follow",
      headers: { "Content-Type": "application/x-www-form-urlencoded" }
    }).then(function (response) {
      if (response.status >= 500) { return again(form, body, attempt); }
      if (response.redirected) {
        window.location.replace(response.url);
        return null;
      }
      var shown = response.headers.get("X-Pda-Url");
      if (shown) {  // the next screen itself (a pick scan): shown without asking for it again
        return response.text().then(function (html) { swap(html, shown); });
      }
      // A refusal page of the handheld app itself (an expired form): show it as it is.
      return response.text().then(function (html) {
        document.documentElement.innerHTML = html;
      });
    }, function () {
      return again(form, body, attempt);
    });
  }

  function again(form, body, attempt) {
    var words = document.body.getAttribute(attempt < 5 ? "data-retrying" : "data-offline");
    say(words + " (" + (attempt + 1) + ")");
    var wait = Math.min(500 * Math.pow(2, attempt), 8000);
    return new Promise(function (resolve) { window.setTimeout(resolve, wait); })
      .then(function () { return send(form, body, attempt + 1); });
  }

  function wire(form) {
    // A GET form (a scan that only looks something up) navigates as browsers do: posting it
    // would send it to the action's POST route instead.
    if ((form.getAttribute("method") || "get").toLowerCase() !== "post") { return; }
    var idField = form.querySelector("input[name=scan_id]");
    if (idField) { idField.value = newId(); }
    var busy = false;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (busy) { return; }
      var input = form.querySelector("[data-scan]");
      if (input && !input.value.trim()) { return; }
      busy = true;
      var body = new URLSearchParams(new FormData(form)).toString();
      send(form, body, 0);
    });
  }

  function swap(html, url) {
    var next = new DOMParser().parseFromString(html, "text/html");
    document.title = next.title;
    document.body.replaceWith(document.adoptNode(next.body));
    window.history.replaceState(null, "", url);
    start();
  }

  function start() {
    var result = document.body.getAttribute("data-result");
    if (result) { beep(result === "ok"); }
    Array.prototype.forEach.call(document.querySelectorAll("form.scan"), wire);
    focusScan();
  }

  document.addEventListener("DOMContentLoaded", function () {
    start();
    document.addEventListener("click", function (event) {
      var tag = event.target && event.target.tagName;
      if (tag !== "A" && tag !== "BUTTON" && tag !== "INPUT") { focusScan(); }
    });
    window.addEventListener("focus", focusScan);
  });
}());
