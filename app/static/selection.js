// Selection mode, shared by the timeline and the album page: tick tiles (shift-click ticks a range), then act
// on them all from the bar (app/templates/_selection_bar.html). `options.albumId` adds the album's own
// actions; `options.removed(ids)` takes tiles away after a delete or a removal; `options.reload()` refreshes.
"use strict";

window.VivantSelection = (() => {
  const { api, el } = window.Vivant;
  const DOWNLOAD_GAP_MS = 400;

  function create(root, options) {
    const bar = document.querySelector("[data-select-bar]");
    const count = bar.querySelector("[data-select-count]");
    const message = bar.querySelector("[data-select-message]");
    const albumForm = bar.querySelector("[data-select-album]");
    const albumChoice = bar.querySelector("[data-album-choice]");
    const newTitle = bar.querySelector("[data-new-album-title]");
    const toggleButton = document.querySelector("[data-select-toggle]");
    const chosen = new Set();
    let anchor = null; // the last tile ticked, where a shift-click range starts
    let on = false;

    const items = () => [...root.querySelectorAll(".tile-item")];
    const itemFor = (id) => root.querySelector(`.tile-item[data-photo-id="${CSS.escape(id)}"]`);
    const photos = () => items().filter((i) => chosen.has(i.dataset.photoId)).map((i) => i.photo);

    function say(text, isError = false) {
      message.textContent = text;
      message.classList.toggle("error", isError);
      message.hidden = !text;
    }

    function render() {
      for (const item of items()) {
        const picked = chosen.has(item.dataset.photoId);
        item.classList.toggle("selected", picked);
        item.querySelector(".tile-check").checked = picked;
      }
      count.textContent = chosen.size ? `${chosen.size} selected` : "None selected";
      for (const button of bar.querySelectorAll("[data-select-action], [data-select-album] button")) {
        button.disabled = chosen.size === 0 || (button.dataset.selectAction === "cover" && chosen.size !== 1);
      }
    }

    function start() {
      if (on) return;
      on = true;
      document.body.classList.add("selecting");
      bar.hidden = false;
      if (toggleButton) toggleButton.setAttribute("aria-pressed", "true");
      loadAlbums();
      render();
    }

    function stop() {
      on = false;
      chosen.clear();
      anchor = null;
      document.body.classList.remove("selecting");
      bar.hidden = true;
      if (toggleButton) toggleButton.setAttribute("aria-pressed", "false");
      say("");
      render();
    }

    function toggle(id, range) {
      const all = items().map((i) => i.dataset.photoId);
      if (range && anchor && all.includes(anchor)) {
        const [a, b] = [all.indexOf(anchor), all.indexOf(id)].sort((x, y) => x - y);
        for (const other of all.slice(a, b + 1)) chosen.add(other);
      } else if (chosen.has(id)) {
        chosen.delete(id);
      } else {
        chosen.add(id);
      }
      anchor = id;
      render();
    }

    async function loadAlbums() {
      const result = await api("GET", "/api/albums");
      if (!result.ok) return;
      const albums = result.data.filter((a) => a.id !== options.albumId);
      albumChoice.replaceChildren(el("option", { value: "" }, "Add to album…"), el("option", { value: "new" }, "New album…"),
        ...albums.map((a) => el("option", { value: a.id }, a.title)));
      albumChoice.value = newTitle.hidden ? "" : "new";
    }

    albumChoice.addEventListener("change", () => {
      newTitle.hidden = albumChoice.value !== "new";
      if (!newTitle.hidden) newTitle.focus();
    });

    albumForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      let albumId = albumChoice.value;
      if (!albumId) return say("Choose an album, or “New album…” to make one.", true);
      if (albumId === "new") {
        const title = newTitle.value.trim();
        if (!title) return say("Give the new album a title first.", true);
        const made = await api("POST", "/api/albums", { title });
        if (!made.ok) return say(`Could not make the album: ${made.error}`, true);
        albumId = made.data.id;
      }
      const ids = [...chosen];
      const added = await api("POST", `/api/albums/${encodeURIComponent(albumId)}/photos`, { photo_ids: ids });
      if (!added.ok) return say(`Could not add to the album: ${added.error}`, true);
      newTitle.value = "";
      newTitle.hidden = true;
      albumChoice.value = "";
      await loadAlbums();
      const link = el("a", { href: `/albums/${encodeURIComponent(albumId)}` }, "Open the album");
      say(`Added ${added.data.added} photo${added.data.added === 1 ? "" : "s"} (${ids.length - added.data.added} already there). `);
      message.append(link);
    });

    // One request a photo where the API acts on one photo; the refusals are told per photo.
    async function eachPhoto(method, url) {
      const refused = [];
      const done = [];
      for (const photo of photos()) {
        const result = await api(method, url(photo));
        if (result.ok) done.push(photo);
        else refused.push(`${window.VivantTiles.takenWords(photo)}: ${result.error}`);
      }
      return { done, refused };
    }

    const actions = {
      async animate() {
        const result = await api("POST", "/api/photos/animate", { photo_ids: [...chosen] });
        if (!result.ok) return say(`Could not animate: ${result.error}`, true);
        say(result.data.queued ? `Queued ${result.data.queued} clip${result.data.queued === 1 ? "" : "s"}; the others already have one.` : "Every selected photo already has a clip.");
        options.reload();
      },
      async favourite() {
        const { done, refused } = await eachPhoto("PUT", (p) => `/api/photos/${encodeURIComponent(p.id)}/favourite`);
        for (const photo of done) {
          photo.favourite = true;
          window.VivantTiles.update(itemFor(photo.id), photo);
        }
        say(refused.length ? refused.join(" · ") : `${done.length} marked as favourites.`, refused.length > 0);
      },
      // One original after another, each by its own link: no archive to build on the server, and each
      // file keeps its own name; the browser may ask once whether this site may download several files.
      async download() {
        for (const photo of photos()) {
          const link = el("a", { href: photo.original_url, download: photo.original_name });
          document.body.append(link);
          link.click();
          link.remove();
          await new Promise((resolve) => setTimeout(resolve, DOWNLOAD_GAP_MS));
        }
        say(`Downloading ${chosen.size} original${chosen.size === 1 ? "" : "s"}.`);
      },
      async delete() {
        const n = chosen.size;
        if (!window.confirm(`Delete ${n} photo${n === 1 ? "" : "s"} with their clips and links? This cannot be undone.`)) return;
        const { done, refused } = await eachPhoto("DELETE", (p) => `/api/photos/${encodeURIComponent(p.id)}`);
        finish(done, refused, "deleted");
      },
      async remove() {
        const album = encodeURIComponent(options.albumId);
        const { done, refused } = await eachPhoto("DELETE", (p) => `/api/albums/${album}/photos/${encodeURIComponent(p.id)}`);
        finish(done, refused, "removed from the album (they stay in your photos)");
      },
      async cover() {
        const [photo] = photos();
        const result = await api("PATCH", `/api/albums/${encodeURIComponent(options.albumId)}`, { cover_photo_id: photo.id });
        if (!result.ok) return say(`Could not set the cover: ${result.error}`, true);
        say("That photo is now the album's cover.");
      },
    };

    function finish(done, refused, verb) {
      const ids = done.map((p) => p.id);
      for (const id of ids) chosen.delete(id);
      options.removed(ids);
      render();
      const summary = done.length ? `${done.length} ${verb}.` : "";
      say([summary, ...refused].filter(Boolean).join(" · "), refused.length > 0);
    }

    for (const button of bar.querySelectorAll("[data-select-action]")) {
      button.addEventListener("click", async () => {
        button.disabled = true;
        say("");
        try {
          await actions[button.dataset.selectAction]();
        } finally {
          render();
        }
      });
    }
    bar.querySelector("[data-select-done]").addEventListener("click", stop);
    if (toggleButton) toggleButton.addEventListener("click", () => (on ? stop() : start()));
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && on) stop();
    });

    return { active: () => on, start, stop, toggle, render };
  }

  return { create };
})();
