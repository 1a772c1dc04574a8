// The language menu in the top bar switches as soon as a language is chosen
// (without JavaScript, a "Change" button inside <noscript> submits it).
(function () {
  "use strict";
  document.querySelectorAll("[data-language-form] select").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
})();
