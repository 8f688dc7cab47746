// facefold's web app: plain JavaScript, no build step. Pages are server-rendered; this file adds
// selection, the changes (POSTs with the CSRF header), the person picker, keyboard answers to
// suggestions, the face boxes on a photo and the self-updating status page. Names from the
// database are only ever put into the page as text (textContent), never as HTML.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

function flash(text, isError = false) {
  const box = $("#flash");
  box.textContent = text;
  box.classList.toggle("error", isError);
  box.hidden = false;
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => { box.hidden = true; }, isError ? 8000 : 4000);
}

// After a change the page reloads (the server renders the truth); its message survives that.
function flashAfterReload() {
  const msg = sessionStorage.getItem("facefold-flash");
  if (msg) {
    sessionStorage.removeItem("facefold-flash");
    flash(msg);
  }
}

async function post(url, body, then = null) {
  let res;
  try {
    res = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrfToken()},
      body: JSON.stringify(body || {}),
    });
  } catch (e) {
    flash("facefold is not answering (" + e.message + "). Is it still running?", true);
    return null;
  }
  let data = {};
  try { data = await res.json(); } catch (e) { data = {error: res.status + " " + res.statusText}; }
  if (!res.ok) {
    flash(data.error || ("That did not work (" + res.status + ")."), true);
    return null;
  }
  sessionStorage.setItem("facefold-flash", data.message || "Done.");
  if (then) then(data); else location.reload();
  return data;
}

// Selection of cards or face tiles, and the action bar that counts them.
function selected() {
  return $$("input.sel:checked").map((c) => Number(c.value));
}

function updateSelection() {
  const n = selected().length;
  $$("input.sel").forEach((c) => c.closest(".card, .face").classList.toggle("selected", c.checked));
  document.body.classList.toggle("selecting", n > 0);
  const bar = $("#actions");
  if (!bar) return;
  bar.hidden = n === 0;
  const people = document.body.dataset.page === "people";
  const what = people ? (n === 1 ? "person" : "people") : (n === 1 ? "face" : "faces");
  $(".count", bar).textContent = n + " " + what + " selected";
}

function setupSelection() {
  $$("input.sel").forEach((c) => {
    c.addEventListener("change", updateSelection);
    // Enter on a ticked box goes to what can be done with the selection
    c.addEventListener("keydown", (e) => {
      if (e.key !== "Enter") return;
      e.preventDefault();
      if (!c.checked) { c.checked = true; updateSelection(); }
      const first = $("#actions button");
      if (first) first.focus();
    });
  });
  const clear = $("#clear");
  if (clear) clear.addEventListener("click", () => {
    $$("input.sel").forEach((c) => { c.checked = false; });
    updateSelection();
  });
  updateSelection();
}

function personItem(p, extra) {
  const li = document.createElement("li");
  li.tabIndex = 0;
  li.dataset.person = p.id;
  if (p.face) {
    const img = document.createElement("img");
    img.src = "/media/face/" + p.face + ".jpg";
    img.alt = "";
    li.appendChild(img);
  }
  const name = document.createElement("span");
  name.textContent = p.name || ("Person " + p.id);
  li.appendChild(name);
  const small = document.createElement("small");
  small.textContent = p.faces + (p.faces === 1 ? " face" : " faces") + (extra ? " · " + extra : "");
  li.appendChild(small);
  return li;
}

// The person picker: who the chosen faces look like, or anyone by name as you type.
function pickPerson(title, faces, onPick) {
  const dlg = $("#picker");
  const list = $("#picker-list");
  const input = $("#picker-q");
  const hint = $("#picker-hint");
  $("#picker-title").textContent = title;
  input.value = "";
  const show = (people, label) => {
    hint.textContent = label;
    list.replaceChildren(...people.map((p) => {
      const li = personItem(p, "");
      const choose = () => { dlg.close(); onPick(p); };
      li.addEventListener("click", choose);
      li.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); choose(); }
        else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
          e.preventDefault();
          const to = e.key === "ArrowDown" ? li.nextElementSibling : li.previousElementSibling;
          (to || (e.key === "ArrowUp" ? input : li)).focus();
        }
      });
      return li;
    }));
  };
  const closest = () => fetch("/api/closest?faces=" + faces.join(","), {credentials: "same-origin"})
    .then((r) => r.json()).then((people) => show(people, people.length ? "Looks most like (closest first); or type a name:" : "Type a name:"));
  let timer = null;
  input.oninput = () => {
    clearTimeout(timer);
    const q = input.value.trim();
    if (!q) { closest(); return; }
    timer = setTimeout(() => fetch("/api/people?q=" + encodeURIComponent(q), {credentials: "same-origin"})
      .then((r) => r.json()).then((people) => show(people, people.length ? "Matching:" : "Nobody matches.")), 150);
  };
  input.onkeydown = (e) => {
    if (e.key === "Enter") { e.preventDefault(); const first = $("li", list); if (first) first.click(); }
    else if (e.key === "ArrowDown") { e.preventDefault(); const first = $("li", list); if (first) first.focus(); }
  };
  closest();
  dlg.showModal();
  input.focus();
}

function setupPeople() {
  const merge = $("#merge");
  if (!merge) return;
  merge.addEventListener("click", () => {
    const ids = selected();
    if (ids.length < 2) { flash("Tick at least two people to merge them.", true); return; }
    const cards = ids.map((id) => $(`.card[data-person="${id}"]`));
    // the default target: a named one if any, else the largest (the grid is largest first)
    const target = cards.find((c) => c.dataset.name) || cards[0];
    const list = $("#merger-list");
    list.replaceChildren(...cards.map((c) => {
      const li = document.createElement("li");
      const radio = document.createElement("input");
      radio.type = "radio"; radio.name = "target"; radio.value = c.dataset.person;
      radio.checked = c === target;
      const label = document.createElement("label");
      label.appendChild(radio);
      if (c.dataset.face) {
        const img = document.createElement("img");
        img.src = "/media/face/" + c.dataset.face + ".jpg";
        img.alt = "";
        label.appendChild(img);
      }
      const text = document.createElement("span");
      text.textContent = c.dataset.name || ("Person " + c.dataset.person);
      label.appendChild(text);
      const small = document.createElement("small");
      small.textContent = c.dataset.photos + (c.dataset.photos === "1" ? " photo" : " photos");
      label.appendChild(small);
      li.appendChild(label);
      return li;
    }));
    $("#merger-count").textContent = String(ids.length);
    const dlg = $("#merger");
    dlg.onclose = () => {
      if (dlg.returnValue !== "go") return;
      const into = Number($("input[name=target]:checked", list).value);
      post("/api/merge", {target: into, others: ids.filter((i) => i !== into)});
    };
    dlg.showModal();
    $("input[name=target]:checked", list).focus();
  });
  // "Add a name" on an unnamed card: type, Enter
  $$("form.add-name").forEach((form) => form.addEventListener("submit", (e) => {
    e.preventDefault();
    const name = $("input", form).value.trim();
    if (name) post("/api/person/" + form.dataset.person + "/name", {name: name});
  }));
}

function setupFaces() {
  const move = $("#move");
  if (move) move.addEventListener("click", () => {
    const faces = selected();
    pickPerson("Move " + faces.length + " face" + (faces.length === 1 ? "" : "s") + " to…", faces,
      (p) => post("/api/faces/move", {faces: faces, person: p.id}));
  });
  const out = $("#unassign");
  if (out) out.addEventListener("click", () => post("/api/faces/unassign", {faces: selected()}));
  const notFace = $("#not-face");
  if (notFace) notFace.addEventListener("click", () => post("/api/faces/not-a-face", {faces: selected()}));
  $$(".select-run").forEach((b) => b.addEventListener("click", () => {
    $$("input.sel", b.closest(".run")).forEach((c) => { c.checked = true; });
    updateSelection();
    const first = $("#actions button");
    if (first) first.focus();
  }));
  const make = $("#new-person");
  if (make) make.addEventListener("click", () => {
    const name = $("#new-name").value.trim();
    post("/api/faces/new-person", {faces: selected(), name: name || null},
      (data) => { location.href = "/person/" + data.person; });
  });
}

function setupPerson() {
  const form = $("#rename");
  if (form) form.addEventListener("submit", (e) => {
    e.preventDefault();
    const name = $("#name").value.trim();
    post("/api/person/" + form.dataset.person + "/name", {name: name || null});
  });
  const hide = $("#hide");
  if (hide) hide.addEventListener("click", () =>
    post("/api/person/" + hide.dataset.person + "/hidden", {hidden: hide.dataset.hidden !== "1"}));
  const copy = $("#copy-folder");
  if (copy) copy.addEventListener("click", () => {
    const path = $("#folder").textContent;
    if (navigator.clipboard) navigator.clipboard.writeText(path).then(() => flash("Copied the folder's path: " + path));
  });
}

function setupSuggestions() {
  const answer = (pair, same) => {
    const a = Number(pair.dataset.a), b = Number(pair.dataset.b);
    return same ? post("/api/merge", {target: Math.min(a, b), others: [Math.max(a, b)]})
                : post("/api/apart", {a: a, b: b});
  };
  $$(".pair").forEach((pair) => {
    $(".yes", pair).addEventListener("click", () => answer(pair, true));
    $(".no", pair).addEventListener("click", () => answer(pair, false));
    pair.addEventListener("focus", () => {
      $$(".pair.current").forEach((p) => p.classList.remove("current"));
      pair.classList.add("current");
    });
  });
  document.addEventListener("keydown", (e) => {
    if (e.target.matches("input, textarea") || e.ctrlKey || e.metaKey || e.altKey) return;
    const pair = $(".pair.current");
    if (!pair) return;
    if (e.key === "y") answer(pair, true);
    else if (e.key === "n") answer(pair, false);
  });
}

// Badges on a photo never cover one another: each one that would is moved down (then right)
// until it is clear; the list under the photo says who each number is.
function spreadBadges(frame) {
  const placed = [];
  const hit = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  $$(".box .badge", frame).forEach((badge) => {
    badge.style.transform = "";
    let dx = 0, dy = 0;
    for (let tries = 0; tries < 60; tries++) {
      badge.style.transform = `translate(${dx}px, ${dy}px)`;
      const r = badge.getBoundingClientRect();
      if (!placed.some((p) => hit(r, p))) { placed.push(r); return; }
      dy += r.height + 2;
      if (tries % 4 === 3) { dy = 0; dx += r.width + 2; }
    }
    placed.push(badge.getBoundingClientRect());
  });
}

function setupPhoto() {
  const frame = $("#photo");
  if (!frame) return;
  const w = Number(frame.dataset.w), h = Number(frame.dataset.h);
  if (!w || !h) return;
  $$(".box", frame).forEach((box) => {
    const [x, y, bw, bh] = box.dataset.box.split(",").map(Number);
    box.style.left = (100 * x / w) + "%";
    box.style.top = (100 * y / h) + "%";
    box.style.width = (100 * bw / w) + "%";
    box.style.height = (100 * bh / h) + "%";
  });
  // the whole photo on the screen, small ones enlarged
  const fit = () => {
    const room = window.innerHeight - frame.getBoundingClientRect().top - window.scrollY - 16;
    frame.style.width = Math.max(120, Math.min(frame.parentElement.clientWidth, Math.max(200, room) * w / h)) + "px";
    spreadBadges(frame);
  };
  fit();
  window.addEventListener("resize", fit);
  // fix a face where it is
  $$(".who li").forEach((li) => {
    const fid = Number(li.dataset.face);
    const move = $(".face-move", li);
    if (move) move.addEventListener("click", () =>
      pickPerson("Who is face " + $(".badge", li).textContent + "?", [fid],
        (p) => post("/api/faces/move", {faces: [fid], person: p.id})));
    const out = $(".face-out", li);
    if (out) out.addEventListener("click", () => post("/api/faces/unassign", {faces: [fid]}));
    const not = $(".face-not", li);
    if (not) not.addEventListener("click", () => post("/api/faces/not-a-face", {faces: [fid]}));
  });
  document.addEventListener("keydown", (e) => {
    if (e.target.matches("input, textarea") || e.ctrlKey || e.metaKey || e.altKey || $("dialog[open]")) return;
    const to = e.key === "ArrowLeft" ? $("#prev") : e.key === "ArrowRight" ? $("#next") : null;
    if (to) location.href = to.href;
  });
}

function row(cells) {
  const tr = document.createElement("tr");
  cells.forEach((c) => { const td = document.createElement("td"); td.textContent = String(c); tr.appendChild(td); });
  return tr;
}

function setupStatus() {
  const refresh = async () => {
    let s;
    try { s = await (await fetch("/api/status", {credentials: "same-origin"})).json(); }
    catch (e) { $("#updated").textContent = "facefold is not answering"; return; }
    for (const k of ["queued", "processing", "done", "failed"]) $("#st-" + k).textContent = s.images[k] || 0;
    $("#st-faces").textContent = s.faces;
    $("#st-persons").textContent = s.persons;
    const left = (s.images.queued || 0) + (s.images.processing || 0);
    $("#st-progress").textContent = left && s.photos_per_second
      ? `${left} photos to go at ${s.photos_per_second} photos/s: about ${Math.ceil(s.eta_seconds / 60)} min`
      : (left ? `${left} photos to go` : "Nothing is waiting.");
    const none = (el) => { const li = document.createElement(el.tagName === "UL" ? "li" : "tr");
      if (li.tagName === "TR") { const td = document.createElement("td"); td.colSpan = 6; td.className = "none"; td.textContent = el.dataset.empty; li.appendChild(td); }
      else { li.className = "none"; li.textContent = el.dataset.empty; }
      return li; };
    const fill = (el, items) => el.replaceChildren(...(items.length ? items : [none(el)]));
    fill($("#st-processing-list"), s.processing.map((p) => { const li = document.createElement("li"); li.textContent = p; return li; }));
    fill($("#st-failures"), s.failures.map((f) => row([f.path, f.error])));
    fill($("#st-batches"), s.batches.map((b) => row([b.finished_at, b.photos, b.faces, b.new_persons, b.failed, b.seconds])));
    $("#updated").textContent = "updated " + new Date().toLocaleTimeString();
  };
  refresh();
  setInterval(refresh, 2000);
}

document.addEventListener("DOMContentLoaded", () => {
  flashAfterReload();
  $("#undo").addEventListener("click", () => post("/api/undo", {}));
  setupSelection();
  const page = document.body.dataset.page;
  if (page === "people") setupPeople();
  if (page === "person" || page === "unassigned") { setupFaces(); }
  if (page === "person") setupPerson();
  if (page === "suggestions") setupSuggestions();
  if (page === "photo") setupPhoto();
  if (page === "status") setupStatus();
});
