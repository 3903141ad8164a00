// "Submit and open next": the next study awaiting my grading is looked up and its first images,
// series geometry and gradings are fetched while the current study is read, so that it opens at once.

import { fetchImageUrl, get } from "./api.js";

export class NextStudy {
  constructor() {
    this.entry = null;
  }

  // Looks up the study after `currentId` and starts fetching what opening it needs.
  async prepare(currentId) {
    this.discard();
    const entry = { after: currentId, study: undefined, images: new Map(), infos: new Map(), gradings: null };
    this.entry = entry;
    let study = null;
    try {
      study = (await get(`/studies/awaiting/next?after=${encodeURIComponent(currentId)}`)).body.study;
    } catch {
      study = undefined; // looked up again when needed
    }
    if (this.entry !== entry) return;
    entry.study = study;
    if (!study) return;
    for (const role of ["t1", "t2"]) {
      const series = study.series.find((s) => s.id === study.grading_series[role]);
      if (!series || !series.slices) continue;
      const path = `/series/${encodeURIComponent(series.id)}`;
      const info = get(path).then((r) => r.body);
      info.catch(() => {});
      entry.infos.set(series.id, info);
      const middle = Math.floor((series.slices - 1) / 2);
      const image = fetchImageUrl(`${path}/slices/${middle}.png`);
      image.catch(() => {});
      entry.images.set(`${series.id}/${middle}`, image);
    }
    entry.gradings = get(`/studies/${encodeURIComponent(study.id)}/gradings`);
    entry.gradings.catch(() => {});
  }

  // The study that follows `currentId`: prefetched, or looked up now; null when nothing awaits.
  async after(currentId) {
    if (this.entry?.after === currentId && this.entry.study !== undefined) return this.entry.study;
    return (await get(`/studies/awaiting/next?after=${encodeURIComponent(currentId)}`)).body.study;
  }

  // What was fetched for `studyId`, handed over once (the images then belong to the viewer).
  take(studyId) {
    const entry = this.entry;
    if (!entry?.study || entry.study.id !== studyId) return null;
    this.entry = null;
    return {
      study: entry.study,
      gradings: entry.gradings,
      infos: entry.infos,
      take: (key) => {
        const image = entry.images.get(key);
        entry.images.delete(key);
        return image;
      },
      has: (key) => entry.images.has(key),
    };
  }

  discard() {
    for (const image of this.entry?.images.values() ?? []) image.then((r) => URL.revokeObjectURL(r.url), () => {});
    this.entry = null;
  }
}
