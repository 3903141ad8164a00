// The Nordic grading form: 11 endplate rows, keyboard-first entry, submit, amend with a reason
// (PUT with If-Match), version history, and a plain account of a 412 conflict.

import { ApiError, get, request } from "./api.js";
import { priorOf } from "./prior.js";
import { ProtocolForm } from "./protocol.js";
import {
  ENDPLATES,
  SIZES,
  TYPES,
  describe,
  endplateName,
  sameValue,
  sizeForExtension,
  sizeForKey,
  typeForKey,
} from "./vocab.js";

const FIELD_CONTROL = { type: "type", size: "size", extension_pct: "ext", endplate: "type" };

function newElement(tag, text, attributes = {}) {
  const element = document.createElement(tag);
  if (text !== undefined) element.textContent = text;
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  return element;
}

function option(value, label) {
  const element = document.createElement("option");
  element.value = value;
  element.textContent = label;
  return element;
}

function formatTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

export class GradingPanel {
  constructor(root) {
    this.root = root;
    this.form = root.querySelector("#grading-form");
    this.body = root.querySelector("#grading-rows");
    this.status = root.querySelector("#grading-status");
    this.message = root.querySelector("#form-message");
    this.reasonBox = root.querySelector("#reason-box");
    this.reason = root.querySelector("#amend-reason");
    this.reasonError = root.querySelector("#reason-error");
    this.submitButton = root.querySelector("#submit-grading");
    this.revertButton = root.querySelector("#revert-grading");
    this.conflict = root.querySelector("#conflict");
    this.history = root.querySelector("#history");
    this.historyList = root.querySelector("#history-list");
    this.rows = new Map();
    this.study = null;
    this.read = null;
    this.me = null;
    this.onReadSaved = () => {};
    this.grading = null;
    this.etag = null;
    this.conflictState = null;
    this.busy = false;
    this.onSliceKey = () => false;
    // Hooks of the image tools: what they add to a submitted grading, and what they show of one.
    this.extraBody = () => ({});
    this.seriesViewed = () => null;
    this.onGradingLoaded = () => {};
    this.onRowFocus = () => {};
    this.onSubmitAndNext = () => {};
    this.nextButton = root.querySelector("#submit-next");
    this.nextButton.addEventListener("click", () => this.submit({ next: true }));
    this.activeEndplate = null;
    this.body.addEventListener("focusin", (event) => {
      const endplate = event.target.closest("tr")?.dataset.endplate;
      if (endplate) {
        this.activeEndplate = endplate;
        this.onRowFocus(endplate);
      }
    });
    for (const endplate of ENDPLATES) this.buildRow(endplate);
    this.record = new ProtocolForm(this);
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.form.addEventListener("keydown", (event) => this.handleKey(event));
    this.revertButton.addEventListener("click", () => this.fill(this.grading?.endplates ?? null));
    root.querySelector("#conflict-keep-mine").addEventListener("click", () => this.keepMine());
    root.querySelector("#conflict-take-current").addEventListener("click", () => this.takeCurrent());
  }

  buildRow(endplate) {
    const row = newElement("tr", undefined, { "data-endplate": endplate });
    const errorId = `error-${endplate}`;
    row.append(newElement("th", undefined, { scope: "row" }));
    row.firstChild.append(newElement("span", endplateName(endplate), { class: "ep-name" }), newElement("code", endplate));

    const type = newElement("select", undefined, {
      id: `type-${endplate}`,
      "aria-label": `${endplate} type`,
      "aria-describedby": errorId,
      "data-field": "type",
    });
    type.append(option("", "—"));
    for (const t of TYPES) type.append(option(t.value, `${t.value}  [${t.key}]`));
    const size = newElement("select", undefined, {
      id: `size-${endplate}`,
      "aria-label": `${endplate} size`,
      "aria-describedby": errorId,
      "data-field": "size",
    });
    size.append(option("", "—"));
    for (const s of SIZES) {
      const choice = option(s.value, s.value);
      choice.title = `${s.value}: ${s.hint}`;
      size.append(choice);
    }
    const ext = newElement("input", undefined, {
      id: `ext-${endplate}`,
      type: "number",
      min: "0",
      max: "100",
      step: "any",
      inputmode: "decimal",
      "aria-label": `${endplate} extension %`,
      "aria-describedby": errorId,
      "data-field": "ext",
    });
    for (const control of [type, size, ext]) {
      control.addEventListener("change", () => this.updateRow(endplate));
      control.addEventListener("input", () => this.updateRow(endplate));
    }
    const controls = [type, size, ext].map((control) => {
      const td = newElement("td");
      td.append(control);
      return td;
    });
    row.append(...controls);
    const errorRow = newElement("tr", undefined, { class: "row-error", "data-error-for": endplate });
    const errorCell = newElement("td", "", { colspan: "4", id: errorId, "aria-live": "polite" });
    errorRow.append(errorCell);
    errorRow.hidden = true;
    this.body.append(row, errorRow);
    this.rows.set(endplate, { row, type, size, ext, errorRow, errorCell });
  }

  updateRow(endplate) {
    const r = this.rows.get(endplate);
    const none = r.type.value === "none" || r.type.value === "";
    if (r.type.value === "none") {
      r.size.value = "";
      r.ext.value = "";
    }
    r.size.disabled = none;
    r.ext.disabled = none;
    const unread = this.record?.updateRow(endplate) ?? false;
    const saved = this.grading?.endplates?.[endplate];
    r.row.classList.toggle("changed", Boolean(saved) && !sameValue(saved, this.valueOf(endplate)));
    r.row.classList.toggle("filled", unread || (r.type.value !== "" && (r.type.value === "none" || r.size.value !== "" || r.ext.value !== "")));
    if (this.grading) this.revertButton.hidden = !this.isChanged();
  }

  isChanged() {
    return ENDPLATES.some((e) => !sameValue(this.grading.endplates[e], this.valueOf(e)));
  }

  valueOf(endplate) {
    const r = this.rows.get(endplate);
    const value = {};
    if (r.type.value) value.type = r.type.value;
    if (r.type.value && r.type.value !== "none") {
      if (r.size.value) value.size = r.size.value;
      if (r.ext.value.trim() !== "") value.extension_pct = Number(r.ext.value);
    }
    return this.record.valueOf(endplate, value);
  }

  values() {
    return Object.fromEntries(ENDPLATES.map((e) => [e, this.valueOf(e)]));
  }

  fill(endplates) {
    for (const endplate of ENDPLATES) {
      const r = this.rows.get(endplate);
      const value = endplates?.[endplate];
      r.type.value = value?.type ?? "";
      r.size.value = value?.size ?? "";
      r.ext.value = value?.extension_pct ?? "";
      this.record.fillRow(endplate, value);
      this.updateRow(endplate);
    }
    this.clearErrors();
  }

  // Keyboard-first entry: one key per type and per size anywhere in a row's selects.
  handleKey(event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      this.submit({ next: event.shiftKey });
      return;
    }
    if (event.key === "PageUp" || event.key === "PageDown") {
      if (this.onSliceKey(event)) event.preventDefault();
      return;
    }
    const control = event.target;
    if (control.tagName !== "SELECT" || event.ctrlKey || event.altKey || event.metaKey) return;
    const endplate = control.closest("tr")?.dataset.endplate;
    if (endplate && this.record.handleKey(event, endplate)) return;
    // Space (and Alt+Down) still open the list, as in any select.
    if (!endplate || event.key.length !== 1 || event.key === " ") return;
    event.preventDefault();
    const r = this.rows.get(endplate);
    const type = typeForKey(event.key);
    if (type) {
      r.type.value = type;
      this.updateRow(endplate);
      this.clearRowError(endplate);
      if (type === "none") this.focusNextRow(endplate);
      else r.size.focus();
      return;
    }
    const size = sizeForKey(event.key);
    if (size && r.type.value && r.type.value !== "none") {
      r.size.value = size;
      this.updateRow(endplate);
      this.clearRowError(endplate);
      const extra = this.record.firstExtra(endplate);
      if (extra) extra.focus();
      else this.focusNextRow(endplate);
    }
  }

  focusNextRow(endplate) {
    const next = ENDPLATES[ENDPLATES.indexOf(endplate) + 1];
    if (next) this.rows.get(next).type.focus();
    else if (!this.reasonBox.hidden) this.reason.focus();
    else this.submitButton.focus();
  }

  clearRowError(endplate) {
    const r = this.rows.get(endplate);
    const had = r.row.classList.contains("invalid");
    r.errorCell.textContent = "";
    r.errorRow.hidden = true;
    r.row.classList.remove("invalid");
    for (const control of [r.type, r.size, r.ext]) control.removeAttribute("aria-invalid");
    // once the last marked problem is fixed, the "Not saved" line goes too
    if (had && !this.body.querySelector("tr.invalid") && !this.reasonError.textContent) this.message.textContent = "";
  }

  // A measured extension fills the row's Ext. % and the size that follows from it.
  setMeasured(endplate, pct) {
    const r = this.rows.get(endplate);
    r.ext.value = String(pct);
    r.size.value = sizeForExtension(pct);
    this.updateRow(endplate);
    this.clearRowError(endplate);
    r.size.focus();
  }

  // Focuses the type control of an endplate's row (from the image, or when a study opens).
  focusRow(endplate) {
    const r = this.rows.get(endplate);
    if (r && !r.type.disabled) r.type.focus();
  }

  clearErrors() {
    for (const endplate of ENDPLATES) this.clearRowError(endplate);
    this.message.textContent = "";
    this.reasonError.textContent = "";
    this.reason.removeAttribute("aria-invalid");
  }

  // Puts each message of a 422 answer on its endplate's row (or by the reason).
  showErrors(error) {
    const general = [];
    let first = null;
    let reasonMissing = false;
    for (const item of error.fieldErrors) {
      const r = item.endplate ? this.rows.get(item.endplate) : null;
      if (r) {
        r.errorCell.textContent = r.errorCell.textContent ? `${r.errorCell.textContent}; ${item.message}` : item.message;
        r.errorRow.hidden = false;
        r.row.classList.add("invalid");
        const control = r[FIELD_CONTROL[item.field] ?? "type"];
        control.setAttribute("aria-invalid", "true");
        first ??= control;
      } else if (item.field === "reason") {
        this.reasonError.textContent = "Give the reason for this amendment: why the grading changes.";
        this.reason.setAttribute("aria-invalid", "true");
        reasonMissing = true;
      } else {
        general.push(item.message);
      }
    }
    const marked = error.fieldErrors.length - general.length - (reasonMissing ? 1 : 0);
    const parts = [];
    if (marked) parts.push(`${marked} problem${marked === 1 ? "" : "s"}, shown on the rows`);
    if (reasonMissing) parts.push("the reason for the amendment is missing");
    if (general.length || (!marked && !reasonMissing)) parts.push(general.join("; ") || error.message);
    this.message.textContent = `Not saved: ${parts.join("; ")}.`;
    (first ?? (reasonMissing ? this.reason : null))?.focus();
  }

  setMode() {
    this.onGradingLoaded(this.grading);
    this.nextButton.hidden = Boolean(this.read);
    if (this.read) {
      const final = Boolean(this.read.endplates);
      this.reasonBox.hidden = true;
      this.revertButton.hidden = true;
      this.submitButton.hidden = final;
      this.submitButton.textContent = "Submit read";
      this.root.dataset.mode = final ? "read-done" : "read";
      this.setLocked(final);
      this.status.textContent = final
        ? `Read ${this.read.number} of case ${this.read.case} is submitted. Reliability reads are final.`
        : `Blinded read ${this.read.number}, case ${this.read.case}. Grade all 11 endplates and submit; reads are final.`;
      return;
    }
    this.submitButton.hidden = false;
    this.setLocked(false);
    const amending = Boolean(this.grading);
    this.reasonBox.hidden = !amending;
    this.revertButton.hidden = !amending || !this.isChanged();
    this.submitButton.textContent = amending ? `Amend grading (version ${this.grading.version} → ${this.grading.version + 1})` : "Submit grading";
    this.root.dataset.mode = amending ? "amend" : "new";
    this.nextButton.textContent = amending ? "Amend and open next" : "Submit and open next";
    if (amending) {
      this.status.textContent = `Your grading, version ${this.grading.version}. Change rows, give a reason and amend.`;
    } else {
      this.status.textContent = "Not graded by you yet. Grade all 11 endplates and submit.";
    }
  }

  setLocked(locked) {
    for (const endplate of ENDPLATES) {
      const r = this.rows.get(endplate);
      r.type.disabled = locked;
      if (locked) {
        r.size.disabled = true;
        r.ext.disabled = true;
      } else {
        this.updateRow(endplate);
      }
    }
  }

  reset() {
    this.grading = null;
    this.etag = null;
    this.conflict.hidden = true;
    this.history.hidden = true;
    this.historyList.replaceChildren();
    this.reason.value = "";
    this.setLocked(false);
    this.fill(null);
  }

  // A blinded reliability-study read: one final submission, no history, no amendment.
  async openRead(studyId, caseView) {
    this.read = { studyId, case: caseView.case, number: caseView.read, endplates: caseView.endplates };
    this.study = { id: null };
    await this.record.open({ protocol: caseView.protocol });
    this.reset();
    if (caseView.endplates) this.fill(caseView.endplates);
    this.setMode();
  }

  async open(study) {
    this.read = null;
    this.study = study;
    const [answer, prior] = await Promise.all([
      this.prefetchedGradings?.(study.id) ?? get(`/studies/${encodeURIComponent(study.id)}/gradings`),
      priorOf(study.id, { fresh: true }),
    ]);
    if (this.study !== study) return;
    await this.record.open({ hasPrior: Boolean(prior.body.prior_graded_study) });
    this.reset();
    this.setMode();
    // the first row has focus as the study opens: grading starts with the first key
    this.focusRow(ENDPLATES[0]);
    if (this.study !== study) return;
    // an admin is given everyone's gradings: the form holds only the signed-in user's own
    const mine = answer.body.items.find((g) => g.rater === this.me?.name);
    if (mine) await this.loadGrading(mine.id);
  }

  async loadGrading(gradingId) {
    const answer = await get(`/gradings/${encodeURIComponent(gradingId)}`);
    this.grading = answer.body;
    this.etag = answer.etag;
    this.record.fillRecord(this.grading);
    this.fill(this.grading.endplates);
    this.setMode();
    await this.loadHistory();
  }

  async loadHistory() {
    if (!this.grading) return [];
    const answer = await get(`/gradings/${encodeURIComponent(this.grading.id)}/history`);
    const items = answer.body.items;
    this.historyList.replaceChildren();
    items.forEach((item, i) => {
      const li = newElement("li", undefined, { "data-version": String(item.version) });
      const head = newElement("p", undefined, { class: "version-head" });
      head.append(newElement("strong", `Version ${item.version}`), ` by ${item.rater}, ${formatTime(item.at)}`);
      if (i === items.length - 1) head.append(" ", newElement("span", "current", { class: "badge" }));
      li.append(head);
      li.append(newElement("p", item.reason ? `Reason: ${item.reason}` : "First grading.", { class: "version-reason" }));
      const previous = items[i - 1]?.endplates;
      const lines = ENDPLATES.filter((e) => (previous ? !sameValue(previous[e], item.endplates[e]) : item.endplates[e].type !== "none")).map(
        (e) => (previous ? `${e}: ${describe(previous[e])} → ${describe(item.endplates[e])}` : `${e}: ${describe(item.endplates[e])}`),
      );
      const summary = previous ? `Changed: ${lines.join("; ") || "nothing"}` : `Changes graded: ${lines.join("; ") || "none at any endplate"}`;
      li.append(newElement("p", summary, { class: "version-summary" }));
      this.historyList.append(li);
    });
    this.history.hidden = items.length === 0;
    return items;
  }

  // Submits (create, amend or a read); with `next`, then opens the next study awaiting my grading.
  async submit({ next = false } = {}) {
    if (this.busy || !this.study || (this.read && this.read.endplates)) return;
    this.clearErrors();
    this.busy = true;
    this.submitButton.disabled = true;
    this.nextButton.disabled = true;
    let saved = false;
    try {
      // when the next study opens at once, this one's history is not worth waiting for
      if (this.read) await this.submitRead();
      else if (this.grading) await this.amend({ history: !next });
      else await this.create({ history: !next });
      saved = true;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      await this.handleFailure(error);
    } finally {
      this.busy = false;
      this.submitButton.disabled = false;
      this.nextButton.disabled = false;
    }
    if (saved && next && !this.read) this.onSubmitAndNext(this.study);
  }

  async create({ history = true } = {}) {
    const answer = await request("POST", `/studies/${encodeURIComponent(this.study.id)}/gradings`, {
      json: { endplates: this.values(), ...this.record.body(), ...this.extraBody() },
    });
    this.grading = answer.body;
    this.etag = answer.etag;
    this.fill(this.grading.endplates);
    this.setMode();
    this.status.textContent = `Saved: your grading, version ${this.grading.version}.`;
    if (history) await this.loadHistory();
  }

  async submitRead() {
    const { studyId, case: label } = this.read;
    const path = `/reliability-studies/${encodeURIComponent(studyId)}/worklist/${encodeURIComponent(label)}/grading`;
    const answer = await request("POST", path, { json: { endplates: this.values(), series_viewed: this.seriesViewed() } });
    this.read.endplates = answer.body.endplates;
    this.fill(answer.body.endplates);
    this.setMode();
    await this.onReadSaved(this.read);
  }

  async amend({ history = true } = {}) {
    const previous = this.grading.version;
    const answer = await request("PUT", `/gradings/${encodeURIComponent(this.grading.id)}`, {
      json: { endplates: this.values(), ...this.record.body(), reason: this.reason.value, ...this.extraBody() },
      headers: { "If-Match": this.etag },
    });
    this.grading = answer.body;
    this.etag = answer.etag;
    this.reason.value = "";
    this.fill(this.grading.endplates);
    this.setMode();
    this.status.textContent = `Amended: version ${previous} → ${this.grading.version}.`;
    if (history) await this.loadHistory();
  }

  async handleFailure(error) {
    if (error.status === 422) {
      this.showErrors(error);
    } else if (error.status === 412) {
      await this.showConflict();
    } else if (error.status === 409 && this.read) {
      this.message.textContent = `Not saved: ${error.message}`;
    } else if (error.status === 409 && error.body.existing_id) {
      const mine = this.values();
      await this.loadGrading(error.body.existing_id);
      this.fill(mine);
      this.message.textContent =
        "You had already graded this study (perhaps in another window). That grading is loaded; your entries are kept: give a reason to amend it.";
    } else if (error.status === 403) {
      this.message.textContent = `Not allowed: ${error.message}`;
    } else if (error.status !== 401) {
      this.message.textContent = `Not saved: ${error.message}`;
    }
  }

  // 412: someone amended the grading after it was loaded here. Shows both versions side by side.
  async showConflict() {
    const mine = this.values();
    const amendedVersion = this.grading.version;
    const answer = await get(`/gradings/${encodeURIComponent(this.grading.id)}`);
    const current = answer.body;
    const items = await this.loadHistory();
    const latest = items[items.length - 1];
    this.conflictState = { mine, current, etag: answer.etag, reason: this.reason.value };
    const by = latest ? `${latest.rater} saved version ${current.version} at ${formatTime(latest.at)}` : `version ${current.version} was saved`;
    const why = latest?.reason ? ` (reason: “${latest.reason}”)` : "";
    this.root.querySelector("#conflict-text").textContent =
      `Someone else changed this grading while you were editing it: you were amending version ${amendedVersion}, ` +
      `but ${by}${why}. Your amendment was NOT saved. Compare the two versions below, then choose.`;
    this.root.querySelector("#conflict-current-head").textContent = `Current (version ${current.version})`;
    const tbody = this.root.querySelector("#conflict-table tbody");
    tbody.replaceChildren();
    for (const endplate of ENDPLATES) {
      const differs = !sameValue(mine[endplate], current.endplates[endplate]);
      const tr = newElement("tr", undefined, differs ? { class: "differs" } : {});
      tr.append(newElement("th", endplate, { scope: "row" }), newElement("td", describe(mine[endplate])), newElement("td", describe(current.endplates[endplate])));
      tbody.append(tr);
    }
    this.message.textContent = "Not saved: someone else changed this grading. See below.";
    this.conflict.hidden = false;
    this.conflict.scrollIntoView({ block: "nearest" });
    this.root.querySelector("#conflict-keep-mine").focus();
  }

  keepMine() {
    const state = this.conflictState;
    if (!state) return;
    this.grading = state.current;
    this.etag = state.etag;
    this.fill(state.mine);
    this.reason.value = state.reason;
    this.setMode();
    this.conflict.hidden = true;
    this.status.textContent = `Your values are kept. Submitting will amend the current version ${state.current.version}.`;
    this.submitButton.focus();
  }

  takeCurrent() {
    const state = this.conflictState;
    if (!state) return;
    this.grading = state.current;
    this.etag = state.etag;
    this.reason.value = "";
    this.fill(state.current.endplates);
    this.setMode();
    this.conflict.hidden = true;
    this.status.textContent = `Loaded the current version ${state.current.version}; your changes were discarded.`;
  }
}
