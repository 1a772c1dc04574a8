// The speech page: poll the job's state until the audio is ready or failed.
(function () {
  const root = document.querySelector("[data-speech]");
  if (!root) return;
  const label = root.querySelector("[data-speech-label]");
  const bar = root.querySelector("[data-speech-progress]");
  const ready = root.querySelector("[data-speech-ready]");
  const failed = root.querySelector("[data-speech-error]");
  async function poll() {
    let state;
    try {
      const response = await fetch(root.dataset.statusUrl, { headers: { Accept: "application/json" } });
      state = await response.json();
    } catch (e) {
      setTimeout(poll, 2000);
      return;
    }
    label.textContent = state.status_display;
    if (state.total) { bar.max = state.total; bar.value = state.done; }
    if (state.status === "succeeded" && !state.asset) {
      // Spoken, then its audio was deleted.
      bar.hidden = true;
      root.querySelector("[data-speech-deleted]").hidden = false;
      return;
    }
    if (state.status === "succeeded") {
      bar.hidden = true;
      root.querySelector("[data-speech-audio]").src = state.audio_url;
      const link = root.querySelector("[data-speech-batch]");
      link.href = link.dataset.base + "?audio=" + state.asset;
      ready.hidden = false;
      return;
    }
    if (state.status === "failed") {
      bar.hidden = true;
      failed.textContent = state.error;
      failed.hidden = !state.error;
      return;
    }
    setTimeout(poll, 700);
  }
  if (!bar.hidden) poll();
})();
