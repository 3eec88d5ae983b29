// Photo tiles, shared by the timeline and the album page: a thumbnail whose clip plays on hover (on touch,
// the first tap plays it and the second opens the photo), live clip progress, a favourite heart, and a
// checkbox for selection mode (a long press on touch starts it).
"use strict";

window.VivantTiles = (() => {
  const { api, el, newestClip, shownClip, isPending } = window.Vivant;
  const LONG_PRESS_MS = 500;
  let lastPointer = "mouse";

  // The day of the camera's clock (or of the upload), in words: what a photo is titled by.
  function takenDay(photo) {
    const [y, m, d] = photo.taken_at.slice(0, 10).split("-").map(Number);
    return new Date(y, m - 1, d).toLocaleDateString(undefined, { day: "numeric", month: "long", year: "numeric" });
  }

  function takenWords(photo) {
    const day = takenDay(photo);
    return photo.taken_at_source === "exif" ? `Photo taken ${day}` : `Photo added ${day} (no date taken in the file)`;
  }

  function play(item) {
    const video = item.querySelector("video");
    if (!video) return;
    item.classList.add("playing");
    video.play().catch(() => item.classList.remove("playing"));
  }

  function stop(item) {
    const video = item.querySelector("video");
    item.classList.remove("playing");
    if (video) video.pause();
  }

  function setBadge(link, className, text) {
    const selector = "." + className.split(" ").join(".");
    let badge = link.querySelector(selector);
    if (!text) {
      if (badge) badge.remove();
      return null;
    }
    if (!badge) {
      badge = el("span", { className });
      link.append(badge);
    }
    badge.textContent = text;
    return badge;
  }

  function showFavourite(button, on) {
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.title = on ? "Remove from your favourites" : "Add to your favourites";
    button.setAttribute("aria-label", button.title);
  }

  // Marks or unmarks a photo as the member's favourite; true when the server agreed.
  async function setFavourite(photo, on) {
    const result = await api(on ? "PUT" : "DELETE", `/api/photos/${encodeURIComponent(photo.id)}/favourite`);
    if (result.ok) photo.favourite = on;
    return result;
  }

  // `selection` (see selection.js) decides what a click does while selecting.
  function make(photo, selection) {
    const link = el("a", { className: "tile", href: `/photos/${encodeURIComponent(photo.id)}` });
    link.title = takenWords(photo);
    link.append(el("img", { src: photo.thumbnail_url, alt: takenWords(photo), loading: "lazy", width: photo.width, height: photo.height }));
    const check = el("input", { type: "checkbox", className: "tile-check", "aria-label": `Select: ${takenWords(photo)}` });
    const heart = el("button", { type: "button", className: "tile-heart" });
    const item = el("li", { className: "tile-item", "data-photo-id": photo.id }, link, check, heart);
    let pressTimer = null;
    let pressed = false;

    link.addEventListener("pointerenter", (e) => {
      if (e.pointerType === "mouse" && !selection.active()) play(item);
    });
    link.addEventListener("pointerleave", (e) => {
      if (e.pointerType === "mouse") stop(item);
    });
    link.addEventListener("pointerdown", (e) => {
      lastPointer = e.pointerType;
      pressed = false;
      if (e.pointerType !== "touch") return;
      pressTimer = setTimeout(() => {
        pressed = true;
        selection.start();
        selection.toggle(photo.id, false);
      }, LONG_PRESS_MS);
    });
    for (const name of ["pointerup", "pointercancel", "pointermove"]) {
      link.addEventListener(name, () => clearTimeout(pressTimer));
    }
    link.addEventListener("contextmenu", (e) => {
      if (lastPointer === "touch") e.preventDefault(); // the long press selects; no menu over it
    });
    link.addEventListener("click", (e) => {
      if (pressed || selection.active()) {
        e.preventDefault();
        if (!pressed) selection.toggle(photo.id, e.shiftKey);
        pressed = false;
        return;
      }
      const video = item.querySelector("video");
      if (lastPointer !== "mouse" && video && !item.classList.contains("playing")) {
        e.preventDefault();
        for (const other of document.querySelectorAll(".tile-item.playing")) stop(other);
        play(item);
      }
    });
    check.addEventListener("click", (e) => {
      e.preventDefault(); // the selection sets the box, so a refused range never leaves it half-ticked
      if (!selection.active()) selection.start();
      selection.toggle(photo.id, e.shiftKey);
    });
    heart.addEventListener("click", async () => {
      heart.disabled = true;
      const result = await setFavourite(item.photo, !item.photo.favourite);
      heart.disabled = false;
      if (result.ok) showFavourite(heart, item.photo.favourite);
      else heart.title = result.error;
    });
    update(item, photo);
    return item;
  }

  // Brings a tile in line with its photo (clips, favourite), touching only what changed.
  function update(item, photo) {
    item.photo = photo;
    const link = item.querySelector("a");
    const clip = newestClip(photo);
    const ready = shownClip(photo);
    showFavourite(item.querySelector(".tile-heart"), photo.favourite);

    let video = link.querySelector("video");
    if (ready && (!video || video.dataset.clipId !== ready.id)) {
      if (video) video.remove();
      video = el("video", {
        src: ready.video_url,
        poster: ready.poster_url,
        muted: true,
        loop: true,
        playsinline: true,
        preload: "none",
        "data-clip-id": ready.id,
        "aria-hidden": "true",
      });
      video.muted = true; // the attribute alone does not mute a video made by script
      link.append(video);
    } else if (!ready && video) {
      video.remove();
    }
    setBadge(link, "badge motion", ready ? "motion" : null);

    let bar = link.querySelector("progress");
    if (isPending(clip)) {
      if (!bar) {
        bar = el("progress", { max: 1, "aria-label": "Making the clip" });
        link.append(bar);
      }
      // Left without a value while queued: the bar then shows as waiting rather than as 0 %.
      if (clip.status === "running") bar.value = clip.progress;
      bar.title = clip.status === "queued" ? "Waiting for its turn" : `${Math.round(clip.progress * 100)} %`;
    } else if (bar) {
      bar.remove();
    }

    const failed = clip && clip.status === "failed";
    const mark = setBadge(link, "badge failed", failed ? "failed" : null);
    if (mark) mark.title = clip.error || "The clip could not be made.";
  }

  return { make, update, takenDay, takenWords, setFavourite, showFavourite };
})();
