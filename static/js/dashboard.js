// Dashboard: every progress event of the user arrives on /ws/progress/.
// A running batch's bar moves in place (the server sends each batch's item
// counts and its running items only); when an item starts or finishes, or a
// batch the page does not show yet starts, the "Rendering now" and "Recent
// results" sections are fetched again from the server. So they are on every
// (re)connect of the socket: events sent while it was away are not replayed.
(function () {
  "use strict";
  const running = document.querySelector('[data-section="running"]');
  if (!running) return;
  const labels = (document.querySelector("[data-dash-labels]") || { dataset: {} }).dataset;
  const FINAL = ["succeeded", "failed", "cancelled"];
  let retryDelay = 1000;
  let refreshTimer = null;

  // Seconds as h:mm:ss, like the |hms template filter.
  function hms(seconds) {
    const total = Math.max(0, Math.round(seconds));
    const two = (n) => String(n).padStart(2, "0");
    return Math.floor(total / 3600) + ":" + two(Math.floor(total % 3600 / 60)) + ":" + two(total % 60);
  }

  function field(card, name) { return card.querySelector('[data-field="' + name + '"]'); }

  function refreshSections() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(() => {
      refreshTimer = null;
      fetch(window.location.pathname, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then((response) => (response.ok ? response.text() : null))
        .then((html) => {
          if (!html) return;
          const fresh = new DOMParser().parseFromString(html, "text/html");
          ["running", "results"].forEach((name) => {
            const now = document.querySelector('[data-section="' + name + '"]');
            const next = fresh.querySelector('[data-section="' + name + '"]');
            if (now && next) now.replaceChildren(...Array.from(next.childNodes).map((n) => document.importNode(n, true)));
          });
        })
        .catch(() => {});
    }, 400);
  }

  function apply(event) {
    const card = running.querySelector('[data-dash-batch="' + event.batch + '"]');
    const item = card && card.querySelector('[data-item="' + event.render + '"]');
    if (!item || FINAL.includes(event.status)) { refreshSections(); return; }
    item.dataset.status = event.status;
    if (typeof event.progress === "number") item.dataset.progress = event.progress;
    const total = parseInt(card.dataset.total, 10) || 0;
    const finished = parseInt(card.dataset.finished, 10) || 0;
    const items = Array.from(card.querySelectorAll("[data-item]"));
    const sum = items.reduce((acc, i) => acc + (parseFloat(i.dataset.progress) || 0), finished);
    field(card, "progress").value = total ? sum / total : 0;
    // The per-outcome count line changes only when an item finishes, and then the section is re-read.
    if (event.status === "running") {
      field(card, "current").textContent = (labels[event.stage] || labels.queued || "") + ": " + item.dataset.title;
      field(card, "eta").textContent = event.eta_s ? (labels.left || "%(time)s").replace("%(time)s", hms(event.eta_s)) : "";
    }
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + window.location.host + "/ws/progress/");
    socket.onopen = () => {
      refreshSections(); // events sent before this socket joined are not replayed
      retryDelay = 1000;
    };
    socket.onmessage = (message) => {
      const event = JSON.parse(message.data);
      if (event.type === "render.progress") apply(event);
    };
    socket.onclose = (closed) => {
      if (closed.code === 4401 || closed.code === 4404) return;
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 15000);
    };
  }

  running.dataset.liveReady = "1";
  connect();
})();
