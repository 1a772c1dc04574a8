// Drag-and-drop and file-picker upload, one request per file so each file
// gets its own progress bar and its own verdict (a refused file does not
// hold back the others).
(function () {
  "use strict";
  const form = document.querySelector("[data-upload]");
  if (!form) return;
  const input = form.querySelector("input[type=file]");
  const list = form.querySelector("[data-upload-list]");
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const text = {
    uploading: form.dataset.uploading || "Uploading…",
    checking: form.dataset.checking || "Checking the file…",
    done: form.dataset.done || "Uploaded",
    duplicate: form.dataset.duplicate || "Already in this project",
    failed: form.dataset.failed || "Upload failed: check your connection and try again.",
  };
  let pending = 0;

  function row(file) {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.textContent = file.name;
    const bar = document.createElement("progress");
    bar.max = 100; bar.value = 0;
    const status = document.createElement("span");
    status.className = "status";
    status.textContent = text.uploading;
    li.append(name, bar, status);
    list.append(li);
    return { li, bar, status };
  }

  function send(file) {
    const ui = row(file);
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
      pending -= 1;
      let result = null;
      try { result = JSON.parse(xhr.responseText).files[0]; } catch (err) { result = null; }
      if (xhr.status === 200 && result) {
        ui.bar.value = 100;
        if (result.ok) {
          ui.li.className = "done";
          ui.status.textContent = result.duplicate ? text.duplicate : text.done;
        } else {
          ui.li.className = "refused";
          ui.status.textContent = result.error;
        }
      } else {
        ui.li.className = "refused";
        ui.status.textContent = text.failed;
      }
      if (pending === 0 && list.querySelector(".done")) {
        setTimeout(() => window.location.reload(), list.querySelector(".refused") ? 2500 : 600);
      }
    };
    xhr.onerror = () => { pending -= 1; ui.li.className = "refused"; ui.status.textContent = text.failed; };
    pending += 1;
    xhr.send(data);
  }

  function sendAll(files) { Array.from(files).forEach(send); }

  input.addEventListener("change", () => { sendAll(input.files); input.value = ""; });
  ["dragenter", "dragover"].forEach((ev) => form.addEventListener(ev, (e) => { e.preventDefault(); form.classList.add("over"); }));
  ["dragleave", "drop"].forEach((ev) => form.addEventListener(ev, (e) => { e.preventDefault(); form.classList.remove("over"); }));
  form.addEventListener("drop", (e) => sendAll(e.dataTransfer.files));
})();
