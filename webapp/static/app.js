// Progressive enhancement: the form and the order page work without this file.
"use strict";

function showErrors(form, errors) {
  for (const el of form.querySelectorAll(".error")) el.textContent = "";
  for (const field of form.querySelectorAll(".field")) {
    field.classList.remove("invalid");
    field.querySelector("input").removeAttribute("aria-invalid");
  }
  let first = null;
  for (const [name, message] of Object.entries(errors)) {
    const input = document.getElementById(name);
    const target = (input && document.getElementById(name + "-error")) ||
      document.getElementById("form-error");
    target.textContent = target.textContent ? target.textContent + " " + message : message;
    if (input) {
      input.parentElement.classList.add("invalid");
      input.setAttribute("aria-invalid", "true");
      first = first || input;
    }
  }
  if (first) first.focus();
}

function enhanceForm(form) {
  const button = form.querySelector("button[type=submit]");
  let sending = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (sending) return; // a second click while the first is in flight sends nothing
    sending = true;
    button.disabled = true;
    const data = Object.fromEntries(new FormData(form).entries());
    let resp;
    try {
      resp = await fetch(form.action, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify(data),
      });
    } catch (err) {
      showErrors(form, { form: "Network error: the order may not have been sent. Retrying is safe." });
      sending = false;
      button.disabled = false;
      return;
    }
    const body = await resp.json().catch(() => ({}));
    if (resp.status === 202) {
      window.location.assign(body.status_url + "?submitted=" + encodeURIComponent(body.receipt));
      return; // the button stays disabled: this form's order is placed
    }
    if (body.errors) {
      showErrors(form, body.errors);
    } else {
      showErrors(form, { form: body.error || "The order was not accepted (" + resp.status + ")." });
    }
    sending = false;
    button.disabled = false;
  });
}

function stepItem(step) {
  const item = document.createElement("li");
  item.dataset.step = step.name;
  item.className = "step " + step.status + (step.branch ? " branch" : "");
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = step.name;
  const duration = document.createElement("span");
  duration.className = "duration";
  duration.textContent = step.duration_ms == null ? "" : Math.round(step.duration_ms) + " ms";
  item.append(name, duration);
  if (step.error) {
    const why = document.createElement("span");
    why.className = "why wrap";
    why.textContent = step.error + (step.message ? ": " + step.message : "");
    item.append(why);
  }
  return item;
}

function renderOrder(section, view) {
  const status = document.getElementById("status");
  status.textContent = view.status;
  status.className = "status status-" + view.status.toLowerCase();
  document.getElementById("outcome").textContent = view.outcome;
  const told = document.getElementById("told");
  told.hidden = !view.terminal;
  told.textContent = view.customerTold ? "The customer was told: “" + view.customerTold + "”"
    : (view.terminal ? "The customer was not notified." : "");
  const order = view.order || {};
  if (order.product) {
    document.getElementById("summary-customer").textContent = order.customerName || "—";
    document.getElementById("summary-product").textContent = order.product;
    document.getElementById("summary-amount").textContent = order.amount || "—";
  }
  document.getElementById("steps").replaceChildren(...view.steps.map(stepItem));
  section.dataset.terminal = view.terminal ? "true" : "false";
}

function followOrder(section) {
  const url = "/api/orders/" + encodeURIComponent(section.dataset.orderId) +
    "?submitted=" + encodeURIComponent(section.dataset.receipt || "");
  const tick = async () => {
    if (section.dataset.terminal === "true") return;
    try {
      const resp = await fetch(url, { headers: { "Accept": "application/json" } });
      if (resp.ok) renderOrder(section, await resp.json());
    } catch (err) { /* try again on the next tick */ }
    if (section.dataset.terminal !== "true") setTimeout(tick, 700);
  };
  tick();
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("order-form");
  if (form) enhanceForm(form);
  const section = document.getElementById("order");
  if (section) followOrder(section);
});
