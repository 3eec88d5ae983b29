// The albums page: every album with its cover, title and photo count, and a form to make one.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, el, showError } = window.Vivant;
  const list = document.querySelector("[data-albums]");
  const form = document.querySelector("[data-new-album]");
  const errorBox = document.querySelector("[data-albums-error]");
  const loading = document.querySelector("[data-albums-loading]");
  const empty = document.querySelector("[data-albums-empty]");

  function card(album) {
    const count = `${album.photo_count} photo${album.photo_count === 1 ? "" : "s"}`;
    const cover = album.cover_url
      ? el("img", { src: album.cover_url, alt: "", loading: "lazy" })
      : el("span", { className: "album-cover-empty" }, "No photos yet");
    return el("li", { className: "album-card", "data-album-id": album.id },
      el("a", { href: `/albums/${encodeURIComponent(album.id)}` },
        el("span", { className: "album-cover" }, cover),
        el("span", { className: "album-title" }, album.title),
        el("span", { className: "album-count" }, count)));
  }

  async function load() {
    const result = await api("GET", "/api/albums");
    loading.hidden = true;
    if (!result.ok) return showError(errorBox, `Could not load the albums: ${result.error}`);
    list.replaceChildren(...result.data.map(card));
    empty.hidden = result.data.length > 0;
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const button = form.querySelector("button");
    button.disabled = true;
    const result = await api("POST", "/api/albums", {
      title: String(data.get("title")).trim(),
      description: String(data.get("description")).trim(),
    });
    button.disabled = false;
    if (!result.ok) return showError(errorBox, `Could not make the album: ${result.error}`);
    window.location.assign(`/albums/${encodeURIComponent(result.data.id)}`);
  });

  load();
});
