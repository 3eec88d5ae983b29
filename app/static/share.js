// The public share page: the original photo is one click away, shown in place of the clip.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const toggle = document.querySelector("[data-toggle-original]");
  const video = document.querySelector("[data-shared-video]");
  const photo = document.querySelector("[data-shared-photo]");
  if (!toggle || !video || !photo) return;
  video.muted = true; // autoplay is allowed only for a muted video
  const width = Number(video.getAttribute("width"));
  const height = Number(video.getAttribute("height"));
  // The stylesheet sizes the clip from its aspect ratio (inline style attributes are barred by the CSP).
  if (width && height) document.documentElement.style.setProperty("--ratio", String(width / height));

  toggle.addEventListener("click", (event) => {
    event.preventDefault();
    const showPhoto = photo.hidden;
    photo.hidden = !showPhoto;
    video.hidden = showPhoto;
    if (showPhoto) video.pause();
    else video.play().catch(() => {});
    toggle.textContent = showPhoto ? "See the clip" : "See the original photo";
    toggle.setAttribute("aria-pressed", String(showPhoto));
  });
});
