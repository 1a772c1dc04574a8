// New batch: show how much video the batch will make before it starts.
(function () {
  "use strict";
  const form = document.querySelector("[data-batch-form]");
  if (!form) return;
  const estimate = form.querySelector("[data-estimate]");
  const audio = form.querySelector("[data-audio]");

  function update() {
    const items = form.querySelectorAll("[data-item]:checked").length;
    const option = audio && audio.selectedOptions[0];
    const seconds = option ? parseFloat(option.dataset.duration || "0") : 0;
    if (!items || !seconds) return;
    estimate.textContent = estimate.dataset.template
      .replace("%(items)s", items)
      .replace("%(seconds)s", Math.round(items * seconds));
  }

  form.addEventListener("change", update);
  update();
})();
