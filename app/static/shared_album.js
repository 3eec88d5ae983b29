// The public page of an album link: each photo's clip plays on hover (mouse) or on a first tap (touch; a
// second tap opens the photo), and "Play film" hands the album to the player (/static/player.js) where
// that script is present.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const grid = document.querySelector("[data-shared-grid]");
  const playFilm = document.querySelector("[data-play-film]");
  const itemsData = document.getElementById("player-items");
  let lastPointer = "mouse";

  function play(item) {
    const video = item.querySelector("video");
    if (!video) return;
    video.muted = true; // the attribute alone does not always allow autoplay; script must say so too
    item.classList.add("playing");
    video.play().catch(() => item.classList.remove("playing"));
  }

  function stop(item) {
    item.classList.remove("playing");
    item.querySelector("video")?.pause();
  }

  if (grid) {
    for (const item of grid.querySelectorAll(".tile-item")) {
      const link = item.querySelector(".tile");
      link.addEventListener("pointerenter", (e) => {
        if (e.pointerType === "mouse") play(item);
      });
      link.addEventListener("pointerleave", (e) => {
        if (e.pointerType === "mouse") stop(item);
      });
      link.addEventListener("pointerdown", (e) => (lastPointer = e.pointerType));
      link.addEventListener("click", (e) => {
        if (lastPointer === "mouse" || !item.querySelector("video") || item.classList.contains("playing")) return;
        e.preventDefault();
        for (const other of grid.querySelectorAll(".tile-item.playing")) stop(other);
        play(item);
      });
    }
  }

  // The player is another script: the button shows only once it is there, so the page works without it.
  if (playFilm && itemsData && window.VivantPlayer && typeof window.VivantPlayer.open === "function") {
    const items = JSON.parse(itemsData.textContent);
    playFilm.hidden = items.length === 0;
    const album = document.querySelector("h1")?.textContent.trim() || "";
    playFilm.addEventListener("click", () => window.VivantPlayer.open(items, { album }));
  }

  // "Watch the film" scrolls to it and starts it.
  document.querySelector("[data-watch-film]")?.addEventListener("click", () => {
    document.querySelector("[data-album-film]")?.play().catch(() => {});
  });
});
