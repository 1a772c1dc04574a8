// The voice picker's "Listen" button: plays a short sample of the chosen voice.
(function () {
  document.querySelectorAll("[data-voice-listen]").forEach(function (button) {
    const picker = button.closest(".voice-picker");
    const select = document.getElementById(button.dataset.voiceListen);
    const audio = picker.querySelector("[data-voice-audio]");
    const error = picker.querySelector("[data-voice-error]");
    function sampleUrl() {
      const option = select.options[select.selectedIndex];
      return option ? option.dataset.sample || "" : "";
    }
    function refresh() { button.disabled = !sampleUrl(); }
    function stopped() { button.textContent = button.dataset.listen; }
    select.addEventListener("change", function () { audio.pause(); stopped(); error.hidden = true; refresh(); });
    audio.addEventListener("ended", stopped);
    audio.addEventListener("pause", stopped);
    audio.addEventListener("error", async function () {
      stopped();
      // The server says why in plain words (e.g. an installed voice without a sample).
      try {
        const response = await fetch(audio.src);
        error.textContent = response.ok ? "" : await response.text();
      } catch (e) { error.textContent = ""; }
      error.hidden = !error.textContent;
    });
    button.addEventListener("click", function () {
      if (!audio.paused) { audio.pause(); return; }
      const url = sampleUrl();
      if (!url) return;
      error.hidden = true;
      if (audio.getAttribute("src") !== url) audio.src = url;
      audio.currentTime = 0;
      button.textContent = button.dataset.stop;
      audio.play().catch(function () {});
    });
    refresh();
  });
})();
