// Progressive enhancement: the form and the order page work without this file.
"use strict";

function showErrors(form, errors) {
  for (const el of form.querySelectorAll(".error")) el.textContent = "";
  for (const field of form.querySelectorAll(".field")) field.classList.remove("invalid");
  for (const [name, message] of Object.entries(errors)) {
    const target = document.getElementById(name + "-error") || document.getElementById("form-error");
    target.textContent = message;
    const input = document.getElementById(name);
    if (input) {
      input.parentElement.classList.add("invalid");
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
  }
}

function enhanceForm(form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form).entries());
    let resp;
    try {
      resp = await fetch(form.action, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify(data),
      });
    } catch (err) {
      showErrors(form, { form: "Network error: the order was not sent. Please retry." });
      return;
    }
    const body = await resp.json().catch(() => ({}));
    if (resp.status === 202) {
      window.location.assign(body.status_url + "?submitted=1");
    } else if (body.errors) {
      showErrors(form, body.errors);
    } else {
      showErrors(form, { form: body.error || "The order was not accepted (" + resp.status + ")." });
    }
  });
}

function renderOrder(section, view) {
  const status = document.getElementById("status");
  status.textContent = view.status;
  status.className = "status status-" + view.status.toLowerCase();
  document.getElementById("outcome").textContent = view.outcome;
  if (view.order && view.order.product) {
    document.getElementById("summary").textContent =
      [view.order.customerName, view.order.product, view.order.amount].join(" · ");
  }
  const list = document.getElementById("steps");
  for (const step of view.steps) {
    let item = list.querySelector('[data-step="' + CSS.escape(step.name) + '"]');
    if (!item) {
      item = document.createElement("li");
      item.dataset.step = step.name;
      item.innerHTML = '<span class="name"></span><span class="duration"></span>';
      item.querySelector(".name").textContent = step.name;
      item.classList.add("branch");
      list.appendChild(item);
    }
    item.classList.remove("pending", "running", "succeeded", "failed");
    item.classList.add("step", step.status);
    item.querySelector(".duration").textContent =
      step.duration_ms == null ? "" : Math.round(step.duration_ms) + " ms";
  }
  section.dataset.terminal = view.terminal ? "true" : "false";
}

function followOrder(section) {
  const id = section.dataset.orderId;
  const tick = async () => {
    if (section.dataset.terminal === "true") return;
    try {
      const resp = await fetch("/api/orders/" + encodeURIComponent(id) + "?submitted=1",
                               { headers: { "Accept": "application/json" } });
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
