// The album page's "Share album": one link to the whole album, made with share-form.js's dialog.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const albumId = document.querySelector("[data-album]").dataset.album;
  const dialog = window.VivantShareForm.create(document.querySelector("[data-share-dialog]"), {
    endpoint: () => `/api/albums/${encodeURIComponent(albumId)}/shares`,
  });
  document.querySelector("[data-open-album-share]").addEventListener("click", dialog.open);
});
