// New batch: show how much video the batch will make before it starts
// (each presenter speaks the whole recording: items x audio duration).
(function () {
  "use strict";
  const form = document.querySelector("[data-batch-form]");
  if (!form) return;
  const estimate = form.querySelector("[data-estimate]");
  const audio = form.querySelector("[data-audio]");

  function update() {
    const items = form.querySelectorAll("[data-item]:checked").length;
    const option = audio && audio.selectedOptions[0];
    // Only the chosen recording's warnings (without JavaScript all show, each named).
    form.querySelectorAll("[data-audio-warnings]").forEach(function (list) {
      list.hidden = !option || list.dataset.audioWarnings !== option.value;
    });
    const seconds = option ? parseFloat(option.dataset.duration || "0") : 0;
    if (!items || !seconds) {
      estimate.textContent = estimate.dataset.empty;
      return;
    }
    estimate.textContent = (items === 1 ? estimate.dataset.one : estimate.dataset.many)
      .replace("%(items)s", items)
      .replace("%(seconds)s", Math.max(1, Math.round(items * seconds)));
  }

  form.addEventListener("change", update);
  update();
})();
