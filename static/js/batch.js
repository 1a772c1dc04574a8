// Live batch page: progress events arrive over a WebSocket and update each
// item in place. When an item finishes its row is fetched again from the
// server, which renders the player, the download link, the translated error
// and the right buttons. Events sent while the socket was away (Redis
// restarting, a network hiccup) are not replayed: on every (re)connect the
// page fetches every item's state once and applies it like an event.
(function () {
  "use strict";
  const list = document.querySelector("[data-batch]");
  if (!list) return;
  const labels = (document.querySelector("[data-batch-labels]") || { dataset: {} }).dataset;
  const summary = document.querySelector("[data-batch-summary]");
  const cancelRest = document.querySelector("[data-cancel-rest]");
  const zip = document.querySelector("[data-zip]");
  // The order of the summary line: "2 succeeded, 1 failed, 1 running".
  const SUMMARY = ["succeeded", "failed", "cancelled", "running", "queued"];
  const live = document.querySelector("[data-live-status]");
  const FINAL = ["succeeded", "failed", "cancelled"];
  let retryDelay = 1000;

  // Seconds as h:mm:ss, like the |hms template filter.
  function hms(seconds) {
    const total = Math.max(0, Math.round(seconds));
    const two = (n) => String(n).padStart(2, "0");
    return Math.floor(total / 3600) + ":" + two(Math.floor(total % 3600 / 60)) + ":" + two(total % 60);
  }

  function field(row, name) { return row.querySelector('[data-field="' + name + '"]'); }

  function updateSummary() {
    if (!summary) return;
    const rows = Array.from(list.querySelectorAll("[data-render]"));
    const count = (status) => rows.filter((r) => r.dataset.status === status).length;
    summary.textContent = SUMMARY.filter((status) => count(status))
      .map((status) => summary.dataset[status].replace("%(n)s", count(status)))
      .join(summary.dataset.separator);
    if (cancelRest) cancelRest.hidden = rows.every((r) => FINAL.includes(r.dataset.status));
    // Only rows with a player have something to download (rows are swapped in when they finish).
    if (zip) zip.hidden = !list.querySelector("[data-download]");
  }

  function refreshRow(id) {
    return fetch("/renders/" + id + "/row/", { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then((response) => (response.ok ? response.text() : null))
      .then((html) => {
        const row = list.querySelector('[data-render="' + id + '"]');
        if (!html || !row) return;
        const holder = document.createElement("div");
        holder.innerHTML = html.trim();
        row.replaceWith(holder.firstElementChild);
        updateSummary();
      });
  }

  function apply(event) {
    const row = list.querySelector('[data-render="' + event.render + '"]');
    if (!row) return;
    const changed = row.dataset.status !== event.status;
    const wasFinal = FINAL.includes(row.dataset.status);
    row.dataset.status = event.status;
    row.className = "card render status-" + event.status;
    field(row, "status").textContent = labels[event.status] || event.status;
    if (typeof event.progress === "number") field(row, "progress").value = event.progress;
    const active = event.status === "running" || event.status === "queued";
    field(row, "stage").textContent = active ? (labels[event.stage] || "") : "";
    field(row, "frames").textContent = active && event.total
      ? (labels.frames || "%(done)s/%(total)s").replace("%(done)s", event.done).replace("%(total)s", event.total) : "";
    field(row, "fps").textContent = active && event.fps ? event.fps.toFixed(1) + " fps" : "";
    field(row, "eta").textContent = active && event.eta_s ? (labels.left || "%(time)s").replace("%(time)s", hms(event.eta_s)) : "";
    if (changed && (FINAL.includes(event.status) || wasFinal)) refreshRow(event.render);
    updateSummary();
  }

  function resync() {
    fetch(list.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? response.json() : null))
      .then((data) => { if (data) data.renders.forEach(apply); })
      .catch(() => {});
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + window.location.host + list.dataset.socket);
    socket.onopen = () => {
      if (live) live.textContent = "";
      retryDelay = 1000;
      resync();
    };
    socket.onmessage = (message) => {
      const event = JSON.parse(message.data);
      if (event.type === "render.progress" && String(event.batch) === list.dataset.batch) apply(event);
    };
    socket.onclose = (closed) => {
      if (closed.code === 4401 || closed.code === 4404) return;
      if (live) live.textContent = live.dataset.offline;
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 15000);
    };
  }

  list.dataset.liveReady = "1";
  connect();
})();
