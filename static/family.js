// The family page: an admin adds someone, and they appear in the list without a reload.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, el, showError } = window.Vivant;
  const form = document.querySelector("[data-add-member]");
  const list = document.querySelector("[data-member-list]");
  const errorBox = form.querySelector(".form-error");
  const added = form.querySelector("[data-added]");
  const submit = form.querySelector('button[type="submit"]');

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    added.hidden = true;
    const email = form.elements.email.value.trim();
    const password = form.elements.password.value;
    if (!email || !password) {
      showError(errorBox, "Please fill in their e-mail and a password.");
      return;
    }
    if (password.length < form.elements.password.minLength) {
      showError(errorBox, `The password needs at least ${form.elements.password.minLength} characters.`);
      return;
    }
    showError(errorBox, "");
    submit.disabled = true;
    const result = await api("POST", "/api/users", {
      email,
      password,
      is_admin: form.elements.is_admin.checked,
    });
    submit.disabled = false;
    if (!result.ok) {
      showError(errorBox, result.error);
      return;
    }
    const member = result.data;
    list.append(
      el(
        "li",
        { className: "member", "data-member": member.email },
        el("span", { className: "member-email", text: member.email }),
        member.is_admin ? el("span", { className: "tag", text: "admin" }) : null,
      ),
    );
    form.reset();
    added.textContent = `Added ${member.email}. Give them the password you chose.`;
    added.hidden = false;
  });
});
