// One album: its photos by date taken as tiles (tiles.js) with selection (selection.js), renaming and
// deleting for whoever made it, "Play film" (player.js), "Animate this album", and "Export film" (followed until
// it can be downloaded).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, showError, isPending, newestClip, shownClip, pollWhile } = window.Vivant;
  const albumId = document.querySelector("[data-album]").dataset.album;
  const url = `/api/albums/${encodeURIComponent(albumId)}`;
  const grid = document.querySelector("[data-album-grid]");
  const title = document.querySelector("[data-album-title]");
  const description = document.querySelector("[data-album-description]");
  const countLine = document.querySelector("[data-album-count]");
  const empty = document.querySelector("[data-album-empty]");
  const status = document.querySelector("[data-album-status]");
  const errorBox = document.querySelector("[data-album-error]");
  const form = document.querySelector("[data-album-form]");
  const editButton = document.querySelector("[data-edit-album]");
  const deleteButton = document.querySelector("[data-delete-album]");
  const playButton = document.querySelector("[data-play-film]");
  const animateButton = document.querySelector("[data-animate-album]");
  const filmButton = document.querySelector("[data-export-film]");
  const filmBox = document.querySelector("[data-film]");
  const filmStatus = document.querySelector("[data-film-status]");
  const filmProgress = document.querySelector("[data-film-progress]");
  const filmDownload = document.querySelector("[data-film-download]");
  // The film being made, remembered for this tab so that a reload keeps following it.
  const filmKey = `vivant-film-${albumId}`;
  const tiles = new Map(); // photo id -> tile
  let album = null;

  function removed(ids) {
    for (const id of ids) {
      tiles.get(id)?.remove();
      tiles.delete(id);
    }
    album.photo_count = tiles.size;
    showHead();
  }

  const selection = window.VivantSelection.create(grid, { albumId, removed, reload: () => load().then(() => poller.start()) });

  function showHead() {
    title.textContent = album.title;
    description.textContent = album.description;
    description.hidden = !album.description;
    countLine.textContent = `${album.photo_count} photo${album.photo_count === 1 ? "" : "s"}, by date taken`
      + (album.created_by ? ` · made by ${album.created_by}` : "");
    editButton.hidden = deleteButton.hidden = !album.can_edit;
    empty.hidden = album.photo_count > 0;
    animateButton.disabled = album.photo_count === 0;
    playButton.hidden = album.photo_count === 0;
  }

  // Shows the album's photos in its order, keeping the tiles already made (and playing).
  async function load() {
    const result = await api("GET", url);
    if (!result.ok) {
      showError(errorBox, `Could not load the album: ${result.error}`);
      return true;
    }
    showError(errorBox, "");
    album = result.data;
    const order = [];
    for (const photo of album.photos) {
      let item = tiles.get(photo.id);
      if (item) window.VivantTiles.update(item, photo);
      else tiles.set(photo.id, (item = window.VivantTiles.make(photo, selection)));
      order.push(item);
    }
    for (const [id, item] of tiles) {
      if (!album.photos.some((p) => p.id === id)) {
        item.remove();
        tiles.delete(id);
      }
    }
    grid.replaceChildren(...order);
    if (selection.active()) selection.render();
    showHead();
    return album.photos.some((p) => isPending(newestClip(p)));
  }

  const poller = pollWhile(load);

  // The film in the page, as the album stands: each photo's shown clip (a ready one) or else its still.
  function filmItems() {
    // Photos taken out of the album since the last load have lost their tiles already.
    return album.photos.filter((photo) => tiles.has(photo.id)).map((photo) => {
      const clip = shownClip(photo);
      return {
        title: window.VivantTiles.takenDay(photo),
        still_url: photo.display_url,
        clip_url: clip && clip.status === "ready" ? clip.video_url : null,
        original_url: `/photos/${encodeURIComponent(photo.id)}`,
      };
    });
  }

  playButton.addEventListener("click", () => window.VivantPlayer.open(filmItems(), { album: album.title }));

  animateButton.addEventListener("click", async () => {
    animateButton.disabled = true;
    const result = await api("POST", `${url}/animate`);
    animateButton.disabled = false;
    if (!result.ok) return showError(errorBox, `Could not animate the album: ${result.error}`);
    const n = result.data.queued;
    status.textContent = n ? `Queued ${n} clip${n === 1 ? "" : "s"}; they appear here as they are made.` : "Every photo of this album already has a clip.";
    status.hidden = false;
    await load();
    poller.start();
  });

  // Shows the film's state; true while it is still being made.
  async function followFilm() {
    const filmId = sessionStorage.getItem(filmKey);
    if (!filmId) return false;
    const result = await api("GET", `/api/films/${encodeURIComponent(filmId)}`);
    if (!result.ok) {
      sessionStorage.removeItem(filmKey);
      filmBox.hidden = true;
      return false;
    }
    const film = result.data;
    const making = film.status === "queued" || film.status === "running";
    filmBox.hidden = false;
    filmProgress.hidden = !making;
    filmProgress.value = film.progress;
    filmDownload.hidden = film.status !== "ready";
    filmButton.disabled = making;
    if (film.status === "ready") {
      filmDownload.href = film.download_url;
      filmStatus.textContent = `The film is ready (${Math.round(film.duration_s)} s).`;
    } else if (film.status === "failed") {
      filmStatus.textContent = `The film could not be made: ${film.error}`;
    } else {
      filmStatus.textContent = film.status === "queued"
        ? "The film waits for a worker…"
        : `Making the film… ${Math.round(film.progress * 100)}%`;
    }
    return making;
  }

  const filmPoller = pollWhile(followFilm);

  filmButton.addEventListener("click", async () => {
    filmButton.disabled = true;
    const result = await api("POST", `${url}/film`);
    if (!result.ok) {
      filmButton.disabled = false;
      return showError(errorBox, `Could not export the film: ${result.error}`);
    }
    sessionStorage.setItem(filmKey, result.data.id);
    if (await followFilm()) filmPoller.start();
  });

  editButton.addEventListener("click", () => {
    form.elements.title.value = album.title;
    form.elements.description.value = album.description;
    form.hidden = false;
    form.elements.title.focus();
  });
  document.querySelector("[data-album-cancel]").addEventListener("click", () => (form.hidden = true));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const result = await api("PATCH", url, {
      title: form.elements.title.value.trim(),
      description: form.elements.description.value.trim(),
    });
    if (!result.ok) return showError(errorBox, `Could not save: ${result.error}`);
    Object.assign(album, result.data);
    form.hidden = true;
    document.title = `${album.title} · Vivant`;
    showHead();
  });

  deleteButton.addEventListener("click", async () => {
    if (!window.confirm(`Delete the album “${album.title}”? Its photos stay in your gallery.`)) return;
    const result = await api("DELETE", url);
    if (!result.ok) return showError(errorBox, `Could not delete the album: ${result.error}`);
    window.location.assign("/albums");
  });

  load().then((pending) => pending && poller.start());
  followFilm().then((making) => making && filmPoller.start());
});
