// Uploads: one request per file, two at a time, each with its own row, progress bar and outcome.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { el, errorText } = window.Vivant;
  const input = document.querySelector("[data-file-input]");
  const zone = document.querySelector("[data-dropzone]");
  const list = document.querySelector("[data-upload-list]");
  const done = document.querySelector("[data-upload-done]");
  const AT_ONCE = 2;
  const waiting = [];
  let active = 0;

  function row(file) {
    const name = el("span", { className: "upload-name", text: file.name || "photo" });
    const bar = el("progress", { max: 1, value: 0, "aria-label": `Uploading ${file.name}` });
    const status = el("span", { className: "upload-status", text: "Waiting…" });
    const item = el("li", { className: "upload-row" }, name, bar, status);
    list.append(item);
    return { item, bar, status };
  }

  function finish(view, kind, message, photoId) {
    view.item.classList.add(kind);
    view.bar.remove();
    view.status.textContent = "";
    if (photoId) {
      view.status.append(
        el("a", { href: `/photos/${encodeURIComponent(photoId)}`, text: message }),
      );
    } else {
      view.status.textContent = message;
    }
  }

  // XMLHttpRequest rather than fetch: only it reports upload progress.
  function send(file, view) {
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      const form = new FormData();
      form.append("files", file, file.name);
      xhr.open("POST", "/api/photos");
      xhr.setRequestHeader("X-CSRF-Token", document.querySelector('meta[name="csrf-token"]').content);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.responseType = "json";
      view.status.textContent = "Uploading…";
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) view.bar.value = e.loaded / e.total;
      };
      xhr.upload.onload = () => {
        view.bar.removeAttribute("value"); // indeterminate while the server checks the photo
        view.status.textContent = "Checking…";
      };
      xhr.onload = () => {
        const data = xhr.response;
        if (xhr.status === 201 && Array.isArray(data) && data.length) {
          const result = data[0];
          if (result.error) finish(view, "refused", result.error);
          else if (result.duplicate) finish(view, "duplicate", "already in your library", result.id);
          else finish(view, "added", "added", result.id);
        } else if (xhr.status === 401) {
          finish(view, "refused", "You are signed out. Sign in again, then retry.");
        } else {
          finish(view, "refused", errorText(data, xhr.status));
        }
        resolve();
      };
      xhr.onerror = () => {
        finish(view, "refused", errorText(null, 0));
        resolve();
      };
      xhr.send(form);
    });
  }

  function pump() {
    while (active < AT_ONCE && waiting.length) {
      const { file, view } = waiting.shift();
      active += 1;
      send(file, view).then(() => {
        active -= 1;
        if (!waiting.length && active === 0) done.hidden = false;
        pump();
      });
    }
  }

  function add(files) {
    if (!files.length) return;
    done.hidden = true;
    for (const file of files) waiting.push({ file, view: row(file) });
    pump();
  }

  function takeChosen() {
    add([...input.files]);
    input.value = ""; // the same files may be chosen again
  }
  input.addEventListener("change", takeChosen);
  // Files chosen while this script was still loading fired their change event before anyone listened.
  if (input.files.length) takeChosen();
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (e) => {
      e.preventDefault();
      zone.classList.add("over");
    });
  }
  for (const type of ["dragleave", "drop"]) {
    zone.addEventListener(type, () => zone.classList.remove("over"));
  }
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    add([...e.dataTransfer.files]);
  });
});
