// Live refresh for spate's monitoring UI. Every second the page's main
// container is fetched again (the same URL with fragment=1, which returns
// only that container's HTML, rendered and escaped by the server) and
// swapped in. No third-party code; without JavaScript the pages are
// static snapshots.
(function () {
  "use strict";
  var main = document.getElementById("main");
  var live = document.getElementById("live");
  if (!main || !window.fetch || !window.URL) {
    return;
  }
  var busy = false;
  var last = null;

  function fragmentURL() {
    var u = new URL(window.location.href);
    u.searchParams.set("fragment", "1");
    u.hash = "";
    return u.toString();
  }

  function setLive(ok) {
    if (!live) {
      return;
    }
    live.textContent = ok ? "live" : "disconnected";
    live.className = ok ? "live" : "live off";
  }

  function refresh() {
    if (busy || document.hidden) {
      return;
    }
    busy = true;
    fetch(fragmentURL(), { cache: "no-store", credentials: "same-origin" })
      .then(function (resp) {
        if (!resp.ok) {
          throw new Error("HTTP " + resp.status);
        }
        return resp.text();
      })
      .then(function (html) {
        if (html !== last) {
          main.innerHTML = html;
          last = html;
        }
        setLive(true);
      })
      .catch(function () {
        setLive(false);
      })
      .then(function () {
        busy = false;
      });
  }

  window.setInterval(refresh, 1000);

  // The kill button (present only when the server enables it) asks first.
  document.addEventListener("submit", function (e) {
    if (e.target && e.target.id === "kill-form" &&
        !window.confirm("Stop the streaming context?")) {
      e.preventDefault();
    }
  });
})();
