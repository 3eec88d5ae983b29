// The first-run setup form and the sign-in form: both post JSON, then go on to a local page.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, safeLocalPath, showError } = window.Vivant;
  const form = document.querySelector("[data-auth-form]");
  if (!form) return;
  const errorBox = form.querySelector(".form-error");
  const submit = form.querySelector('button[type="submit"]');

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const email = form.elements.email.value.trim();
    const password = form.elements.password.value;
    if (!email || !password) {
      showError(errorBox, "Please fill in your e-mail and password.");
      return;
    }
    const again = form.elements.password_again;
    if (again && again.value !== password) {
      showError(errorBox, "The two passwords are not the same.");
      return;
    }
    showError(errorBox, "");
    submit.disabled = true;
    const result = await api("POST", form.dataset.endpoint, { email, password });
    if (result.ok) {
      window.location.assign(safeLocalPath(form.dataset.next));
      return;
    }
    submit.disabled = false;
    showError(errorBox, result.error);
  });
});
