// New batch: show how much video the batch will make before it starts
// (each presenter speaks each chosen recording: presenters x recordings videos).
(function () {
  "use strict";
  const form = document.querySelector("[data-batch-form]");
  if (!form) return;
  const estimate = form.querySelector("[data-estimate]");
  const audio = form.querySelector("[data-audio]");

  function update() {
    const presenters = form.querySelectorAll("[data-item]:checked").length;
    const option = audio && audio.selectedOptions[0];
    // Every recording (the chosen one and each extra one ticked) with every presenter.
    let audios = option && option.value ? 1 : 0;
    let spoken = option ? parseFloat(option.dataset.duration || "0") : 0;
    form.querySelectorAll("[data-more-audio]:checked").forEach(function (box) {
      if (option && box.value === option.value) return;
      audios += 1;
      spoken += parseFloat(box.dataset.duration || "0");
    });
    const items = presenters * Math.max(1, audios);
    // Only the chosen recording's warnings (without JavaScript all show, each named).
    form.querySelectorAll("[data-audio-warnings]").forEach(function (list) {
      list.hidden = !option || list.dataset.audioWarnings !== option.value;
    });
    if (!items || !spoken) {
      estimate.textContent = estimate.dataset.empty;
      return;
    }
    estimate.textContent = (items === 1 ? estimate.dataset.one : estimate.dataset.many)
      .replace("%(items)s", items)
      .replace("%(seconds)s", Math.max(1, Math.round(presenters * spoken)));
  }

  form.addEventListener("change", update);
  update();
})();
