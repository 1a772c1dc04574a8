// Videos from scripts: how many videos the batch makes, before it starts
// (one per typed script, separated by a line of ---; a CSV is counted by "Check").
(function () {
  "use strict";
  const form = document.querySelector("[data-script-batch-form]");
  if (!form) return;
  const estimate = form.querySelector("[data-script-estimate]");
  const over = form.querySelector("[data-script-over]");
  const typed = form.querySelector("textarea[name=scripts]");
  const csv = form.querySelector("input[name=scripts_csv]");
  const checked = estimate.textContent;

  function count(text) {
    return text.split(/^\s*---\s*$/m).filter(function (part) { return part.trim(); }).length;
  }

  function update() {
    over.hidden = true;
    if (csv && csv.files && csv.files.length) {
      estimate.textContent = estimate.dataset.csv;
      return;
    }
    const n = typed ? count(typed.value) : 0;
    if (!n) {
      estimate.textContent = estimate.hasAttribute("data-checked") ? checked : estimate.dataset.empty;
      return;
    }
    estimate.textContent = n === 1 ? estimate.dataset.one : estimate.dataset.many.replace("%(count)s", n);
    const batch = parseInt(estimate.dataset.batch, 10);
    const room = parseInt(estimate.dataset.room, 10);
    if (n > batch) {
      over.textContent = estimate.dataset.overBatch.replace("%(limit)s", batch);
      over.hidden = false;
    } else if (n > room) {
      over.textContent = estimate.dataset.overRoom.replace("%(room)s", room);
      over.hidden = false;
    }
  }

  if (typed) typed.addEventListener("input", update);
  if (csv) csv.addEventListener("change", update);
  update();
})();
