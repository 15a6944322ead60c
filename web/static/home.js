import { api, ApiError, setCsrfToken } from "/static/api.js";

const $ = (id) => document.getElementById(id);

function show(section) {
  for (const id of ["loading", "sign-in", "home"]) $(id).hidden = id !== section;
}

function signedIn({ user, csrf_token }) {
  setCsrfToken(csrf_token);
  $("home-name").textContent = user.name;
  $("home-role").textContent = user.role;
  $("whoami").textContent = user.email;
  $("whoami").hidden = false;
  $("sign-out").hidden = false;
  show("home");
}

function signedOut() {
  setCsrfToken(null);
  $("whoami").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in-form").reset();
  show("sign-in");
  $("email").focus();
}

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("sign-in-error");
  error.hidden = true;
  const button = event.submitter ?? $("sign-in-form").querySelector("button");
  button.disabled = true;
  try {
    signedIn(
      await api("POST", "/api/auth/login", {
        email: $("email").value.trim(),
        password: $("password").value,
      }),
    );
  } catch (err) {
    error.textContent =
      err instanceof ApiError ? err.message : "Could not reach the server. Check your connection.";
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
});

$("sign-out").addEventListener("click", async () => {
  try {
    await api("POST", "/api/auth/logout");
  } finally {
    signedOut();
  }
});

try {
  signedIn(await api("GET", "/api/me"));
} catch (err) {
  if (err instanceof ApiError && err.status === 401) signedOut();
  else {
    $("loading").textContent = "Could not reach the server. Reload to try again.";
  }
}
