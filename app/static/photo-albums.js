// The photo page's small album and favourite controls: the heart in the header, the albums this photo is
// in (each with a remove button), and a select to add it to another album.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, el, showError } = window.Vivant;
  const photo = JSON.parse(document.getElementById("photo-data").textContent);
  const photoPath = encodeURIComponent(photo.id);
  const list = document.querySelector("[data-photo-album-list]");
  const form = document.querySelector("[data-photo-album-add]");
  const select = form.elements.album;
  const errorBox = document.querySelector("[data-photo-albums-error]");
  const heart = document.querySelector("[data-favourite]");

  function showHeart() {
    heart.setAttribute("aria-pressed", photo.favourite ? "true" : "false");
    heart.title = photo.favourite ? "Remove from your favourites" : "Add to your favourites";
    heart.setAttribute("aria-label", heart.title);
  }

  heart.addEventListener("click", async () => {
    heart.disabled = true;
    const result = await api(photo.favourite ? "DELETE" : "PUT", `/api/photos/${photoPath}/favourite`);
    heart.disabled = false;
    if (!result.ok) return showError(errorBox, `Could not change your favourites: ${result.error}`);
    photo.favourite = !photo.favourite;
    showHeart();
  });

  function entry(album) {
    const remove = el("button", { type: "button", className: "button quiet small", "aria-label": `Remove from ${album.title}` }, "Remove");
    remove.addEventListener("click", async () => {
      remove.disabled = true;
      const result = await api("DELETE", `/api/albums/${encodeURIComponent(album.id)}/photos/${photoPath}`);
      if (!result.ok) {
        remove.disabled = false;
        return showError(errorBox, `Could not remove it from the album: ${result.error}`);
      }
      load();
    });
    return el("li", { "data-album-id": album.id },
      el("a", { href: `/albums/${encodeURIComponent(album.id)}` }, album.title), remove);
  }

  async function load() {
    const [mine, all] = await Promise.all([api("GET", `/api/photos/${photoPath}/albums`), api("GET", "/api/albums")]);
    if (!mine.ok || !all.ok) return showError(errorBox, `Could not load the albums: ${(mine.ok ? all : mine).error}`);
    showError(errorBox, "");
    const inIds = new Set(mine.data.map((a) => a.id));
    list.replaceChildren(...(mine.data.length ? mine.data.map(entry) : [el("li", { className: "note" }, "In no album yet.")]));
    const others = all.data.filter((a) => !inIds.has(a.id));
    select.replaceChildren(el("option", { value: "" }, others.length ? "Choose an album…" : "No other album"),
      ...others.map((a) => el("option", { value: a.id }, a.title)));
    form.hidden = all.data.length === 0;
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!select.value) return;
    const result = await api("POST", `/api/albums/${encodeURIComponent(select.value)}/photos`, { photo_ids: [photo.id] });
    if (!result.ok) return showError(errorBox, `Could not add it to the album: ${result.error}`);
    load();
  });

  showHeart();
  load();
});
