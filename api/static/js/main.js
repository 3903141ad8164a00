// The workstation's entry point: sign-in, routing (#/ worklist, #/study/<id>) and the study page.

import { ApiError, clearToken, get, getToken, setToken, setUnauthorizedHandler } from "./api.js";
import { ClinicalGrading } from "./clinical-grading.js";
import { EndplateForm } from "./endplate-form.js";
import { LevelTool } from "./levels.js";
import { MeasureTool } from "./measure.js";
import { NextStudy } from "./next.js";
import { PriorStudy } from "./prior.js";
import { ReliabilityRead } from "./reliability-read.js";
import { Viewer } from "./viewer.js";
import { Worklist, nextCase } from "./worklist.js";

const $ = (selector) => document.querySelector(selector);
const views = ["#signin-view", "#worklist-view", "#study-view"];

const viewer = new Viewer($("#viewer"));
// One grading form, taken in turn by a clinical grading of a study and by a blinded reliability read.
const form = new EndplateForm($("#grading"));
const clinicalGrading = new ClinicalGrading(form, $("#grading"));
const reliabilityRead = new ReliabilityRead(form);
const worklist = new Worklist($("#worklist-view"));
form.onSliceKey = (event) => viewer.handleKey(event, { anywhere: true });

// The image tools and the form: level labels and measurements go with the grading.
const levels = new LevelTool(viewer, form, $("#levels-tool"), $("#tool-status"));
const measure = new MeasureTool(viewer, form, $("#measure-tool"), $("#tool-status"));
levels.onStart = () => measure.stop();
measure.onStart = () => levels.stop();
viewer.onOverlay = () => {
  levels.draw();
  measure.draw();
};
viewer.onImageClick = (pane, at) => levels.pick(pane, at);
form.onRowFocus = (endplate) => levels.highlight(endplate);
clinicalGrading.extraBody = () => ({ levels: levels.levels, measurements: measure.measurements });
reliabilityRead.seriesViewed = () => viewer.seriesViewed();
clinicalGrading.onGradingLoaded = (saved) => {
  levels.set(saved?.levels);
  measure.set(saved?.measurements);
};

// Submit and open next, with the next study prefetched while this one is read.
const nextStudy = new NextStudy();
const prior = new PriorStudy($("#prior"), $("#prior-toggle"));
let pendingMessage = "";
viewer.onFirstImages = (study) => {
  if (document.body.dataset.blinded === "false" && study?.id) {
    nextStudy.prepare(study.id);
    prior.load(study);
  }
};
clinicalGrading.onSubmitAndNext = async (study) => {
  const next = await nextStudy.after(study.id);
  if (next) {
    location.hash = `#/study/${encodeURIComponent(next.id)}`;
  } else {
    pendingMessage = "Saved. Nothing else awaits your grading.";
    location.hash = "#/";
  }
};

let me = null;

function showView(id) {
  for (const view of views) $(view).hidden = view !== id;
  document.body.dataset.view = id.slice(1);
}

function say(text) {
  const message = $("#page-message");
  message.textContent = text;
  message.hidden = !text;
}

function signOut(reason = "") {
  clearToken();
  me = null;
  viewer.close();
  $("#who").hidden = true;
  $("#token-input").value = "";
  $("#signin-error").textContent = reason;
  showView("#signin-view");
  $("#token-input").focus();
}

setUnauthorizedHandler(() => signOut("The service rejected your token (it may have been revoked). Sign in again."));

async function signIn(token) {
  setToken(token);
  try {
    me = (await get("/me")).body;
  } catch (error) {
    clearToken();
    throw error;
  }
  $("#who-name").textContent = `${me.name} (${me.role})`;
  $("#who").hidden = false;
  clinicalGrading.me = me;
}

// The image tools keep what they mark with a clinical grading; a blinded read has none of them.
function showTools(shown) {
  $("#levels-tool").hidden = !shown;
  $("#measure-tool").hidden = !shown;
}

function clearStudyHeader(title) {
  worklist.clear();
  $("#study-title").textContent = title;
  $("#study-meta").textContent = "";
  $("#study-warnings").replaceChildren();
  $("#read-next").replaceChildren();
  $("#read-next").hidden = true;
}

// A blinded reliability read: the case label, its two series and the form; nothing that
// identifies the patient or the study (no pseudonym, date, field strength or warnings).
async function openRead(studyId, label) {
  showView("#study-view");
  document.body.dataset.blinded = "true";
  showTools(false);
  clearStudyHeader("Loading case…");
  const path = `/reliability-studies/${encodeURIComponent(studyId)}/worklist/${encodeURIComponent(label)}`;
  const caseView = (await get(path)).body;
  // The case's stacks are reached only through the case: no registry series id, no window.
  const series = Object.entries(caseView.images).map(([role, stack]) => ({
    id: `${caseView.case}/${role}`,
    description: "blinded case",
    plane: "sagittal",
    weighting: role === "stir" ? "STIR" : role.toUpperCase(),
    slices: stack.slices,
    window: null,
    sliceUrl: stack.slice_url,
  }));
  const roleId = (role) => (caseView.images[role] ? `${caseView.case}/${role}` : null);
  $("#study-title").textContent = `Case ${caseView.case}`;
  $("#study-meta").textContent = `Blinded reliability read ${caseView.read} · position ${caseView.position} in your order`;
  document.title = `Case ${caseView.case} · Modic workstation`;
  viewer.prefetched = null;
  viewer.open({ series, grading_series: { t1: roleId("t1"), t2: roleId("t2"), stir: roleId("stir") } });
  await reliabilityRead.open(studyId, caseView);
}

reliabilityRead.onReadSaved = async (read) => {
  const next = await nextCase(read.studyId);
  const box = $("#read-next");
  box.replaceChildren();
  if (next) {
    const link = document.createElement("a");
    link.href = `#/read/${encodeURIComponent(read.studyId)}/${encodeURIComponent(next)}`;
    link.textContent = `Next case: ${next}`;
    box.append("Saved. ", link);
  } else {
    const link = document.createElement("a");
    link.href = "#/";
    link.textContent = "Back to the worklist";
    box.append("Saved. This was the last case of this read. ", link);
  }
  box.hidden = false;
};

async function openStudy(studyId) {
  showView("#study-view");
  document.body.dataset.blinded = "false";
  showTools(true);
  clearStudyHeader("Loading study…");
  const prefetched = nextStudy.take(studyId);
  const study = prefetched?.study ?? (await get(`/studies/${encodeURIComponent(studyId)}`)).body;
  if (prefetched) {
    // the series' windows and geometry were fetched with the images
    for (const series of study.series) {
      const info = prefetched.infos.get(series.id);
      const body = info ? await info.catch(() => null) : null;
      if (body) Object.assign(series, { window: body.window, geometry: body.geometry });
    }
  }
  clinicalGrading.prefetchedGradings = (id) => (prefetched && id === study.id ? prefetched.gradings : null);
  $("#study-title").textContent = `Patient ${study.patient.pseudonym}`;
  const field = study.field_strength_t === null ? "field strength unknown" : `${study.field_strength_t} T`;
  $("#study-meta").textContent = `Study of ${study.study_date ?? "unknown date"} · ${field} · ${study.series.length} series`;
  for (const warning of study.warnings) {
    const li = document.createElement("li");
    li.textContent = warning;
    $("#study-warnings").append(li);
  }
  document.title = `${study.patient.pseudonym} · Modic workstation`;
  viewer.prefetched = prefetched;
  viewer.open(study);
  await clinicalGrading.open(study);
}

async function route() {
  say(pendingMessage);
  pendingMessage = "";
  levels.stop();
  measure.stop();
  prior.close();
  if (!getToken()) {
    showView("#signin-view");
    $("#token-input").focus();
    return;
  }
  const signedIn = me ? Promise.resolve() : signIn(getToken());
  const match = location.hash.match(/^#\/study\/([^/]+)$/);
  const read = location.hash.match(/^#\/read\/([^/]+)\/([^/]+)$/);
  try {
    if (match) {
      // The study's images load while the token is checked: both must succeed.
      await Promise.all([signedIn, openStudy(decodeURIComponent(match[1]))]);
    } else if (read) {
      await Promise.all([signedIn, openRead(decodeURIComponent(read[1]), decodeURIComponent(read[2]))]);
    } else {
      await signedIn;
      if (me.role !== "radiologist" && me.role !== "admin") {
        showView("#signin-view");
        say(`This workstation is for radiologists; you are signed in as ${me.name} with the role ${me.role}.`);
        return;
      }
      viewer.close();
      document.title = "Worklist · Modic workstation";
      showView("#worklist-view");
      await worklist.load(me);
    }
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (error.status === 401) return;
    say(`Could not load: ${error.message}`);
    if (match || read) $("#study-title").textContent = match ? "Study not available" : "Case not available";
  }
}

$("#signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const token = $("#token-input").value.trim();
  if (!token) {
    $("#signin-error").textContent = "Paste your API token.";
    return;
  }
  $("#signin-error").textContent = "";
  try {
    await signIn(token);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    $("#signin-error").textContent =
      error.status === 401 ? "This token is not valid. Check that you pasted the whole token." : error.message;
    showView("#signin-view");
    return;
  }
  $("#token-input").value = "";
  await route();
});

$("#sign-out").addEventListener("click", () => {
  location.hash = "#/";
  signOut();
});

document.addEventListener("keydown", (event) => {
  if (document.body.dataset.view !== "study-view" || event.defaultPrevented) return;
  const tools = document.body.dataset.blinded === "false";
  if (tools && event.altKey && !event.ctrlKey && (event.code === "KeyL" || event.code === "KeyM")) {
    event.preventDefault();
    const tool = event.code === "KeyL" ? levels : measure;
    tool.start();
    return;
  }
  if (event.key === "Escape" && viewer.tool) {
    levels.stop();
    measure.stop();
    return;
  }
  if (event.target.closest?.("#grading-form, .stage")) return;
  if (viewer.handleKey(event, { anywhere: true })) event.preventDefault();
});

window.addEventListener("hashchange", () => route());
route().catch((error) => {
  if (error instanceof ApiError) signOut(error.status === 401 ? "Sign in again." : error.message);
  else throw error;
});
