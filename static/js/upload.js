// Drag-and-drop and file-picker upload, one request per file so each file
// gets its own progress bar and its own verdict (a refused file does not
// hold back the others). Two files travel at a time; the rest wait in line.
(function () {
  "use strict";
  const form = document.querySelector("[data-upload]");
  if (!form) return;
  const input = form.querySelector("input[type=file]");
  const list = form.querySelector("[data-upload-list]");
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const text = {
    waiting: form.dataset.waiting || "Waiting…",
    uploading: form.dataset.uploading || "Uploading…",
    checking: form.dataset.checking || "Checking the file…",
    done: form.dataset.done || "Uploaded",
    duplicate: form.dataset.duplicate || "Already in this project",
    failed: form.dataset.failed || "Upload failed: check your connection and try again.",
    tooLarge: form.dataset.tooLarge || "This file is too large for the server.",
    serverError: form.dataset.serverError || "The server could not take this file. Try again later.",
    show: form.dataset.show || "Show the new files",
  };
  const PARALLEL = 2;
  const queue = [];
  let active = 0;

  function row(file) {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = file.name;
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    const status = document.createElement("span");
    status.className = "status";
    status.textContent = text.waiting;
    li.append(name, bar, status);
    list.append(li);
    return { li, bar, status };
  }

  function verdict(ui, className, message) {
    ui.li.className = className;
    ui.status.textContent = message;
    active -= 1;
    next();
  }

  function send(file, ui) {
    active += 1;
    ui.status.textContent = text.uploading;
    const data = new FormData();
    data.append("files", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-CSRFToken", csrf);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) ui.bar.value = Math.round((100 * e.loaded) / e.total);
      if (e.loaded === e.total) ui.status.textContent = text.checking;
    };
    xhr.onload = () => {
      let result = null;
      try { result = JSON.parse(xhr.responseText).files[0]; } catch (err) { result = null; }
      if (xhr.status === 200 && result) {
        ui.bar.value = 100;
        if (result.ok) verdict(ui, "done", result.duplicate ? text.duplicate : text.done);
        else verdict(ui, "refused", result.error);
      } else if (xhr.status === 413) {
        verdict(ui, "refused", (result && result.error) || text.tooLarge);  // the server names its limit
      } else if (xhr.status >= 500) {
        verdict(ui, "refused", text.serverError);
      } else {
        verdict(ui, "refused", text.failed);
      }
    };
    xhr.onerror = () => verdict(ui, "refused", text.failed);
    xhr.send(data);
  }

  function next() {
    while (active < PARALLEL && queue.length) {
      const item = queue.shift();
      send(item.file, item.ui);
    }
    if (active === 0 && queue.length === 0) finished();
  }

  // When every file is in, show the new assets. If a file was refused, its
  // message stays on screen and the page is reloaded only when the user asks.
  function finished() {
    if (!list.querySelector(".done")) return;
    if (!list.querySelector(".refused")) {
      setTimeout(() => window.location.reload(), 600);
      return;
    }
    if (form.querySelector("[data-upload-show]")) return;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "primary";
    button.dataset.uploadShow = "";
    button.textContent = text.show;
    button.addEventListener("click", () => window.location.reload());
    list.after(button);
  }

  function sendAll(files) {
    Array.from(files).forEach((file) => queue.push({ file, ui: row(file) }));
    next();
  }

  input.addEventListener("change", () => { sendAll(input.files); input.value = ""; });
  ["dragenter", "dragover"].forEach((name) => form.addEventListener(name, (e) => { e.preventDefault(); form.classList.add("over"); }));
  ["dragleave", "drop"].forEach((name) => form.addEventListener(name, (e) => { e.preventDefault(); form.classList.remove("over"); }));
  form.addEventListener("drop", (e) => sendAll(e.dataTransfer.files));
})();
