// The Nordic grading form as a widget: 11 endplate rows with keyboard-first entry, the reason box of
// an amendment, the field errors of a 422, and its buttons. What a submission does is the business
// of the controller the form is attached to: a clinical grading of a study (clinical-grading.js) or
// a blinded reliability-study read (reliability-read.js).

import { ApiError } from "./api.js";
import { newElement, option } from "./dom.js";
import { ProtocolForm } from "./protocol.js";
import { ENDPLATES, SIZES, TYPES, endplateName, sameValue, sizeForExtension, sizeForKey, typeForKey } from "./vocab.js";

const FIELD_CONTROL = { type: "type", size: "size", extension_pct: "ext", endplate: "type" };

function typeSelect(endplate, errorId) {
  const type = newElement("select", undefined, {
    id: `type-${endplate}`,
    "aria-label": `${endplate} type`,
    "aria-describedby": errorId,
    "data-field": "type",
  });
  type.append(option("", "—"));
  for (const t of TYPES) type.append(option(t.value, `${t.value}  [${t.key}]`));
  return type;
}

function sizeSelect(endplate, errorId) {
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
  return size;
}

function extensionInput(endplate, errorId) {
  return newElement("input", undefined, {
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
}

export class EndplateForm {
  constructor(root) {
    this.root = root;
    this.form = root.querySelector("#grading-form");
    this.tbody = root.querySelector("#grading-rows");
    this.status = root.querySelector("#grading-status");
    this.message = root.querySelector("#form-message");
    this.reasonBox = root.querySelector("#reason-box");
    this.reason = root.querySelector("#amend-reason");
    this.reasonError = root.querySelector("#reason-error");
    this.submitButton = root.querySelector("#submit-grading");
    this.nextButton = root.querySelector("#submit-next");
    this.revertButton = root.querySelector("#revert-grading");
    this.rows = new Map();
    // The saved endplates the rows are compared with (changed rows, "Discard my changes").
    this.saved = null;
    // The clinical grading or the reliability read that the form's submissions go to.
    this.controller = null;
    this.busy = false;
    this.activeEndplate = null;
    this.onSliceKey = () => false;
    this.onRowFocus = () => {};
    this.tbody.addEventListener("focusin", (event) => {
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
    this.nextButton.addEventListener("click", () => this.submit({ next: true }));
    this.form.addEventListener("keydown", (event) => this.handleKey(event));
    this.revertButton.addEventListener("click", () => this.fill(this.saved));
  }

  // Hands the form to a controller; the one that had it lets go of what it showed.
  attach(controller) {
    if (this.controller !== controller) this.controller?.release();
    this.controller = controller;
  }

  submit(options = {}) {
    return this.controller?.submit(options);
  }

  // Runs one submission with the errors cleared and the buttons disabled meanwhile; an API error
  // goes to `onFailure`. True when `save` succeeded.
  async submitWith(save, onFailure) {
    if (this.busy) return false;
    this.clearErrors();
    this.busy = true;
    this.setButtonsDisabled(true);
    try {
      await save();
      return true;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      await onFailure(error);
      return false;
    } finally {
      this.busy = false;
      this.setButtonsDisabled(false);
    }
  }

  setButtonsDisabled(disabled) {
    this.submitButton.disabled = disabled;
    this.nextButton.disabled = disabled;
  }

  buildRow(endplate) {
    const row = newElement("tr", undefined, { "data-endplate": endplate });
    const errorId = `error-${endplate}`;
    row.append(newElement("th", undefined, { scope: "row" }));
    row.firstChild.append(newElement("span", endplateName(endplate), { class: "ep-name" }), newElement("code", endplate));
    const type = typeSelect(endplate, errorId);
    const size = sizeSelect(endplate, errorId);
    const ext = extensionInput(endplate, errorId);
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
    this.tbody.append(row, errorRow);
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
    const saved = this.saved?.[endplate];
    r.row.classList.toggle("changed", Boolean(saved) && !sameValue(saved, this.valueOf(endplate)));
    r.row.classList.toggle("filled", unread || (r.type.value !== "" && (r.type.value === "none" || r.size.value !== "" || r.ext.value !== "")));
    if (this.saved) this.revertButton.hidden = !this.isChanged();
  }

  isChanged() {
    return ENDPLATES.some((e) => !sameValue(this.saved[e], this.valueOf(e)));
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
    if (had && !this.tbody.querySelector("tr.invalid") && !this.reasonError.textContent) this.message.textContent = "";
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

  // What a refused submission shows: a 422 on its rows, a 403 as not allowed, anything else but a
  // 401 (which signs out) as not saved.
  showFailure(error) {
    if (error.status === 422) this.showErrors(error);
    else if (error.status === 403) this.message.textContent = `Not allowed: ${error.message}`;
    else if (error.status !== 401) this.message.textContent = `Not saved: ${error.message}`;
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

  // How the form stands: its mode (new, amend, read, read-done), status line and buttons; a locked
  // form (a submitted read) takes no entry. "Submit and open next" shows when it is labelled.
  showMode({ mode, status, submitLabel, nextLabel = null, amending = false, locked = false }) {
    this.root.dataset.mode = mode;
    this.status.textContent = status;
    this.submitButton.textContent = submitLabel;
    this.submitButton.hidden = locked;
    this.nextButton.hidden = nextLabel === null;
    if (nextLabel !== null) this.nextButton.textContent = nextLabel;
    this.reasonBox.hidden = !amending;
    this.setLocked(locked);
    this.revertButton.hidden = !amending || !this.isChanged();
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

  // An empty form: no saved values, no reason, every row open.
  reset() {
    this.saved = null;
    this.reason.value = "";
    this.setLocked(false);
    this.fill(null);
  }
}
